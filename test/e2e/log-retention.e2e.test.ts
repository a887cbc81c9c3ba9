import { randomUUID } from 'node:crypto';
import { LogRetentionService } from '../../src/modules/retention/log-retention.service';
import { LEARNING_ENV, waitFor } from '../setup/learning';
import { startTestApp, type TestApp } from '../setup/app';

const DAY = 86_400_000;

/** Served slates stored as the impression log stores them, at these times. */
async function addSlates(t: TestApp, servedAt: Date[]): Promise<string[]> {
  const ids = servedAt.map(() => randomUUID());
  await t.reco.db.dataSource.query(
    `INSERT INTO slates (id, user_id, served_at, policy, seed, model_version, requested_size, propensity_kind,
                         simulated_slates, items)
     SELECT id, 'u', at, '{"name":"random"}', 1, 'v1', 1, 'exact', 0,
            '[{"itemId":"a","position":1,"score":0,"propensity":1,"inSlateProbability":1}]'
     FROM unnest($1::uuid[], $2::timestamptz[]) AS x(id, at)`,
    [ids, servedAt.map((d) => d.toISOString())],
  );
  return ids;
}

async function addClicks(t: TestApp, rows: { id: string; ts: Date; learnedAt: Date }[]): Promise<void> {
  await t.reco.db.dataSource.query(
    `INSERT INTO clicks (event_id, user_id, item_id, ts, learned_at)
     SELECT id, 'u', 'a', ts, learned FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS x(id, ts, learned)`,
    [rows.map((r) => r.id), rows.map((r) => r.ts.toISOString()), rows.map((r) => r.learnedAt.toISOString())],
  );
}

async function remaining(t: TestApp, table: 'slates' | 'clicks', ids: string[]): Promise<string[]> {
  const key = table === 'slates' ? 'id' : 'event_id';
  const rows: { k: string }[] = await t.reco.db.dataSource.query(
    `SELECT ${key}::text AS k FROM ${table} WHERE ${key}::text = ANY($1::text[]) ORDER BY 1`,
    [ids],
  );
  return rows.map((r) => r.k);
}

async function deletedMetric(t: TestApp, table: string): Promise<number> {
  const text = (await t.http.get('/metrics')).text;
  const m = new RegExp(`^reco_log_rows_deleted_total\\{table="${table}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('LOG_RETENTION_DAYS: old served slates and clicks are deleted (real PostgreSQL)', () => {
  it('deletes slates past the retention on its own timer, and keeps the recent ones', async () => {
    const t = await startTestApp({ ...LEARNING_ENV, LOG_RETENTION_DAYS: '30' });
    try {
      const now = Date.now();
      const old = await addSlates(t, [new Date(now - 40 * DAY), new Date(now - 31 * DAY)]);
      const recent = await addSlates(t, [new Date(now - 29 * DAY), new Date(now)]);
      await waitFor(
        'the first retention pass',
        async () => (await remaining(t, 'slates', old)).length === 0,
        20_000,
      );
      expect(await remaining(t, 'slates', recent)).toEqual([...recent].sort());
      expect(await deletedMetric(t, 'slates')).toBe(2);
    } finally {
      await t.close();
    }
  });

  it('keeps a click for the dedupe horizon after it was learned, whatever its event time, and works in chunks', async () => {
    // One day of logs, a 7-day dedupe horizon (the default): clicks go 7 days after they were learned.
    const t = await startTestApp({ ...LEARNING_ENV, LOG_RETENTION_DAYS: '1' });
    try {
      const now = Date.now();
      const slates = await addSlates(
        t,
        Array.from({ length: 12 }, (_, k) => new Date(now - (2 + k) * DAY)),
      );
      const kept = await addSlates(t, [new Date(now - DAY / 2)]);
      const clicks = [
        { id: 'old', ts: new Date(now - 9 * DAY), learnedAt: new Date(now - 9 * DAY) }, // goes
        { id: 'backfilled', ts: new Date(now - 60 * DAY), learnedAt: new Date(now - 3 * DAY) }, // dedupe: kept
        { id: 'week', ts: new Date(now - 6 * DAY), learnedAt: new Date(now - 6 * DAY) }, // dedupe: kept
        { id: 'new', ts: new Date(now), learnedAt: new Date(now) },
      ];
      await addClicks(t, clicks);
      const retention = t.reco.app.get(LogRetentionService);
      const pass = await retention.prune(now, 5); // 12 slates in chunks of 5: 5, 5, 2
      expect(await remaining(t, 'slates', slates)).toEqual([]);
      expect(await remaining(t, 'slates', kept)).toEqual(kept);
      expect(
        await remaining(
          t,
          'clicks',
          clicks.map((c) => c.id),
        ),
      ).toEqual(['backfilled', 'new', 'week']);
      // The service's own first pass may have taken some of them; each row is counted once.
      expect(pass.slates).toBeLessThanOrEqual(12);
      expect(await deletedMetric(t, 'slates')).toBe(12);
      expect(await deletedMetric(t, 'clicks')).toBe(1);
      // Five days on, the backfilled click's dedupe horizon has passed too; the newest is within its own.
      await retention.prune(now + 5 * DAY, 5);
      expect(
        await remaining(
          t,
          'clicks',
          clicks.map((c) => c.id),
        ),
      ).toEqual(['new']);
    } finally {
      await t.close();
    }
  });

  it('deletes nothing with the default (0: keep everything)', async () => {
    const t = await startTestApp({ ...LEARNING_ENV });
    try {
      const old = await addSlates(t, [new Date(Date.now() - 4000 * DAY)]);
      await addClicks(t, [{ id: 'ancient', ts: new Date(0), learnedAt: new Date(0) }]);
      expect(await t.reco.app.get(LogRetentionService).prune()).toEqual({ slates: 0, clicks: 0, outbox: 0 });
      expect(await remaining(t, 'slates', old)).toEqual(old);
      expect(await remaining(t, 'clicks', ['ancient'])).toEqual(['ancient']);
    } finally {
      await t.close();
    }
  });
});
