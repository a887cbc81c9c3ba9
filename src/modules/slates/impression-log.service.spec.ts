import { Registry } from 'prom-client';
import type { AppConfig } from '../../config/config';
import type { MetricsService } from '../metrics/metrics.service';
import type { Impression } from './impression';
import { testImpression } from './impression.fixture';
import { impressionHeapBytes, ImpressionLogService } from './impression-log.service';
import { ImpressionDeliveryService, SHUTDOWN_DELIVERY_MS } from './impression-delivery.service';
import { ImpressionsRepository, type OutboxEntry } from './impressions.repository';

/**
 * Stores rows and outbox entries in memory; refuses (like PostgreSQL) any statement with a row whose user id
 * holds U+0000. Due times run on `now`, which the tests move.
 */
class MemoryRepository extends ImpressionsRepository {
  rows: Impression[] = [];
  outbox = new Map<string, OutboxEntry & { dueAt: number }>();
  statements = 0;
  down = false;
  now = 0;
  private nextId = 1;
  insertMany(batch: readonly Impression[], outbox?: { dueInMs: number }): Promise<string | null> {
    this.statements++;
    if (this.down)
      return Promise.reject(Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' }));
    if (batch.some((i) => i.userId.includes('\u0000'))) {
      return Promise.reject(Object.assign(new Error('invalid byte sequence'), { code: '22021' }));
    }
    const stored = batch.filter((i) => !this.rows.some((r) => r.slateId === i.slateId));
    this.rows.push(...stored);
    if (!outbox || stored.length === 0) return Promise.resolve(null);
    const id = String(this.nextId++);
    const times = stored.map((i) => i.servedAt.getTime());
    this.outbox.set(id, {
      id,
      from: new Date(Math.min(...times)),
      to: new Date(Math.max(...times)),
      slates: stored.length,
      attempts: 0,
      dueAt: this.now + outbox.dueInMs,
    });
    return Promise.resolve(id);
  }
  findById(): Promise<Impression | null> {
    return Promise.resolve(null);
  }
  findServed(
    from: Date,
    to: Date,
    limit: number,
    after?: { servedAt: Date; slateId: string },
  ): Promise<Impression[]> {
    const key = (i: { servedAt: Date; slateId: string }) =>
      `${String(i.servedAt.getTime()).padStart(15, '0')}/${i.slateId}`;
    return Promise.resolve(
      this.rows
        .filter((r) => r.servedAt >= from && r.servedAt <= to && (!after || key(r) > key(after)))
        .sort((a, b) => (key(a) < key(b) ? -1 : 1))
        .slice(0, limit),
    );
  }
  delivered(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.outbox.delete(id);
    return Promise.resolve();
  }
  claimDue(limit: number, retryMs: number, maxRetryMs: number): Promise<OutboxEntry[]> {
    const due = [...this.outbox.values()].filter((e) => e.dueAt <= this.now).slice(0, limit);
    for (const e of due) {
      e.dueAt = this.now + Math.min(retryMs * 2 ** e.attempts, maxRetryMs);
      e.attempts++;
    }
    return Promise.resolve(
      due.map((e) => ({ id: e.id, from: e.from, to: e.to, slates: e.slates, attempts: e.attempts - 1 })),
    );
  }
  outboxBacklog(): Promise<{ batches: number; oldestMs: number | null }> {
    return Promise.resolve({ batches: this.outbox.size, oldestMs: this.outbox.size ? 0 : null });
  }
}

const REDELIVER_MS = 60_000;

/** A slate served at its own millisecond: each batch's outbox interval holds its slates alone. */
let servedAt = 0;
const impression = (slateId: string, userId?: string): Impression => ({
  ...testImpression(slateId, userId),
  servedAt: new Date(++servedAt),
});

function setup(impressionBufferBytes = Infinity) {
  const repo = new MemoryRepository();
  const registry = new Registry();
  const config = {
    serving: { impressionFlushMs: 60_000, impressionBufferBytes, redeliverMs: REDELIVER_MS },
  } as AppConfig;
  const metrics = { registry } as MetricsService;
  const delivery = new ImpressionDeliveryService(config, repo, metrics);
  const log = new ImpressionLogService(config, repo, delivery, metrics);
  const sunk: string[] = [];
  delivery.addSink((batch) => {
    sunk.push(...batch.map((i) => i.slateId));
  });
  const metric = async (name: string, labels?: Record<string, string>) => {
    const values = (await registry.getSingleMetric(name)!.get()).values;
    const v = labels
      ? values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l))
      : values[0];
    return v?.value ?? 0;
  };
  return { repo, log, delivery, sunk, metric };
}

