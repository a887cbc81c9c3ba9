import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Worker } from 'node:worker_threads';
import { ImpressionLogService } from '../../src/modules/slates/impression-log.service';
import { ModelService } from '../../src/modules/model/model.service';
import { SlatesService } from '../../src/modules/slates/slates.service';
import { startTestApp, type TestApp } from '../setup/app';
import { uuid7Time } from '../../src/common/uuid7';

interface SlateBody {
  slateId: string;
  items: {
    itemId: string;
    position: number;
    score: number;
    propensity: number;
    inSlateProbability: number;
  }[];
  policy: { name: string };
  modelVersion: string;
  propensityKind: string;
  warnings?: { code: string; itemIds?: string[] }[];
}

/** Rows of the impression log. */
async function slatesStored(t: TestApp): Promise<number> {
  const rows: { n: string }[] = await t.reco.db.dataSource.query(`SELECT count(*) AS n FROM slates`);
  return Number(rows[0].n);
}

/**
 * 2000 items and one click, the model rebuilt: the catalogue is no longer exchangeable, so propensities are
 * simulated (not exact 1/n), slowly with the policies of the tests below.
 */
async function slowCatalogue(t: TestApp): Promise<void> {
  const lines = Array.from({ length: 2000 }, (_, i) =>
    JSON.stringify({ id: `item-${i}`, group: `g${i % 4}` }),
  );
  const imported = await t.http
    .post('/v1/items:import')
    .set('content-type', 'application/x-ndjson')
    .send(lines.join('\n'));
  expect(imported.status).toBe(200);
  const clicked = await t.http.post('/v1/events').send({
    events: [{ eventId: 'slow-catalogue-1', type: 'click', userId: 'u1', itemId: 'item-1', ts: Date.now() }],
  });
  expect(clicked.status).toBe(200);
  t.reco.app.get(ModelService).rebuild();
}

