import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../../src/config/config';
import { createDataSource } from '../../src/database/data-source';
import { runMigrationsLocked } from '../../src/database/migrate';
import type { Impression } from '../../src/modules/slates/impression';
import { copyLine, TypeOrmImpressionsRepository } from '../../src/modules/slates/impressions.repository';
import { createTestDatabase, type TestDatabase } from '../setup/db';

/** Strings COPY's text format must escape, and some it must not touch. */
const AWKWARD = ['tab\there', 'new\nline', 'cr\rhere', 'back\\slash', '\\N', '\\.', 'quote"s', 'é 😀 \u2028'];

function impression(k: number, over: Partial<Impression> = {}): Impression {
  const odd = AWKWARD[k % AWKWARD.length];
  return {
    slateId: randomUUID(),
    userId: `user ${odd}`,
    servedAt: new Date(Date.UTC(2026, 11, 6, 12, 0, 0, k)),
    policy: { name: 'in_slate_ts', propensitySlates: 256 },
    seed: 4_000_000_000 + k,
    modelVersion: `v${k} ${odd}`,
    experiment: k % 2 ? { key: `exp ${odd}`, variant: `b ${odd}` } : null,
    context: k % 3 ? { page: odd, nested: { list: [1, 'two', null, odd] } } : null,
    requestedSize: 3,
    propensityKind: 'monte_carlo',
    simulatedSlates: 257,
    items: [0, 1, 2].map((j) => ({
      itemId: `item ${j} ${odd}`,
      position: j + 1,
      score: 0.1 * k - j / 3,
      propensity: 1 / (3 + j + k),
      inSlateProbability: 0.5 + 1 / (7 + j),
    })),
    ...over,
  };
}

describe('the impression log in PostgreSQL (TypeOrmImpressionsRepository)', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const repo = (mode: 'external' | 'embedded'): TypeOrmImpressionsRepository =>
    new TypeOrmImpressionsRepository(ds, { database: { mode } } as AppConfig);

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = createDataSource({ url: db.url, poolSize: 2 });
    await ds.initialize();
    await runMigrationsLocked(ds);
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it.each(['external', 'embedded'] as const)(
    'stores a batch and reads every field back as it was served (%s: COPY or INSERT)',
    async (mode) => {
      const batch = AWKWARD.map((_, k) => impression(k));
      await repo(mode).insertMany(batch);
      for (const i of batch) expect(await repo(mode).findById(i.slateId)).toEqual(i);
    },
  );

  it('stores through COPY exactly what the INSERT stores (every column, as PostgreSQL has it)', async () => {
    const a = AWKWARD.map((_, k) => impression(k));
    const b = a.map((i) => ({ ...i, slateId: randomUUID() }));
    await repo('external').insertMany(a);
    await repo('embedded').insertMany(b);
    const row = async (id: string): Promise<unknown> =>
      (
        await ds.query(
          `SELECT user_id, served_at, policy::text, seed, model_version, experiment_key, variant, context::text,
                  requested_size, propensity_kind, simulated_slates, items::text FROM slates WHERE id = $1`,
          [id],
        )
      )[0];
    for (let k = 0; k < a.length; k++) {
      const copied = await row(a[k].slateId);
      expect(copied).toBeDefined();
      expect(copied).toEqual(await row(b[k].slateId));
    }
  });

  it('writes one line per slate, escaping what COPY reads as syntax', () => {
    const i = impression(0, { userId: 'a\tb\\c\nd', context: { s: 'x\\y' } });
    const line = copyLine(i);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toMatch(/[\n\r]/);
    const cols = line.slice(0, -1).split('\t');
    expect(cols).toHaveLength(13);
    expect(cols[1]).toBe('a\\tb\\\\c\\nd');
    expect(cols[6]).toBe('\\N'); // no experiment: NULL
    expect(cols[8]).toBe('{"s":"x\\\\\\\\y"}'); // JSON's own backslash, doubled
  });

  it('skips a stored slate in a batch and stores the rest (COPY refuses the batch, the INSERT takes it)', async () => {
    const stored = impression(1);
    await repo('external').insertMany([stored, impression(2)]);
    const fresh = [impression(3), impression(4)];
    await repo('external').insertMany([fresh[0], stored, fresh[1]]);
    for (const i of fresh) expect(await repo('external').findById(i.slateId)).toEqual(i);
    const n: { n: number }[] = await ds.query(`SELECT count(*)::int AS n FROM slates WHERE id = $1`, [
      stored.slateId,
    ]);
    expect(n[0].n).toBe(1);
    // What the INSERT fallback stands in for: COPY alone refuses such a batch whole.
    const copied = impression(5);
    const copyOnly = repo('external') as unknown as { copyRows(b: Impression[]): Promise<void> };
    await expect(copyOnly.copyRows([copied, stored])).rejects.toMatchObject({ code: '23505' });
    expect(await repo('external').findById(copied.slateId)).toBeNull();
  });

  it('refuses a row PostgreSQL cannot take with a data error (class 22) on both paths', async () => {
    // jsonb has no \u0000: the same refusal through COPY and INSERT, so the log service drops just that row.
    const bad = impression(4, { context: { nul: 'a\u0000b' } });
    await expect(repo('external').insertMany([impression(5), bad])).rejects.toMatchObject({
      code: expect.stringMatching(/^22/),
    });
    await expect(repo('embedded').insertMany([bad])).rejects.toMatchObject({
      code: expect.stringMatching(/^22/),
    });
  });
});
