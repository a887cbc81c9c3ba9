// The impression outbox on real PostgreSQL (and a real broker for the Kafka case): a stored slate reaches the
// learner even when the process dies between writing it and handing it on, and is learned once however often it
// is delivered.
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { ModelService } from '../../src/modules/model/model.service';
import { testImpression } from '../../src/modules/slates/impression.fixture';
import { ImpressionDeliveryService } from '../../src/modules/slates/impression-delivery.service';
import { ImpressionLogService } from '../../src/modules/slates/impression-log.service';
import { ImpressionsRepository } from '../../src/modules/slates/impressions.repository';
import { uuid7 } from '../../src/common/uuid7';
import { startTestApp, type TestApp } from '../setup/app';
import { ensureBuilt, serveCli, type ServedCli } from '../setup/cli';
import { createTestDatabase, type TestDatabase } from '../setup/db';
import { describeKafka, uniqueKafkaName } from '../setup/kafka';
import {
  importTestItems,
  LEARNING_ENV,
  metricValue,
  openJoinsOf,
  testItems,
  waitFor,
} from '../setup/learning';

/** A long window: the slates learned stay open in the join book, where the test counts them. */
const ENV = { ...LEARNING_ENV, JOIN_WINDOW_MS: '600000' };

const metric = async (t: TestApp, name: string, labels = ''): Promise<number> =>
  metricValue((await t.http.get('/metrics')).text, name, labels);

/** The outbox's rows, read with a client of our own (the service may be stopped). */
async function outboxRows(t: TestApp): Promise<{ slates: number; attempts: number }[]> {
  const client = new Client({ connectionString: t.db.url });
  await client.connect();
  try {
    const r = await client.query<{ slates: number; attempts: number }>(
      'SELECT slates, attempts FROM impression_outbox ORDER BY id',
    );
    return r.rows;
  } finally {
    await client.end();
  }
}

let clock = 0;

/** Slates of our catalogue's items, as the service logs them. */
const slates = (n: number, user: string) =>
  Array.from({ length: n }, (_, k) => {
    const i = testImpression(uuid7(), user);
    // Now (in the window: the learner keeps it open), a millisecond of its own: each batch's outbox interval
    // holds its own slates alone, so the counts below are exact.
    i.servedAt = new Date((clock = Math.max(clock + 1, Date.now())));
    i.items = [0, 1].map((p) => ({
      itemId: testItems[(k + p) % testItems.length],
      position: p + 1,
      score: 0,
      propensity: 0.5,
      inSlateProbability: 0.5,
    }));
    return i;
  });

/**
 * What a process killed after its write and before its delivery leaves: the slates stored, with their outbox
 * entry, written by the service's own repository (the same transaction as the live path), in a service that is
 * stopped at once.
 */
async function leftByACrash(
  env: Record<string, string>,
  batches: number[],
): Promise<{ a: TestApp; ids: string[] }> {
  const a = await startTestApp({ ...env, IMPRESSION_REDELIVER_MS: '3600000' });
  await importTestItems(a);
  const repo = a.reco.app.get(ImpressionsRepository);
  const ids: string[] = [];
  for (const n of batches) {
    const batch = slates(n, `crash-${ids.length}`);
    // Due at once for the next process (a live entry is due IMPRESSION_REDELIVER_MS after its write).
    expect(await repo.insertMany(batch, { dueInMs: 0 })).toMatch(/^\d+$/);
    ids.push(...batch.map((i) => i.slateId));
  }
  await a.stop();
  return { a, ids };
}

/**
 * A service with IMPRESSION_REDELIVER_MS = 100 and our catalogue, plus a sink that counts each slate it is handed and
 * takes `delayMs` a batch (longer than the redelivery interval).
 */
async function withSlowSink(delayMs: number): Promise<{ t: TestApp; seen: Map<string, number> }> {
  const t = await startTestApp({ ...ENV, IMPRESSION_REDELIVER_MS: '100' });
  await importTestItems(t);
  const seen = new Map<string, number>();
  t.reco.app.get(ImpressionDeliveryService).addSink(async (batch) => {
    for (const i of batch) seen.set(i.slateId, (seen.get(i.slateId) ?? 0) + 1);
    await new Promise((r) => setTimeout(r, delayMs));
  });
  return { t, seen };
}

/** Once the outbox is empty and the deliveries settled: the sink saw every one of `ids`, each exactly once. */
async function expectEachDeliveredOnce(t: TestApp, seen: Map<string, number>, ids: string[]): Promise<void> {
  await waitFor('the outbox to empty', async () => (await outboxRows(t)).length === 0, 30_000);
  await t.reco.app.get(ImpressionDeliveryService).settled();
  expect([...seen.keys()].sort()).toEqual([...ids].sort());
  expect([...seen.values()]).toEqual(ids.map(() => 1));
}