// Slates chosen on the main thread, and on a slate worker thread (SERVING_THREADS): the same API, answers and log.
describe.each(['0', '1'])('slates API (real PostgreSQL, SERVING_THREADS=%s)', (threads) => {
  let t: TestApp;
  const ids = Array.from({ length: 30 }, (_, i) => `item-${i}`);

  beforeAll(async () => {
    t = await startTestApp({ MODEL_DIM: '8', SERVING_THREADS: threads });
    // The workers really run (the build's compiled entry): a missing script would fall back to the main thread.
    expect(t.reco.app.get(SlatesService).servingThreads).toBe(Number(threads));
  });
  afterAll(async () => {
    await t?.close();
  });

  /** The 30 items in two groups (the same import again changes nothing), the model rebuilt. */
  async function importCatalogue(): Promise<void> {
    const body = ids.map((id, i) => JSON.stringify({ id, group: i % 2 ? 'odd' : 'even' })).join('\n');
    expect(
      (await t.http.post('/v1/items:import').set('content-type', 'application/x-ndjson').send(body)).status,
    ).toBe(200);
    t.reco.app.get(ModelService).rebuild();
  }

  it('answers 409 while the catalogue is empty', async () => {
    const r = await t.http.post('/v1/slates').send({ userId: 'u1' });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('catalogue_empty');
  });

  it('serves a slate of distinct items with positions and propensities to an unknown user', async () => {
    await importCatalogue();

    const r = await t.http
      .post('/v1/slates')
      .send({ userId: 'new-user', size: 5, context: { page: 'home' } });
    expect(r.status).toBe(200);
    const s = r.body as SlateBody;
    expect(s.items).toHaveLength(5);
    expect(s.items.map((i) => i.position)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(s.items.map((i) => i.itemId)).size).toBe(5);
    for (const it of s.items) {
      expect(ids).toContain(it.itemId);
      expect(it.propensity).toBeGreaterThan(0);
      expect(it.propensity).toBeLessThanOrEqual(1);
      expect(it.inSlateProbability).toBeGreaterThanOrEqual(it.propensity);
    }
    expect(s.policy.name).toBe('in_slate_ts');
    // A cold catalogue (every item at the same prior): the candidates are exchangeable, so the
    // propensities are exactly 1/n (no simulation).
    expect(s.propensityKind).toBe('exact');
    for (const it of s.items) expect(it.propensity).toBeCloseTo(1 / ids.length, 12);
    expect(s.slateId).toMatch(/^[0-9a-f-]{36}$/);
    expect(s.warnings).toBeUndefined();
  });

  it('persists every served slate as an impression with its propensities', async () => {
    await importCatalogue(); // the same as the test before's: this one also runs alone
    const log = t.reco.app.get(ImpressionLogService);
    await log.flush();
    const before = await slatesStored(t);
    const r = await t.http.post('/v1/slates').send({ userId: 'u-log', size: 3, context: { page: 'pdp' } });
    expect(r.status).toBe(200);
    await log.flush();
    const stored = await t.http.get(`/v1/slates/${r.body.slateId}`);
    expect(stored.status).toBe(200);
    expect(stored.body).toMatchObject({
      slateId: r.body.slateId,
      userId: 'u-log',
      items: r.body.items,
      policy: r.body.policy,
      modelVersion: r.body.modelVersion,
      context: { page: 'pdp' },
      requestedSize: 3,
    });
    expect(Number.isInteger(stored.body.seed)).toBe(true);
    expect(await slatesStored(t)).toBe(before + 1);
    // A version-7 id (time-ordered keys for the slates table), carrying the time it was served.
    expect(r.body.slateId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuid7Time(r.body.slateId)).toBe(Date.parse(stored.body.servedAt));
  });

  it('neither serves nor logs a slate for a client that has already gone', async () => {
    const svc = t.reco.app.get(SlatesService);
    const models = t.reco.app.get(ModelService);
    const log = t.reco.app.get(ImpressionLogService);
    await log.flush();
    const before = await slatesStored(t);
    await expect(
      svc.serve({ userId: 'u-gone', size: 3 }, undefined, { gone: () => true, onGone: () => undefined }),
    ).rejects.toMatchObject({
      name: 'ClientGoneError',
      stage: 'before_serving',
    });
    await log.flush();
    expect(await slatesStored(t)).toBe(before);
    models.rebuild();
    expect(models.snapshotMemoryStats().live).toBe(1); // no snapshot held for it
    expect((await t.http.get('/metrics')).text).toMatch(
      /reco_slates_abandoned_total\{stage="before_serving"\} 1\b/,
    );
  });

  it('chooses only among candidates, skips unknown and inactive ones with warnings', async () => {
    await t.http.delete('/v1/items/item-3');
    t.reco.app.get(ModelService).rebuild();
    const r = await t.http
      .post('/v1/slates')
      .send({ userId: 'u2', size: 3, candidates: ['item-1', 'item-2', 'item-3', 'ghost', 'item-4'] });
    expect(r.status).toBe(200);
    const s = r.body as SlateBody;
    for (const it of s.items) expect(['item-1', 'item-2', 'item-4']).toContain(it.itemId);
    expect(s.items).toHaveLength(3);
    const codes = (s.warnings ?? []).map((w) => w.code).sort();
    expect(codes).toEqual(['inactive_item', 'unknown_item']);
    expect(s.warnings!.find((w) => w.code === 'unknown_item')!.itemIds).toEqual(['ghost']);
    expect(s.warnings!.find((w) => w.code === 'inactive_item')!.itemIds).toEqual(['item-3']);
  });

  it('never serves excluded or inactive items, and says when it serves fewer than asked', async () => {
    for (let rep = 0; rep < 5; rep++) {
      const r = await t.http.post('/v1/slates').send({
        userId: 'u3',
        size: 4,
        candidates: ['item-5', 'item-6', 'item-7'],
        exclude: ['item-6', 'nope'],
      });
      expect(r.status).toBe(200);
      const s = r.body as SlateBody;
      expect(s.items.map((i) => i.itemId).sort()).toEqual(['item-5', 'item-7']);
      expect(s.warnings!.map((w) => w.code).sort()).toEqual([
        'fewer_items_than_requested',
        'unknown_excluded_item',
      ]);
    }
    for (let rep = 0; rep < 20; rep++) {
      const r = await t.http.post('/v1/slates').send({ userId: 'u4', size: 29 });
      expect((r.body as SlateBody).items.map((i) => i.itemId)).not.toContain('item-3');
    }
  });

  it('answers 422 when no candidate can be served', async () => {
    const r = await t.http.post('/v1/slates').send({ userId: 'u5', candidates: ['ghost-1', 'item-3'] });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('no_valid_candidates');
  });

  it('names each bad field with a 400', async () => {
    const r = await t.http.post('/v1/slates').send({ size: 0, candidates: [], exclude: 'x', extra: true });
    expect(r.status).toBe(400);
    const paths = r.body.error.issues.map((i: { path: string }) => i.path).sort();
    expect(paths).toEqual(['body', 'body.candidates', 'body.exclude', 'body.size', 'body.userId']);
    const big = await t.http.post('/v1/slates').send({ userId: 'u', size: 101 });
    expect(big.status).toBe(400);
    expect(big.body.error.issues[0]).toEqual({ path: 'body.size', message: 'must be between 1 and 100' });
    const notJson = await t.http.post('/v1/slates').set('content-type', 'application/json').send('{');
    expect(notJson.status).toBe(400);
    const badId = await t.http.get('/v1/slates/not-a-uuid');
    expect(badId.status).toBe(400);
    const missing = await t.http.get('/v1/slates/00000000-0000-4000-8000-000000000000');
    expect(missing.status).toBe(404);
  });

  it('reports Monte Carlo propensities once the catalogue has learned', async () => {
    const r = await t.http.post('/v1/events').send({
      events: [{ eventId: 'slates-e2e-1', type: 'click', userId: 'u7', itemId: 'item-1', ts: Date.now() }],
    });
    expect(r.body.accepted).toBe(1);
    t.reco.app.get(ModelService).rebuild();
    const s = (await t.http.post('/v1/slates').send({ userId: 'u7', size: 3 })).body as SlateBody;
    expect(s.propensityKind).toBe('monte_carlo');
  });

  it('makes catalogue changes visible to serving within the refresh interval', async () => {
    await t.http.put('/v1/items/fresh').send({ group: 'odd' });
    const deadline = Date.now() + 2000;
    let seen = false;
    while (!seen && Date.now() < deadline) {
      const r = await t.http.post('/v1/slates').send({ userId: 'u6', size: 1, candidates: ['fresh'] });
      seen = r.status === 200 && r.body.items[0]?.itemId === 'fresh';
      if (!seen) await new Promise((res) => setTimeout(res, 50));
    }
    expect(seen).toBe(true);
    const info = await t.http.get('/v1/model');
    expect(info.body).toMatchObject({ dim: 8, items: 31, activeItems: 30 });
  });
  it('holds each request’s snapshot across rebuilds, and reuses replaced snapshots’ memory once answered', async () => {
    const models = t.reco.app.get(ModelService);
    const before = models.snapshotMemoryStats();
    // Requests in flight (some answered 422: no valid candidate) while the snapshot is replaced five times.
    const requests = Array.from({ length: 40 }, (_, i) =>
      t.http
        .post('/v1/slates')
        .send(
          i % 8 === 7 ? { userId: `u-mem-${i}`, candidates: ['nope'] } : { userId: `u-mem-${i}`, size: 4 },
        )
        .then((r) => r),
    );
    for (let r = 0; r < 5; r++) {
      models.rebuild();
      await new Promise((res) => setImmediate(res));
    }
    const answers = await Promise.all(requests);
    for (const [i, r] of answers.entries()) {
      expect(r.status).toBe(i % 8 === 7 ? 422 : 200);
      if (r.status !== 200) continue;
      const s = r.body as SlateBody;
      expect(new Set(s.items.map((it) => it.itemId)).size).toBe(4);
      for (const it of s.items) {
        expect(ids.concat('fresh')).toContain(it.itemId);
        expect(it.propensity).toBeGreaterThan(0);
        expect(it.propensity).toBeLessThanOrEqual(1);
      }
    }
    // Every request let its snapshot go: only the current one is left, and the replaced ones' memory was reused.
    models.rebuild();
    const after = models.snapshotMemoryStats();
    expect(after.live).toBe(1);
    expect(after.recycled).toBeGreaterThan(before.recycled);
  });

  it('keeps serving on the main thread while its slate workers are lost, and replaces them', async () => {
    const svc = t.reco.app.get(SlatesService);
    const slots = (svc as unknown as { pool: { slots: { worker: Worker }[] } | null }).pool?.slots ?? [];
    expect(slots.length).toBe(Number(threads));
    // Sent now (supertest sends on then), racing the workers' end: served by a worker, or by the main thread
    // once its worker is lost; 200 either way.
    const inFlight = t.http
      .post('/v1/slates')
      .send({ userId: 'u-lost', size: 3 })
      .then((r) => r);
    await Promise.all(slots.map((s) => s.worker.terminate()));
    expect((await inFlight).status).toBe(200);
    const r = await t.http.post('/v1/slates').send({ userId: 'u-lost', size: 3 });
    expect(r.status).toBe(200);
    expect((r.body as SlateBody).items).toHaveLength(3);
    // A lost worker is replaced a second later.
    for (let i = 0; i < 50 && svc.servingThreads !== Number(threads); i++)
      await new Promise((res) => setTimeout(res, 100));
    expect(svc.servingThreads).toBe(Number(threads));
    expect((await t.http.post('/v1/slates').send({ userId: 'u-lost', size: 3 })).status).toBe(200);
    // Operators see it: workers alive, and which thread chose the slates.
    const metrics = (await t.http.get('/metrics')).text;
    expect(metrics).toMatch(new RegExp(`reco_slate_workers ${threads}\\b`));
    expect(metrics).toMatch(/reco_slates_served_total\{thread="main"\} [1-9]/);
    if (threads !== '0') expect(metrics).toMatch(/reco_slates_served_total\{thread="worker"\} [1-9]/);
  });
});

