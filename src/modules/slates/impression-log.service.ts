import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { ThrottledCount } from '../../common/logging/throttled-count';
import { APP_CONFIG, type AppConfig } from '../../config/config';
import { sqlState } from '../../database/sql-state';
import { MetricsService } from '../metrics/metrics.service';
import type { Impression } from './impression';
import { ImpressionDeliveryService } from './impression-delivery.service';
import { ImpressionsRepository } from './impressions.repository';

const MAX_BATCH = 1000;
const MAX_BACKOFF_MS = 5000;
/** Lost slates are logged at most this often. */
const LOST_WARN_MS = 10_000;

/**
 * Heap a buffered impression takes, estimated: ≈ 950 bytes and 125 an item (measured: 1,066, 2,074 and 7,074 bytes
 * at 1, 10 and 50 items, after a full collection over 10^5 of them). Its context, the client's own JSON, is not
 * counted (its size is known only once serialised).
 */
export function impressionHeapBytes(items: number): number {
  return 950 + 125 * items;
}

/**
 * Write-behind log of served slates: a request appends to a buffer and returns; the buffer is written to
 * PostgreSQL in multi-row batches every `IMPRESSION_FLUSH_MS` (or at once when a batch is full). A failed
 * write keeps the batch and retries with backoff; shutdown flushes what is left. The trade-off, written
 * down in docs/serving.md: a crash can lose the last flush interval of impressions, never a committed one,
 * and a request never waits for the database. While the database cannot take them, the buffer holds at most
 * `IMPRESSION_BUFFER_MB` (estimated, `impressionHeapBytes`): a slate past it is served but not logged
 * (`reco_impressions_lost_total`), rather than the buffer outgrowing the heap. A stored batch goes on to the
 * sinks through ImpressionDeliveryService, with an outbox entry written in the batch's own transaction.
 */
