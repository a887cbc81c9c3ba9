import { Registry } from 'prom-client';
import type { AppConfig } from '../../config/config';
import type { MetricsService } from '../metrics/metrics.service';
import type { Impression } from './impression';
import { testImpression as impression } from './impression.fixture';
import { impressionHeapBytes, ImpressionLogService } from './impression-log.service';
import { ImpressionsRepository } from './impressions.repository';

/** Stores rows in memory; refuses (like PostgreSQL) any statement with a row whose user id holds U+0000. */
class MemoryRepository extends ImpressionsRepository {
  rows: Impression[] = [];
  statements = 0;
  down = false;
  insertMany(batch: readonly Impression[]): Promise<void> {
    this.statements++;
    if (this.down)
      return Promise.reject(Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' }));
    if (batch.some((i) => i.userId.includes('\u0000'))) {
      return Promise.reject(Object.assign(new Error('invalid byte sequence'), { code: '22021' }));
    }
    for (const i of batch) if (!this.rows.some((r) => r.slateId === i.slateId)) this.rows.push(i);
    return Promise.resolve();
  }
  findById(): Promise<Impression | null> {
    return Promise.resolve(null);
  }
}

function setup(impressionBufferBytes = Infinity) {
  const repo = new MemoryRepository();
  const registry = new Registry();
  const config = { serving: { impressionFlushMs: 60_000, impressionBufferBytes } } as AppConfig;
  const log = new ImpressionLogService(config, repo, { registry } as MetricsService);
  const sunk: string[] = [];
  log.addSink((batch) => {
    sunk.push(...batch.map((i) => i.slateId));
  });
  const metric = async (name: string) => (await registry.getSingleMetric(name)!.get()).values[0].value;
  return { repo, log, sunk, metric };
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
});