describe('slates API with a slate worker that does not answer in time (SLATE_TIMEOUT_MS)', () => {
  let t: TestApp;
  beforeAll(async () => {
    // 10^5 simulated slates of 50 items on 2000 items: ≈ 0.5 s of a worker, five times the timeout.
    t = await startTestApp({
      MODEL_DIM: '8',
      SERVING_THREADS: '1',
      SLATE_TIMEOUT_MS: '100',
      DEFAULT_POLICY: JSON.stringify({ name: 'in_slate_ts', propensitySlates: 100_000 }),
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers 503 slate_timeout, lets the snapshot go, and serves again on a new worker', async () => {
    await slowCatalogue(t);
    const models = t.reco.app.get(ModelService);
    const svc = t.reco.app.get(SlatesService);

    const r = await t.http.post('/v1/slates').send({ userId: 'u1', size: 50 });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('slate_timeout');
    expect(r.body.error.message).toMatch(/did not answer a request in 100 ms/);
    // Answered, so its snapshot was let go: only the current one is live.
    models.rebuild();
    expect(models.snapshotMemoryStats().live).toBe(1);
    // Nothing was logged for it: no slate was chosen.
    const log = t.reco.app.get(ImpressionLogService);
    await log.flush();
    expect((await t.http.get('/metrics')).text).toMatch(/reco_impressions_logged_total 0\b/);
    // The worker is replaced a second later, and serves (one candidate: its propensity is exactly 1, nothing simulated).
    for (let i = 0; i < 50 && svc.servingThreads !== 1; i++) await new Promise((res) => setTimeout(res, 100));
    expect(svc.servingThreads).toBe(1);
    const ok = await t.http.post('/v1/slates').send({ userId: 'u1', size: 1, candidates: ['item-1'] });
    expect(ok.status).toBe(200);
    await log.flush();
    expect((await t.http.get('/metrics')).text).toMatch(/reco_impressions_logged_total 1\b/);
  });
});

describe('slates API under overload: a request that waits too long for its worker (SLATE_QUEUE_MS)', () => {
  let t: TestApp;
  beforeAll(async () => {
    // 10^5 simulated slates of 100 items on 2000 items: ≈ 1 s of a worker, ten times the queue limit.
    t = await startTestApp({
      MODEL_DIM: '8',
      SERVING_THREADS: '1',
      SLATE_QUEUE_MS: '100',
      DEFAULT_POLICY: JSON.stringify({ name: 'in_slate_ts', propensitySlates: 100_000 }),
    });
    await slowCatalogue(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers 503 overloaded with Retry-After at once, computes and logs nothing for it, and finishes the started slate', async () => {
    const log = t.reco.app.get(ImpressionLogService);
    await log.flush();
    const before = await slatesStored(t);
    const order: string[] = [];
    const first = t.http
      .post('/v1/slates')
      .send({ userId: 'u1', size: 100 })
      .then((r) => (order.push('first'), r));
    await new Promise((res) => setTimeout(res, 30));
    const second = t.http
      .post('/v1/slates')
      .send({ userId: 'u2', size: 50 })
      .then((r) => (order.push('second'), r));
    const [a, b] = await Promise.all([first, second]);
    expect(b.status).toBe(503);
    expect(b.headers['retry-after']).toBe('1');
    expect(b.body.error.code).toBe('overloaded');
    expect(b.body.error.message).toMatch(/longer than SLATE_QUEUE_MS \(100 ms\)/);
    // Shed from the queue, not answered when the slate ahead of it was done.
    expect(order).toEqual(['second', 'first']);
    expect(a.status).toBe(200);
    expect(a.body.items).toHaveLength(100);
    const metrics = (await t.http.get('/metrics')).text;
    expect(metrics).toMatch(/reco_slates_shed_total 1\b/);
    expect(metrics).not.toMatch(/reco_slates_abandoned_total\{stage="queued"\} [1-9]/); // not a client that left
    await log.flush();
    expect(await slatesStored(t)).toBe(before + 1); // the first only
  });
});

describe('slates API when the client closes its connection before its slate is answered', () => {
  let t: TestApp;
  let port: number;
  let before: number;
  beforeAll(async () => {
    // 10^5 simulated slates of 50 items on 2000 items: ≈ 0.5 s of a worker, well within the default timeout.
    t = await startTestApp({
      MODEL_DIM: '8',
      SERVING_THREADS: '1',
      DEFAULT_POLICY: JSON.stringify({ name: 'in_slate_ts', propensitySlates: 100_000 }),
    });
    await slowCatalogue(t);
    const server = t.reco.app.getHttpServer() as Server;
    if (!server.listening) await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(async () => {
    await t.reco.app.get(ImpressionLogService).flush();
    before = await slatesStored(t);
  });

  /** POST /v1/slates from a real client on a real socket; it gives up after `giveUpMs` (the status, or 'gone'). */
  const post = (body: object, giveUpMs?: number) =>
    new Promise<number | 'gone'>((resolve) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/slates',
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve('gone'));
      req.end(JSON.stringify(body));
      if (giveUpMs !== undefined) setTimeout(() => req.destroy(), giveUpMs);
    });
  const metrics = async () => (await t.http.get('/metrics')).text;
  const abandoned = (stage: string, n: number) =>
    new RegExp(`reco_slates_abandoned_total\\{stage="${stage}"\\} ${n}\\b`);
  async function waitFor(re: RegExp): Promise<void> {
    for (let i = 0; i < 200 && !re.test(await metrics()); i++)
      await new Promise((res) => setTimeout(res, 50));
    expect(await metrics()).toMatch(re);
  }

  it('drops a slate chosen for a client that left meanwhile: nothing sent, nothing logged, counted', async () => {
    expect(await post({ userId: 'u1', size: 50 }, 100)).toBe('gone'); // the slate takes ≈ 0.5 s
    // The worker finishes the slate; the service then finds the client gone.
    await waitFor(abandoned('after_serving', 1));
    const log = t.reco.app.get(ImpressionLogService);
    await log.flush();
    expect(await slatesStored(t)).toBe(before);
    expect(await metrics()).toMatch(/reco_impressions_logged_total 0\b/);
    const models = t.reco.app.get(ModelService);
    models.rebuild();
    expect(models.snapshotMemoryStats().live).toBe(1);
    // A client that waits gets its slate, logged.
    expect(await post({ userId: 'u1', size: 2, candidates: ['item-1', 'item-2'] })).toBe(200);
    await log.flush();
    expect(await slatesStored(t)).toBe(before + 1);
  });

  it('skips a request still queued for its worker when its client leaves: never computed, never logged', async () => {
    // The first takes the worker for ≈ 1 s; the second waits behind it, and its client gives up after 100 ms.
    const first = post({ userId: 'u1', size: 100 });
    await new Promise((res) => setTimeout(res, 30));
    const second = post({ userId: 'u2', size: 50 }, 100);
    expect(await second).toBe('gone');
    expect(await first).toBe(200);
    // The worker skipped it: counted as queued (not as a slate chosen and dropped), and only the first is logged.
    await waitFor(abandoned('queued', 1));
    expect(await metrics()).toMatch(abandoned('after_serving', 1)); // the previous test's, unchanged
    await t.reco.app.get(ImpressionLogService).flush();
    expect(await slatesStored(t)).toBe(before + 1);
  });
});
