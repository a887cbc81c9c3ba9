import { createDataSource } from '../../src/database/data-source';
import { runMigrationsLocked } from '../../src/database/migrate';
import { migrations } from '../../migrations';
import { createTestDatabase, type TestDatabase } from '../setup/db';

describe('migrations under an advisory lock', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('lets several replicas start together: each migration is applied exactly once', async () => {
    const sources = [0, 1, 2].map(() => createDataSource({ url: db.url, poolSize: 2 }));
    await Promise.all(sources.map((s) => s.initialize()));
    try {
      const applied = await Promise.all(sources.map((s) => runMigrationsLocked(s)));
      const all = applied.flat();
      expect(all.sort()).toEqual(migrations.map((m) => m.name).sort());
      const rows: { name: string }[] = await sources[0].query('SELECT name FROM reco_migrations');
      expect(rows).toHaveLength(migrations.length);
      const tables: { n: string }[] = await sources[0].query(
        `SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'items'`,
      );
      expect(Number(tables[0].n)).toBe(1);
    } finally {
      await Promise.all(sources.map((s) => s.destroy()));
    }
  });
});
