import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { AppConfig } from '../config/config';

/**
 * Whether the database takes `COPY ... FROM STDIN`: an external PostgreSQL does; the embedded PGlite's wire protocol
 * has none (the session ends with "protocol synchronization was lost"), so its writers take an INSERT instead.
 */
export function hasCopyFromStdin(database: AppConfig['database'] | undefined): boolean {
  return database?.mode === 'external';
}

/**
 * Run `sql`, a `COPY ... FROM STDIN`, on `client` with `data` as its input, written in order as given (one socket
 * write a piece: pass few, large pieces). Resolves once the server has taken it all; rejects with its error (the
 * statement then changed nothing).
 */
export function copyIn(client: PoolClient, sql: string, data: readonly (string | Buffer)[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const stream = client.query(copyFrom(sql));
    stream.on('finish', resolve);
    stream.on('error', reject);
    for (let k = 0; k + 1 < data.length; k++) stream.write(data[k]);
    stream.end(data[data.length - 1]);
  });
}