describe('ImpressionLogService', () => {
  it('writes a batch in one statement and passes it to the sinks', async () => {
    const { repo, log, sunk } = setup();
    for (const id of ['s1', 's2', 's3']) log.record(impression(id));
    await log.flush();
    expect(repo.statements).toBe(1);
    expect(repo.rows.map((r) => r.slateId)).toEqual(['s1', 's2', 's3']);
    expect(sunk).toEqual(['s1', 's2', 's3']);
  });

  it('drops a row the database refuses instead of retrying the batch forever', async () => {
    const { repo, log, sunk, metric } = setup();
    log.record(impression('s1'));
    log.record(impression('bad', 'a\u0000b'));
    log.record(impression('s3'));
    await log.flush();
    expect(repo.rows.map((r) => r.slateId)).toEqual(['s1', 's3']);
    expect(sunk).toEqual(['s1', 's3']);
    expect(await metric('reco_impressions_dropped_total')).toBe(1);
    expect(await metric('reco_impressions_logged_total')).toBe(2);
    // The log is not stuck: the next slate goes through in one statement.
    const before = repo.statements;
    log.record(impression('s4'));
    await log.flush();
    expect(repo.statements).toBe(before + 1);
    expect(sunk).toEqual(['s1', 's3', 's4']);
  });

  it('holds at most IMPRESSION_BUFFER_MB while the database is down: later slates are counted as lost, not kept', async () => {
    const { repo, log, sunk, metric } = setup(3 * impressionHeapBytes(1));
    repo.down = true;
    const kept = ['s1', 's2', 's3', 's4', 's5'].map((id) => log.record(impression(id)));
    expect(kept).toEqual([true, true, true, false, false]);
    await expect(log.flush()).rejects.toThrow(/connection refused/);
    expect(await metric('reco_impressions_lost_total')).toBe(2);
    repo.down = false;
    await log.flush();
    expect(sunk).toEqual(['s1', 's2', 's3']);
    // Written, the buffer has room again.
    expect(log.record(impression('s6'))).toBe(true);
    await log.flush();
    expect(repo.rows.map((r) => r.slateId)).toEqual(['s1', 's2', 's3', 's6']);
  });

  it('keeps its backoff while writes fail: a full batch does not retry at the request rate', async () => {
    jest.useFakeTimers();
    try {
      const { repo, log } = setup();
      repo.down = true;
      for (let k = 0; k < 1000; k++) log.record(impression(`a${k}`)); // a full batch: written at once
      await jest.advanceTimersByTimeAsync(0);
      expect(repo.statements).toBe(1); // failed; the next try in 5 s (min(5 s, flush interval × 2))
      for (let k = 0; k < 2000; k++) log.record(impression(`b${k}`));
      await jest.advanceTimersByTimeAsync(4000);
      expect(repo.statements).toBe(1);
      repo.down = false;
      await jest.advanceTimersByTimeAsync(1000);
      expect(repo.rows).toHaveLength(3000); // the backoff's try wrote everything, batch after batch
    } finally {
      jest.useRealTimers();
    }
  });

  it('keeps the whole batch when the database is down, and writes it once it is back', async () => {
    const { repo, log, sunk, metric } = setup();
    repo.down = true;
    log.record(impression('s1'));
    log.record(impression('s2'));
    await expect(log.flush()).rejects.toThrow(/connection refused/);
    expect(sunk).toEqual([]);
    expect(await metric('reco_impressions_dropped_total')).toBe(0);
    repo.down = false;
    await log.flush();
    expect(repo.rows.map((r) => r.slateId)).toEqual(['s1', 's2']);
    expect(sunk).toEqual(['s1', 's2']);
  });

  it('writes an outbox entry with each stored batch, and deletes it once the sinks took the batch', async () => {
    const { repo, log, sunk } = setup();
    log.record(impression('s1'));
    log.record(impression('s2'));
    await log.flush();
    expect(sunk).toEqual(['s1', 's2']);
    expect(repo.outbox.size).toBe(0);
    expect(repo.statements).toBe(1); // the entry goes with the batch's own statement (transaction)
  });

  it('leaves a batch a sink failed on in the outbox, and delivers it again once due, with backoff', async () => {
    const { repo, log, delivery, sunk, metric } = setup();
    let failing = true;
    delivery.addSink(() => (failing ? Promise.reject(new Error('learner down')) : undefined));
    log.record(impression('s1'));
    log.record(impression('s2'));
    await log.flush();
    expect(sunk).toEqual(['s1', 's2']); // the first sink took it, the second refused
    expect([...repo.outbox.values()].map((e) => e.slates)).toEqual([2]);
    expect(await metric('reco_impressions_deferred_total', { reason: 'sink_failed' })).toBe(2);

    // Not due yet: nothing happens.
    repo.now = REDELIVER_MS - 1;
    expect(await delivery.redeliver()).toBe(0);
    // Due, but the sink still fails: tried once, then not before its backoff (the redelivery interval, doubled after).
    repo.now = REDELIVER_MS;
    expect(await delivery.redeliver()).toBe(0);
    expect(await delivery.redeliver()).toBe(0);
    expect(sunk).toEqual(['s1', 's2', 's1', 's2']);
    repo.now = 2 * REDELIVER_MS;
    failing = false;
    expect(await delivery.redeliver()).toBe(2);
    expect(sunk).toEqual(['s1', 's2', 's1', 's2', 's1', 's2']);
    expect(repo.outbox.size).toBe(0);
    expect(await metric('reco_impressions_redelivered_total')).toBe(2);
    expect(await metric('reco_impression_outbox_batches')).toBe(0);
  });

  it('delivers what a crash left in the outbox: stored slates that never reached the sinks', async () => {
    const { repo, delivery, sunk } = setup();
    // What the transaction of a process killed before its delivery leaves behind.
    await repo.insertMany([impression('c1'), impression('c2')], { dueInMs: REDELIVER_MS });
    await repo.insertMany([impression('c3')], { dueInMs: REDELIVER_MS });
    repo.now = REDELIVER_MS;
    expect(await delivery.redeliver()).toBe(3);
    expect(sunk).toEqual(['c1', 'c2', 'c3']);
    expect(repo.outbox.size).toBe(0);
  });

  it('does not hold the writes back behind a slow sink: batches past the lane are left to the outbox', async () => {
    const { repo, log, delivery, sunk, metric } = setup();
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    delivery.addSink(() => blocked);
    for (let b = 0; b < 12; b++) {
      log.record(impression(`b${b}`));
      await (log as unknown as { writeAll(): Promise<void> }).writeAll(); // the timer's write
    }
    expect(repo.rows).toHaveLength(12); // every batch stored while the sink hangs
    // The batch in the sink and 7 behind it wait in the lane (8 in all); 4 more were left to the outbox.
    expect(await metric('reco_impressions_deferred_total', { reason: 'behind' })).toBe(4);
    release();
    await delivery.settled();
    expect(sunk).toEqual(Array.from({ length: 8 }, (_, b) => `b${b}`));
    repo.now = REDELIVER_MS;
    expect(await delivery.redeliver()).toBe(4);
    expect(sunk.slice(8)).toEqual(['b8', 'b9', 'b10', 'b11']);
    expect(repo.outbox.size).toBe(0);
  });

  it('writes what was buffered when the timer fired: slates served during that write wait for the next timer', async () => {
    jest.useFakeTimers();
    try {
      const { repo, log } = setup();
      const sizes: number[] = [];
      let release: (() => void) | undefined;
      const insert = repo.insertMany.bind(repo);
      repo.insertMany = async (batch, outbox) => {
        sizes.push(batch.length);
        await new Promise<void>((r) => (release = r)); // the database takes its time
        return insert(batch, outbox);
      };
      for (let k = 0; k < 5; k++) log.record(impression(`a${k}`));
      await jest.advanceTimersByTimeAsync(60_000); // the flush interval: the write of 5 starts
      expect(sizes).toEqual([5]);
      for (let k = 0; k < 3; k++) log.record(impression(`b${k}`)); // served while it runs
      release!();
      await jest.advanceTimersByTimeAsync(0);
      expect(sizes).toEqual([5]); // not written back to back
      await jest.advanceTimersByTimeAsync(60_000);
      expect(sizes).toEqual([5, 3]);
      release!();
      await jest.advanceTimersByTimeAsync(0);
      expect(repo.rows).toHaveLength(8);
    } finally {
      jest.useRealTimers();
    }
  });

  it('does not hang at shutdown on a sink that hangs: the slates are stored and stay in the outbox', async () => {
    jest.useFakeTimers();
    try {
      const { repo, log, delivery } = setup();
      delivery.addSink(() => new Promise<void>(() => undefined)); // a broker outage: never answers
      log.record(impression('h1'));
      log.record(impression('h2'));
      let closed = false;
      const shutdown = Promise.all([
        log.beforeApplicationShutdown(),
        delivery.beforeApplicationShutdown(),
      ]).then(() => (closed = true));
      await jest.advanceTimersByTimeAsync(SHUTDOWN_DELIVERY_MS - 1);
      expect(closed).toBe(false);
      await jest.advanceTimersByTimeAsync(1);
      await shutdown;
      expect(repo.rows.map((r) => r.slateId)).toEqual(['h1', 'h2']);
      expect([...repo.outbox.values()].map((e) => e.slates)).toEqual([2]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('waits at shutdown once, not once a hook: the two hooks share one deadline, in either order', async () => {
    jest.useFakeTimers();
    try {
      const { repo, log, delivery } = setup();
      delivery.addSink(() => new Promise<void>(() => undefined));
      log.record(impression('o1'));
      await (log as unknown as { writeAll(): Promise<void> }).writeAll(); // stored; its delivery hangs
      log.record(impression('o2'));
      let closed = false;
      // The delivery's hook first (a delivery in flight), then the log's, which still has a slate to write and offer.
      void delivery
        .beforeApplicationShutdown()
        .then(() => log.beforeApplicationShutdown())
        .then(() => (closed = true));
      await jest.advanceTimersByTimeAsync(SHUTDOWN_DELIVERY_MS);
      await jest.advanceTimersByTimeAsync(1); // the second hook's wait: what is left of the deadline, 0
      expect(closed).toBe(true); // a wait of its own would end 10 s later
      expect(repo.rows.map((r) => r.slateId)).toEqual(['o1', 'o2']);
    } finally {
      jest.useRealTimers();
    }
  });
});
