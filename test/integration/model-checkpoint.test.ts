import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import {
  encodeModel,
  encodeModelPages,
  FactorModel,
  itemIdPageNumber,
  itemIdPageOf,
  type ModelPages,
  PAGE_ITEMS,
} from '../../src/core/model';
import type { AppConfig } from '../../src/config/config';
import { createDataSource } from '../../src/database/data-source';
import { runMigrationsLocked } from '../../src/database/migrate';
import { ModelStateRepository } from '../../src/modules/model/model-state.repository';
import { readNewestModel } from '../../src/replay/reco-db-log';
import { createTestDatabase, type TestDatabase } from '../setup/db';

/**
 * Checkpoints in PostgreSQL with users and item ids in pages of their own: users written when a user changed, ids
 * when items were added, read back with the newest row of every page, old rows dropped once no kept snapshot
 * needs them; a format 3 snapshot (ids in its head) is read, and its ids are written as pages at the next one.
 */
// Pages written by INSERT (the embedded database's way) and by binary COPY (an external PostgreSQL's): the same
// tests, on this real PostgreSQL.
describe.each([
  ['INSERT', undefined],
  ['COPY (binary)', { database: { mode: 'external' } } as Pick<AppConfig, 'database'>],
] as const)(
  'model checkpoints with user and item id pages (ModelStateRepository, snapshotModel), pages by %s',
  (_, config) => {
    let db: TestDatabase;
    let ds: DataSource;
    let repo: ModelStateRepository;

    beforeAll(async () => {
      db = await createTestDatabase();
      ds = createDataSource({ url: db.url, poolSize: 2 });
      await ds.initialize();
      await runMigrationsLocked(ds);
      repo = new ModelStateRepository(ds, config);
    });
    afterAll(async () => {
      await ds?.destroy();
      await db?.drop();
    });

    /** Store a checkpoint's head and pages as the one after batch `batch`. */
    const store = (cp: ModelPages, batch: number): Promise<void> =>
      repo.writeCheckpoint(
        batch,
        cp.head,
        [...cp.pages, ...cp.userPages, ...cp.itemIdPages],
        { from: batch + 1 },
        24,
        cp.gap,
      );

    /** A checkpoint of m's changes as batch `batch` (pages of the given sizes), read back whole and compared. */
    async function writeAndReadBack(
      m: FactorModel,
      batch: number,
      pageItems: number,
      pageUsers: number,
      pageItemIds: number | undefined,
      gap = repo.pageGap,
    ): Promise<ModelPages> {
      const cp = encodeModelPages(m, 'changed', { pageItems, pageUsers, pageItemIds, gap });
      await store(cp, batch);
      const back = (await repo.latestSnapshot())!;
      expect(back.lastBatchId).toBe(batch);
      // Bit for bit (Buffer.equals: jest's toEqual walks megabytes byte by byte, ≈ 10 s).
      const [got, want] = [Buffer.from(encodeModel(back.model)), Buffer.from(encodeModel(m))];
      expect(got.length).toBe(want.length);
      expect(got.equals(want)).toBe(true);
      expect(back.model.itemIds).toEqual(m.itemIds);
      return cp;
    }

    it('writes the users when they change, reads them back from older rows otherwise, and prunes what no snapshot needs', async () => {
      const m = FactorModel.create(
        { dim: 3 },
        {
          items: Array.from({ length: 6 }, (_, i) => ({ id: `i${i}` })),
          users: ['a', 'b', 'c', 'd', 'e'],
        },
      );
      for (let u = 0; u < 5; u++) m.setUserVector(u, [u, -u / 2, 1 + u / 4]);
      let batch = 0;
      // One user a page: five user pages, read over two queries.
      const checkpoint = async (): Promise<number[]> =>
        (await writeAndReadBack(m, ++batch, PAGE_ITEMS, 1, undefined)).userPages.map((p) => p.page);
      const rowsOf = async (page: number): Promise<number> =>
        (
          (await ds.query(`SELECT count(*)::int AS n FROM model_pages WHERE page = $1`, [page])) as {
            n: number;
          }[]
        )[0].n;

      expect(await checkpoint()).toEqual([-1, -2, -3, -4, -5]);
      // Learning changes items, never users: the users come from the first checkpoint's rows.
      m.stats.add(2, Float64Array.of(1, 0.5, -1), 0, 1, 1);
      m.markDirty(2);
      expect(await checkpoint()).toEqual([]);
      expect(await checkpoint()).toEqual([]);
      expect(await checkpoint()).toEqual([]);
      expect(await rowsOf(-3)).toBe(1);
      // A batch training's new vectors: every user page again; the old rows go once no kept snapshot reads them.
      m.setUserVector(2, [9, 8, 7]);
      m.addUser('f', [0.5, 0.5, 0.5]);
      expect(await checkpoint()).toEqual([-1, -2, -3, -4, -5, -6]);
      expect(await rowsOf(-3)).toBe(2); // the previous snapshot (kept) still reads the old one
      expect(await checkpoint()).toEqual([]);
      expect(await rowsOf(-3)).toBe(1);
      expect(Array.from((await repo.latestSnapshot())!.model.userVector(2))).toEqual([9, 8, 7]);
    });

    // With room for the COPY's row headers before each page (the service's way: runs of pages sent from the
    // checkpoint's buffer, at most 16 MB a run: 4,000 pages take two), and without (a header and the page as two pieces).
    it.each([
      ['with', undefined, 4000],
      ['without', 0, 400],
    ])(
      'stores pages over a megabyte and hundreds of pages, bit for bit (%s room for row headers)',
      async (_, gap, items) => {
        // d = 32: ≈ 4.5 KB an item page (18 or 1.8 MB), and users in pages of 8,000 (one page over 1 MB).
        const d = 32;
        const m = FactorModel.create(
          { dim: d },
          {
            items: Array.from({ length: items }, (_, i) => ({ id: `big-${i}` })),
            users: Array.from({ length: 10_000 }, (_, u) => `user-${u}`),
          },
        );
        const x = new Float64Array(d);
        for (let i = 0; i < items; i++) {
          for (let j = 0; j < d; j++) x[j] = Math.sin(i * 31 + j);
          m.stats.add(i, x, 0, (i % 7) / 7, 1);
          m.markDirty(i);
        }
        for (let u = 0; u < 10_000; u += 997)
          m.setUserVector(
            u,
            Array.from({ length: d }, (_, j) => u / 1000 - j),
          );
        const cp = await writeAndReadBack(
          m,
          gap === undefined ? 1000 : 1001,
          PAGE_ITEMS,
          8_000,
          undefined,
          gap,
        );
        expect(cp.pages.length).toBe(items);
        expect(cp.userPages.length).toBe(2);
        expect(cp.gap).toBe(gap ?? repo.pageGap);
      },
    );

    it('reads the newest snapshot by number, also across a power of ten (#9 and #10: as text, "9" > "10")', async () => {
      await ds.query(`TRUNCATE model_snapshots, model_pages`);
      await ds.query(`SELECT setval('model_snapshots_id_seq', 8)`); // the next two are #9 and #10
      const m = FactorModel.create({ dim: 2 }, { items: [{ id: 'a' }], users: [] });
      for (const batch of [1, 2]) {
        m.version = `v${batch}`;
        await store(encodeModelPages(m, 'all'), batch);
      }
      const ids = (await ds.query(`SELECT id::int AS id FROM model_snapshots ORDER BY 1`)) as {
        id: number;
      }[];
      expect(ids.map((r) => r.id)).toEqual([9, 10]);
      // Recovery: an older snapshot would replay from a log whose later batches #10 already dropped.
      const latest = (await repo.latestSnapshot())!;
      expect(latest.lastBatchId).toBe(2);
      expect(latest.model.version).toBe('v2');
      // Replay's --model-from-db.
      const newest = await readNewestModel(ds);
      expect(newest.source).toMatch(/^model_snapshots #10 /);
    });

    it('writes item ids only for new items, over several queries, and upgrades a format 3 snapshot', async () => {
      await ds.query(`TRUNCATE model_snapshots, model_pages`);
      // A format 3 snapshot as an older build stored it: its head (ids inside), its user and item pages.
      const f = JSON.parse(
        readFileSync(join(__dirname, '../../src/core/model/fixtures/paged-v3.json'), 'utf8'),
      ) as { head: string; pages: { page: number; bytes: string }[]; encodeModel: string };
      await ds.query(
        `INSERT INTO model_snapshots (last_batch_id, format_version, payload, joins_from) VALUES (1, 3, $1, 2)`,
        [Buffer.from(f.head, 'base64')],
      );
      for (const p of f.pages)
        await ds.query(
          `INSERT INTO model_pages (page, snapshot_id, bytes) SELECT $1, max(id), $2 FROM model_snapshots`,
          [p.page, Buffer.from(p.bytes, 'base64')],
        );
      const old = (await repo.latestSnapshot())!;
      expect(Buffer.from(encodeModel(old.model))).toEqual(Buffer.from(f.encodeModel, 'base64'));
      const m = old.model;
      let batch = 1;
      // One id a page: 7 pages at first, then 20 (read over two queries of 16 pages).
      const checkpoint = async (): Promise<number[]> =>
        (await writeAndReadBack(m, ++batch, 2, 2, 1)).itemIdPages.map((p) => itemIdPageOf(p.page));
      expect(await checkpoint()).toEqual([0, 1, 2, 3, 4, 5, 6]); // the upgrade: every id, once
      expect(await checkpoint()).toEqual([]);
      for (let i = 7; i < 20; i++) m.addItem(`new-${i}`, 'g1');
      expect(await checkpoint()).toEqual(Array.from({ length: 13 }, (_, j) => 7 + j));
      expect(await checkpoint()).toEqual([]);
      const idRows = (await ds.query(`SELECT count(*)::int AS n FROM model_pages WHERE page <= $1`, [
        itemIdPageNumber(0),
      ])) as { n: number }[];
      expect(idRows[0].n).toBe(20); // one row an id: none written twice
    });
  },
);
