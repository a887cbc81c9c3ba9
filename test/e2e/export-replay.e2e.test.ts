import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LearningService } from '../../src/modules/learning/learning.service';
import { ModelService } from '../../src/modules/model/model.service';
import { ImpressionLogService } from '../../src/modules/slates/impression-log.service';
import { recoImpressionSchema, type RecoImpression } from '../../src/replay/reco-log.schema';
import { startTestApp, type TestApp } from '../setup/app';
import { ensureBuilt, runCli } from '../setup/cli';

interface Served {
  slateId: string;
  userId: string;
  items: { itemId: string; position: number; propensity: number }[];
}

interface ReplayJson {
  rows: { read: number; used: number; slots: number; rejected: number };
  slates: number;
  items: number;
  onPolicyMeanReward: number;
  policy: string;
  estimates: Record<string, { value: number | null; ci95: [number, number] | null; ess: number | null }>;
}

// The service's own log, end to end: serve and click over HTTP, export it with the built CLI, replay the
// export and the database. The app serves with the uniform random policy, whose logged propensities are
// exact (1/m at every position), so evaluating `random` on its own log must give weights of exactly 1:
// IPS = SNIPS = the on-policy mean, which the test also computes straight from the database.
describe('reco export → reco replay on the service log (real PostgreSQL, built CLI)', () => {
  let t: TestApp;
  const dir = mkdtempSync(join(tmpdir(), 'reco-export-'));
  const items = Array.from({ length: 8 }, (_, i) => `sku-${i}`);
  const users = Array.from({ length: 10 }, (_, i) => `user-${i}`);
  const served: Served[] = [];
  const clicked = new Map<string, Set<string>>();
  let env: Record<string, string>;

  beforeAll(async () => {
    ensureBuilt();
    t = await startTestApp({ MODEL_DIM: '4', DEFAULT_POLICY: '{"name":"random"}', LOG_LEVEL: 'error' });
    env = { DATABASE_URL: t.db.url, LOG_LEVEL: 'error' };
    const body = items.map((id, i) => JSON.stringify({ id, group: `g${i % 2}` })).join('\n');
    expect(
      (await t.http.post('/v1/items:import').set('content-type', 'application/x-ndjson').send(body)).status,
    ).toBe(200);
    t.reco.app.get(ModelService).rebuild();
    for (let s = 0; s < 120; s++) {
      const userId = users[s % users.length];
      const r = await t.http.post('/v1/slates').send({ userId, size: 3 });
      expect(r.status).toBe(200);
      served.push({ slateId: r.body.slateId, userId, items: r.body.items });
    }
    // Clicks are joined to impressions, so the impressions must be in PostgreSQL first.
    await t.reco.app.get(ImpressionLogService).flush();
    const events: object[] = [];
    served.forEach((s, n) => {
      // A deterministic click pattern: even-numbered items at position 1, and sku-3 anywhere.
      for (const it of s.items) {
        const even = Number(it.itemId.slice(4)) % 2 === 0;
        if ((it.position === 1 && even) || it.itemId === 'sku-3') {
          events.push({
            eventId: `c-${n}-${it.itemId}`,
            type: 'click',
            slateId: s.slateId,
            userId: s.userId,
            itemId: it.itemId,
            ts: Date.now(),
          });
          if (!clicked.has(s.slateId)) clicked.set(s.slateId, new Set());
          clicked.get(s.slateId)!.add(it.itemId);
        }
      }
    });
    // One organic click (no slate): not part of any impression, left out of the export and counted.
    events.push({ eventId: 'organic-1', type: 'click', userId: 'user-1', itemId: 'sku-5', ts: Date.now() });
    for (let i = 0; i < events.length; i += 500) {
      const r = await t.http.post('/v1/events').send({ events: events.slice(i, i + 500) });
      expect(r.status).toBe(200);
      expect(r.body.rejected).toBe(0);
    }
    expect(clicked.size).toBeGreaterThan(10);
  });
  afterAll(async () => {
    await t?.close();
  });

  function exportLog(args: string[] = []): { lines: RecoImpression[]; stderr: string } {
    const r = runCli(['export', ...args], env);
    expect(r.stderr).not.toMatch(/Error|at .*\.js/);
    expect(r.status).toBe(0);
    const lines = r.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => recoImpressionSchema.parse(JSON.parse(l)));
    return { lines, stderr: r.stderr };
  }

  it('exports every served slate once, oldest first, with its propensities and joined clicks', () => {
    // A small page size so the keyset pagination crosses many page boundaries.
    const { lines, stderr } = exportLog(['--page-size', '7']);
    expect(lines).toHaveLength(served.length);
    expect(new Set(lines.map((l) => l.slateId)).size).toBe(served.length);
    const ts = lines.map((l) => Date.parse(l.ts as string));
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    const byId = new Map(served.map((s) => [s.slateId, s]));
    for (const l of lines) {
      const s = byId.get(l.slateId)!;
      expect(s).toBeDefined();
      expect(l.user).toBe(s.userId);
      expect(l.policy).toBe('random');
      expect(l.policyConfig).toEqual({ name: 'random' });
      expect(l.propensityKind).toBe('exact');
      expect(typeof l.seed).toBe('number');
      expect(l.modelVersion).toEqual(expect.any(String));
      expect(l.items.map((i) => [i.item, i.position])).toEqual(s.items.map((i) => [i.itemId, i.position]));
      for (const [k, i] of l.items.entries()) {
        expect(i.propensity).toBeCloseTo(s.items[k].propensity, 12);
        expect(i.propensity).toBeCloseTo(1 / items.length, 12);
      }
      expect([...l.clicks].sort()).toEqual([...(clicked.get(l.slateId) ?? [])].sort());
    }
    const nClicks = [...clicked.values()].reduce((a, s) => a + s.size, 0);
    expect(stderr).toContain(
      `reco export: ${served.length} impressions, ${nClicks} clicks joined, 1 organic clicks left out`,
    );
  });

  it('exports a time window, and rejects a bad date with exit 2 naming the flag', () => {
    expect(exportLog(['--since', '2999-01-01']).lines).toHaveLength(0);
    expect(exportLog(['--until', '2000-01-01T00:00:00Z']).lines).toHaveLength(0);
    expect(exportLog(['--since', '2000-01-01', '--until', '2999-01-01T00:00:00+02:00']).lines).toHaveLength(
      served.length,
    );
    const bad = runCli(['export', '--since', 'last tuesday'], env);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("option '--since <iso>'");
    expect(bad.stdout).toBe('');
    const reversed = runCli(['export', '--since', '2026-02-01', '--until', '2026-01-01'], env);
    expect(reversed.status).toBe(2);
    expect(reversed.stderr).toContain('--until');
  });

  async function truthFromDb(): Promise<{ clicks: number; slots: number }> {
    const [{ clicks }] = (await t.reco.db.dataSource.query(
      `SELECT count(DISTINCT (slate_id, item_id))::int AS clicks FROM clicks WHERE slate_id IS NOT NULL`,
    )) as { clicks: number }[];
    const [{ slots }] = (await t.reco.db.dataSource.query(
      `SELECT sum(jsonb_array_length(items))::int AS slots FROM slates`,
    )) as { slots: number }[];
    return { clicks, slots };
  }

  function replay(args: string[]): ReplayJson {
    const r = runCli(
      ['replay', '--format', 'reco', '--json', '--bootstrap', '200', '--seed', '3', ...args],
      env,
    );
    if (r.status !== 0) throw new Error(`replay failed (${r.status}): ${r.stderr}`);
    return JSON.parse(r.stdout) as ReplayJson;
  }

  function checkRandomOnItsOwnLog(j: ReplayJson, truth: { clicks: number; slots: number }): void {
    expect(j.rows).toMatchObject({
      read: served.length,
      used: served.length,
      rejected: 0,
      slots: truth.slots,
    });
    expect(j.items).toBe(items.length);
    // The on-policy mean is clicks / shown slots, as counted in the database.
    expect(j.onPolicyMeanReward).toBeCloseTo(truth.clicks / truth.slots, 12);
    // π = μ = 1/8 at every (item, position): weights are 1, so IPS and SNIPS are the on-policy mean exactly.
    expect(j.estimates.ipw.value).toBeCloseTo(j.onPolicyMeanReward, 10);
    expect(j.estimates.snipw.value).toBeCloseTo(j.onPolicyMeanReward, 10);
    expect(j.estimates.ipw.ess).toBeCloseTo(truth.slots, 6);
    const [lo, hi] = j.estimates.ipw.ci95!;
    expect(lo).toBeLessThan(j.onPolicyMeanReward);
    expect(hi).toBeGreaterThan(j.onPolicyMeanReward);
  }

  it('replays the export: the logging policy evaluated on its own log gives the on-policy mean', async () => {
    const file = join(dir, 'log.jsonl');
    const r = runCli(['export', '--out', file], env);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(served.length);
    const truth = await truthFromDb();
    expect(truth.clicks).toBeGreaterThan(0);
    const j = replay(['--log', file, '--policy', 'random', '--estimators', 'ipw,snipw,dr']);
    checkRandomOnItsOwnLog(j, truth);
  });

  it('replays the database directly (--from-db) with the same numbers as the export', async () => {
    const file = join(dir, 'log2.jsonl');
    writeFileSync(file, runCli(['export'], env).stdout);
    const fromFile = replay(['--log', file, '--policy', 'random', '--estimators', 'ipw,snipw,dr']);
    const fromDb = replay(['--from-db', '--policy', 'random', '--estimators', 'ipw,snipw,dr']);
    checkRandomOnItsOwnLog(fromDb, await truthFromDb());
    expect(fromDb.estimates).toEqual(fromFile.estimates);
    const none = runCli(
      ['replay', '--format', 'reco', '--from-db', '--since', '2999-01-01', '--policy', 'random'],
      env,
    );
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('no usable rows');
    const both = runCli(
      ['replay', '--format', 'reco', '--from-db', '--log', file, '--policy', 'random'],
      env,
    );
    expect(both.status).toBe(2);
    expect(both.stderr).toContain('--from-db');
  });

  it("evaluates our serving policies with the service's newest checkpoint (--model-from-db)", async () => {
    const noModel = runCli(
      ['replay', '--format', 'reco', '--from-db', '--model-from-db', '--policy', '{"name":"greedy"}'],
      env,
    );
    expect(noModel.status).toBe(2);
    expect(noModel.stderr).toContain('no model checkpoint');
    await t.reco.app.get(LearningService).checkpoint();
    // The adapter over the serving code with policy random: exactly the logger (1/8 everywhere) again.
    const asLogger = replay([
      '--from-db',
      '--model-from-db',
      '--policy',
      '{"name":"random"}',
      '--estimators',
      'ipw,snipw,sips',
    ]);
    checkRandomOnItsOwnLog(asLogger, await truthFromDb());
    expect(asLogger.policy).toMatch(/^random @ model /);
    expect(asLogger.estimates.sips.value).toBeCloseTo(asLogger.onPolicyMeanReward, 10);
    // Greedy with the learned model: a value in [0, 1] with a finite interval, from fewer effective slots.
    const greedy = replay([
      '--from-db',
      '--model-from-db',
      '--policy',
      '{"name":"greedy"}',
      '--estimators',
      'ipw,snipw',
    ]);
    expect(greedy.policy).toMatch(/^greedy @ model /);
    expect(greedy.estimates.snipw.value).toBeGreaterThanOrEqual(0);
    expect(greedy.estimates.snipw.value).toBeLessThanOrEqual(1);
    expect(greedy.estimates.ipw.ess).toBeLessThan(asLogger.estimates.ipw.ess!);
  });
});