describe('the impression outbox (real PostgreSQL)', () => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    for (const t of apps) await t.close().catch(() => undefined);
  });

  it('leaves no entry behind on the live path, by COPY and by INSERT', async () => {
    const t = await startTestApp(ENV);
    apps.push(t);
    await importTestItems(t);
    t.reco.app.get(ModelService).rebuild();
    const log = t.reco.app.get(ImpressionLogService);
    // A batch of one goes by INSERT (with its entry in one statement), a larger one by COPY in a transaction.
    expect((await t.http.post('/v1/slates').send({ userId: 'u1', size: 3 })).status).toBe(200);
    await log.flush();
    await Promise.all(
      Array.from({ length: 20 }, (_, k) => t.http.post('/v1/slates').send({ userId: `u${k}`, size: 3 })),
    );
    await log.flush();
    expect(await outboxRows(t)).toEqual([]);
    expect(await metric(t, 'reco_events_total', '{source="serving",outcome="learned"}')).toBe(21);
    expect(t.reco.app.get(ModelService).joins.openCount).toBe(21);
  });

  it('delivers the slates a crash left between the write and the learner at the next start, once', async () => {
    const { a, ids } = await leftByACrash(ENV, [5, 1, 3]);
    apps.push(a);
    expect((await outboxRows(a)).map((r) => r.slates)).toEqual([5, 1, 3]);

    const b = await startTestApp({ ...ENV, IMPRESSION_REDELIVER_MS: '100' }, a.db);
    apps.push(b);
    await waitFor('the outbox to be delivered', async () => (await outboxRows(b)).length === 0, 20_000);
    expect(await metric(b, 'reco_impressions_redelivered_total')).toBe(ids.length);
    expect(await metric(b, 'reco_events_total', '{source="serving",outcome="learned"}')).toBe(ids.length);
    const models = b.reco.app.get(ModelService);
    expect(models.joins.openCount).toBe(ids.length);

    // Delivered again (an entry whose delete was lost leaves it so): the learner drops every one as known.
    await b.reco.db.dataSource.query(
      `INSERT INTO impression_outbox (first_served_at, last_served_at, slates, due_at)
       SELECT min(served_at), max(served_at), count(*), now() FROM slates WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    expect(await b.reco.app.get(ImpressionDeliveryService).redeliver()).toBe(ids.length);
    expect(await metric(b, 'reco_events_total', '{source="serving",outcome="duplicate"}')).toBe(ids.length);
    expect(await metric(b, 'reco_events_total', '{source="serving",outcome="learned"}')).toBe(ids.length);
    expect(models.joins.openCount).toBe(ids.length);
    expect(await outboxRows(b)).toEqual([]);
  });

  it('delivers each entry once in a pass even when a sink takes longer than IMPRESSION_REDELIVER_MS', async () => {
    // The pass claims the entries due (pushing each back by IMPRESSION_REDELIVER_MS) and delivers them; a sink
    // slower than that must not make the same pass claim and deliver them again before their delete.
    const { t, seen } = await withSlowSink(400);
    apps.push(t);
    // Stored with entries due at once and not offered to the lane, as a crash leaves them: the passes deliver them.
    const repo = t.reco.app.get(ImpressionsRepository);
    const ids: string[] = [];
    for (const n of [3, 2]) {
      const batch = slates(n, `slow-${ids.length}`);
      await repo.insertMany(batch, { dueInMs: 0 });
      ids.push(...batch.map((i) => i.slateId));
    }
    await expectEachDeliveredOnce(t, seen, ids);
  });

  it('leaves a live batch still waiting in the delivery lane to the lane, not to a pass', async () => {
    // Served slates are offered to the lane as they are stored; their entries come due IMPRESSION_REDELIVER_MS later.
    // A pass that claims an entry whose batch is still queued behind a slow sink must leave it to the lane.
    const { t, seen } = await withSlowSink(300);
    apps.push(t);
    t.reco.app.get(ModelService).rebuild();
    const log = t.reco.app.get(ImpressionLogService);
    const ids: string[] = [];
    for (let b = 0; b < 4; b++) {
      const r = await t.http.post('/v1/slates').send({ userId: `lane-${b}`, size: 2 });
      expect(r.status).toBe(200);
      ids.push((r.body as { slateId: string }).slateId);
      await log.flush(); // one stored batch (and entry) a slate
    }
    await expectEachDeliveredOnce(t, seen, ids);
  });

  it('claims an entry once and pushes its next try back, doubling', async () => {
    const t = await startTestApp({ ...ENV, IMPRESSION_REDELIVER_MS: '3600000' });
    apps.push(t);
    const repo = t.reco.app.get(ImpressionsRepository);
    const batch = slates(2, 'claim');
    const id = await repo.insertMany(batch, { dueInMs: 0 });
    const first = await repo.claimDue(10, 60_000, 600_000);
    const times = batch.map((i) => i.servedAt.getTime());
    expect(first).toEqual([
      {
        id,
        from: new Date(Math.min(...times)),
        to: new Date(Math.max(...times)),
        slates: 2,
        attempts: 0,
      },
    ]);
    expect(await repo.claimDue(10, 60_000, 600_000)).toEqual([]); // not due for a minute
    const [due] = (await t.reco.db.dataSource.query(
      `SELECT extract(epoch FROM due_at - now())::float8 AS s, attempts FROM impression_outbox WHERE id = $1`,
      [id],
    )) as { s: number; attempts: number }[];
    expect(due.attempts).toBe(1);
    expect(due.s).toBeGreaterThan(55);
    expect(due.s).toBeLessThanOrEqual(60);
    // Made due again: the next try is pushed back twice as far.
    await t.reco.db.dataSource.query(`UPDATE impression_outbox SET due_at = now() WHERE id = $1`, [id]);
    expect((await repo.claimDue(10, 60_000, 600_000))[0].attempts).toBe(1);
    const [again] = (await t.reco.db.dataSource.query(
      `SELECT extract(epoch FROM due_at - now())::float8 AS s FROM impression_outbox WHERE id = $1`,
      [id],
    )) as { s: number }[];
    expect(again.s).toBeGreaterThan(115);
    expect(again.s).toBeLessThanOrEqual(120);
    expect(await repo.outboxBacklog()).toEqual({ batches: 1, oldestMs: expect.any(Number) });
  });
});

describeKafka('the impression outbox with Kafka (real broker, real PostgreSQL)', (kafka) => {
  let a: TestApp | undefined;
  let b: TestApp | undefined;
  afterAll(async () => {
    await a?.close().catch(() => undefined);
    await b?.stop().catch(() => undefined);
  });

  it('publishes the slates a crash left unpublished at the next start, and the learner learns them', async () => {
    const topics = {
      KAFKA_TOPIC_IMPRESSIONS: uniqueKafkaName('obx-imp'),
      KAFKA_TOPIC_CLICKS: uniqueKafkaName('obx-clk'),
      KAFKA_TOPIC_DLQ: uniqueKafkaName('obx-dlq'),
      KAFKA_GROUP_ID: uniqueKafkaName('obx-grp'),
    };
    const env = { ...ENV, KAFKA_BROKERS: kafka.brokers.join(','), ...topics };
    const crashed = await leftByACrash(env, [4, 2]);
    a = crashed.a;
    b = await startTestApp({ ...env, IMPRESSION_REDELIVER_MS: '100' }, a.db);
    await waitFor(
      'the learner to learn the published slates',
      async () =>
        (await metric(b!, 'reco_events_total', '{source="kafka",outcome="learned"}')) >= crashed.ids.length,
      60_000,
    );
    expect(await outboxRows(b)).toEqual([]);
    const client = new Kafka({ clientId: 'test', brokers: kafka.brokers, logLevel: logLevel.NOTHING });
    const admin = client.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topics.KAFKA_TOPIC_IMPRESSIONS);
    await admin.disconnect();
    expect(offsets.reduce((s, p) => s + Number(p.high), 0)).toBe(crashed.ids.length);
    expect(b.reco.app.get(ModelService).joins.openCount).toBe(crashed.ids.length);
  });
});

describe('the impression outbox through real crashes (the built service, real PostgreSQL)', () => {
  let db: TestDatabase;
  let child: ServedCli | undefined;
  beforeAll(async () => {
    ensureBuilt();
    db = await createTestDatabase();
  });
  afterAll(async () => {
    child?.child.kill('SIGKILL');
    await child?.stop();
    await db?.drop();
  });

  it('learns every stored slate once after SIGKILLs under serving load', async () => {
    const env = { ...ENV, LOG_LEVEL: 'info', DATABASE_URL: db.url, IMPRESSION_REDELIVER_MS: '500' };
    child = await serveCli([], env);
    const body = testItems.map((id, i) => JSON.stringify({ id, group: `g${i % 3}` })).join('\n');
    const imported = await fetch(`${child.baseUrl}/v1/items:import`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body,
    });
    expect(imported.status).toBe(200);

    let served = 0;
    for (let round = 0; round < 3; round++) {
      // Eight clients post slates in a loop; the service is killed while they do.
      const base = child.baseUrl;
      let stop = false;
      const clients = Array.from({ length: 8 }, async (_, c) => {
        for (let k = 0; !stop; k++) {
          const r = await fetch(`${base}/v1/slates`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ userId: `r${round}-c${c}-${k % 7}`, size: 3 }),
          }).catch(() => undefined);
          if (r?.status === 200) served++;
        }
      });
      await new Promise((r) => setTimeout(r, 700 + 300 * round));
      child.child.kill('SIGKILL');
      stop = true;
      await Promise.all(clients);
      await child.stop();
      child = await serveCli([], env);
    }
    expect(served).toBeGreaterThan(100);

    // Every slate stored is in the learner's book exactly once (the window is long: all are still open), once
    // the outbox has delivered what the kills left between a write and its hand-over.
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const count = async (sql: string) => Number((await pg.query<{ n: string }>(sql)).rows[0].n);
      await waitFor(
        'the outbox to be empty',
        async () => (await count('SELECT count(*) AS n FROM impression_outbox')) === 0,
        30_000,
      );
      const stored = await count('SELECT count(*) AS n FROM slates');
      expect(stored).toBeGreaterThan(0);
      await waitFor(
        'every stored slate open in the join book',
        async () => (await openJoinsOf(child!.baseUrl)) === stored,
        30_000,
      );
      expect(await openJoinsOf(child.baseUrl)).toBe(stored);
    } finally {
      await pg.end();
    }
  });
});
