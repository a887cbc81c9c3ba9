import { type DataSource, MigrationExecutor } from 'typeorm';

// Arbitrary constant key: every reco process contends on the same advisory lock.
const MIGRATION_LOCK_KEY = 7_202_611_27;

/**
 * Apply pending migrations inside a session-level PostgreSQL advisory lock, so replicas can start
 * together: the first applies, the others wait and then find nothing to do. Returns the names applied.
 */
export async function runMigrationsLocked(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      // On the lock's own connection: the embedded database has a pool of one.
      const executor = new MigrationExecutor(dataSource, runner);
      executor.transaction = 'each';
      const applied = await executor.executePendingMigrations();
      return applied.map((m) => m.name);
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await runner.release();
  }
}
