import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { createRecoApp, type RecoApp } from '../../src/app';
import { loadConfig } from '../../src/config/config';
import { createTestDatabase, type TestDatabase } from './db';

export interface TestApp {
  readonly reco: RecoApp;
  readonly db: TestDatabase;
  readonly http: TestAgent;
  /** Close and drop the database. */
  close(): Promise<void>;
  /** Close but keep the database (to start again on it). */
  stop(): Promise<void>;
}

/** The real application on a fresh PostgreSQL database, over real HTTP (supertest on the Nest server). */
export async function startTestApp(
  env: Record<string, string> = {},
  existing?: TestDatabase,
): Promise<TestApp> {
  const db = existing ?? (await createTestDatabase());
  const config = loadConfig({ DATABASE_URL: db.url, LOG_LEVEL: 'warn', PORT: '0', ...env });
  const reco = await createRecoApp(config);
  return {
    reco,
    db,
    http: request(reco.app.getHttpServer()),
    async close() {
      await reco.close();
      await db.drop();
    },
    async stop() {
      await reco.close();
    },
  };
}
