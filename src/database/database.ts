import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config/config';
import { createDataSource } from './data-source';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres';

/** An initialised data source plus whatever must be stopped with it (the embedded server). */
export interface DatabaseHandle {
  readonly dataSource: DataSource;
  readonly mode: 'embedded' | 'external';
  /** Where the data lives: the embedded data directory, or the external server's host/db (no password). */
  readonly where: string;
  close(): Promise<void>;
}

export async function openDatabase(config: AppConfig['database']): Promise<DatabaseHandle> {
  let embedded: EmbeddedPostgres | undefined;
  let url: string;
  let poolSize: number;
  let where: string;
  if (config.mode === 'embedded') {
    embedded = await startEmbeddedPostgres(config.dataDir);
    url = embedded.url;
    poolSize = 1;
    where = embedded.dataDir;
  } else {
    url = config.url;
    poolSize = config.poolSize;
    where = redactUrl(config.url);
  }
  const dataSource = createDataSource({ url, poolSize });
  try {
    await dataSource.initialize();
  } catch (e) {
    await embedded?.stop();
    throw e;
  }
  return {
    dataSource,
    mode: config.mode,
    where,
    async close() {
      if (dataSource.isInitialized) await dataSource.destroy();
      await embedded?.stop();
    },
  };
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable url)';
  }
}