@Injectable()
export class ImpressionLogService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(ImpressionLogService.name);
  private buffer: Impression[] = [];
  /** Σ `impressionHeapBytes` over the buffer. */
  private bufferBytes = 0;
  /** Lost slates, logged at most once every LOST_WARN_MS. */
  private readonly lostWarning = new ThrottledCount(LOST_WARN_MS);
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private failures = 0;
  private readonly written: Counter;
  private readonly dropped: Counter;
  private readonly pending: Gauge;
  private readonly lost: Counter;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repo: ImpressionsRepository,
    private readonly delivery: ImpressionDeliveryService,
    metrics: MetricsService,
  ) {
    this.written = new Counter({
      name: 'reco_impressions_logged_total',
      help: 'Served slates written to the impression log.',
      registers: [metrics.registry],
    });
    this.dropped = new Counter({
      name: 'reco_impressions_dropped_total',
      help: 'Served slates the database refused (invalid data), dropped from the log.',
      registers: [metrics.registry],
    });
    this.lost = new Counter({
      name: 'reco_impressions_lost_total',
      help: 'Served slates not logged (nor learned from): the buffer was at IMPRESSION_BUFFER_MB while the database could not take them.',
      registers: [metrics.registry],
    });
    this.pending = new Gauge({
      name: 'reco_impressions_pending',
      help: 'Served slates waiting to be written.',
      registers: [metrics.registry],
      collect: () => this.pending.set(this.buffer.length),
    });
  }

  /** Buffer a served slate; false (counted, warned) when the buffer is full: the slate is not logged. */
  record(impression: Impression): boolean {
    const bytes = impressionHeapBytes(impression.items.length);
    if (this.bufferBytes + bytes > this.config.serving.impressionBufferBytes && this.buffer.length > 0) {
      this.noteLost();
      return false;
    }
    this.buffer.push(impression);
    this.bufferBytes += bytes;
    // A full batch is written at once, unless writes are failing: then the backoff's timer stands (a write at
    // every request would retry at the request rate, each building a batch's COPY text for nothing).
    if (this.buffer.length >= MAX_BATCH && this.failures === 0) this.schedule(0);
    else this.schedule(this.config.serving.impressionFlushMs);
    return true;
  }

  private noteLost(): void {
    this.lost.inc();
    const lost = this.lostWarning.take();
    if (lost === undefined) return;
    this.logger.warn({
      msg: 'served slates not logged: the impression buffer is full while the database cannot take them',
      lost,
      pending: this.buffer.length,
      bufferMb: Math.round(this.bufferBytes / 1048576),
      limitMb: Math.round(this.config.serving.impressionBufferBytes / 1048576),
    });
  }

  /** Write everything buffered, until nothing is, and wait until the sinks took it (tests and shutdown call it). */
  async flush(): Promise<void> {
    await this.writeAll(true);
    await this.delivery.settled();
  }

  /**
   * Write what is buffered when it starts, in batches of at most MAX_BATCH (the timer's; the deliveries go on
   * behind); with `drain`, also what comes meanwhile, until nothing is left. Slates served during the write wait
   * for the next timer: before the fifteenth session the timer's write went on with them at once, so under load
   * the log wrote back to back, batches of what came during one write (≈ 25 slates at 5,000 slates/s, 200
   * statements and learner batches a second instead of ≈ 20), each with its fixed costs.
   */
  private async writeAll(drain = false): Promise<void> {
    while (this.flushing) await this.flushing;
    let left = drain ? Infinity : this.buffer.length;
    while (this.buffer.length > 0 && left > 0) {
      const batch = this.buffer.slice(0, Math.min(MAX_BATCH, left));
      left -= batch.length;
      this.flushing = this.writeBatch(batch);
      try {
        await this.flushing;
      } finally {
        this.flushing = undefined;
      }
      for (const i of batch) this.bufferBytes -= impressionHeapBytes(i.items.length);
      this.buffer.splice(0, batch.length);
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    try {
      await this.writeAll(true);
    } catch (e) {
      this.logger.error(
        { err: e, lost: this.buffer.length },
        'could not write the last served slates at shutdown',
      );
    }
    await this.delivery.drainForShutdown();
  }

  /** Store a batch with its outbox entries (when the slates go anywhere), then offer it for delivery. */
  private async writeBatch(batch: Impression[]): Promise<void> {
    const { stored, outboxIds } = await this.insert(batch);
    this.written.inc(stored.length);
    this.delivery.offer(stored, outboxIds);
  }

  /**
   * Insert a batch; if PostgreSQL refuses the data of a row (the request schema should have caught it), insert
   * the rows one by one and drop the refused ones, logged and counted. Retrying a batch that can never be
   * written would hold back every later slate, and the buffer would grow without bound. Any other failure
   * (connection, server) rejects, and the whole batch is retried.
   */
  private async insert(batch: Impression[]): Promise<{ stored: Impression[]; outboxIds: string[] }> {
    const outbox = this.delivery.active ? { dueInMs: this.config.serving.redeliverMs } : undefined;
    const outboxIds: string[] = [];
    try {
      const id = await this.repo.insertMany(batch, outbox);
      if (id !== null) outboxIds.push(id);
      return { stored: batch, outboxIds };
    } catch (e) {
      if (!isRowDataError(e)) throw e;
    }
    const stored: Impression[] = [];
    for (const impression of batch) {
      try {
        const id = await this.repo.insertMany([impression], outbox);
        if (id !== null) outboxIds.push(id);
        stored.push(impression);
      } catch (e) {
        if (!isRowDataError(e)) throw e;
        this.dropped.inc();
        this.logger.error(
          { err: e, slateId: impression.slateId },
          'served slate refused by the database, dropped',
        );
      }
    }
    return { stored, outboxIds };
  }

  private schedule(delayMs: number): void {
    if (this.timer) {
      if (delayMs > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writeAll().then(
        () => {
          this.failures = 0;
        },
        (e: unknown) => {
          this.failures++;
          const backoff = Math.min(
            MAX_BACKOFF_MS,
            this.config.serving.impressionFlushMs * 2 ** this.failures,
          );
          this.logger.warn(
            { err: e, pending: this.buffer.length, retryInMs: backoff },
            'impression write failed',
          );
          this.schedule(backoff);
        },
      );
    }, delayMs);
    this.timer.unref?.();
  }
}

/** A PostgreSQL data exception (SQLSTATE class 22) or integrity violation (class 23): the row, not the server. */
function isRowDataError(e: unknown): boolean {
  const code = sqlState(e);
  return code !== undefined && (code.startsWith('22') || code.startsWith('23'));
}
