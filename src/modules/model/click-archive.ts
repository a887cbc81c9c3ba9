import { Logger } from '@nestjs/common';
import type { JournalClick } from '../../core/ingest/journal-codec';
import type { ModelStateRepository } from './model-state.repository';

/** Clicks written per statement. */
const CHUNK = 5000;
/** Above this many clicks waiting, learning waits for the archive (backpressure). */
const HIGH_WATER = 100_000;

/**
 * The `clicks` table (the click log that export, replay and retraining read, and the dedupe record of every
 * click it holds) written behind the learning path: a batch's accepted clicks are committed inside the batch's
 * learning-log row first (durable, exactly once), then appended here in chunks by their own statements, off the
 * batch's transaction. Until a click is in the table its id is in `pending`, so deduplication (table ∪ pending)
 * never misses it. A crash loses only the queue: recovery re-archives the clicks of every logged batch after the
 * checkpoint (`INSERT ... ON CONFLICT DO NOTHING`), and a checkpoint drains the queue before it deletes the log
 * rows it covers. A failed write is retried with backoff; nothing is dropped.
 */
export class ClickArchive {
  private readonly logger = new Logger(ClickArchive.name);
  private readonly queue: JournalClick[] = [];
  private readonly pending = new Set<string>();
  private running?: Promise<void>;
  private waiters: (() => void)[] = [];
  /** Clicks ever appended, and ever written: `written` reaching a mark means every click before it is stored. */
  private appended = 0;
  private written = 0;
  private markWaiters: { mark: number; resolve: () => void }[] = [];

  constructor(private readonly state: ModelStateRepository) {}

  /** Accepted but not yet in the table. */
  has(eventId: string): boolean {
    return this.pending.has(eventId);
  }

  get size(): number {
    return this.queue.length;
  }

  /** Queue clicks committed in a batch's learning-log row. */
  append(clicks: readonly JournalClick[]): void {
    if (clicks.length === 0) return;
    for (const c of clicks) {
      this.queue.push(c);
      this.pending.add(c.eventId);
    }
    this.appended += clicks.length;
    this.running ??= this.run().finally(() => (this.running = undefined));
  }

  /** Resolves when the queue is below its high-water mark (learning calls it before each batch). */
  async room(): Promise<void> {
    while (this.queue.length > HIGH_WATER) await new Promise<void>((r) => this.waiters.push(r));
  }

  /** A mark for `flushed`: every click appended so far. */
  mark(): number {
    return this.appended;
  }

  /** Resolves when every click appended before `mark` is in the table (later ones may still be queued). */
  flushed(mark = this.appended): Promise<void> {
    if (this.written >= mark) return Promise.resolve();
    return new Promise((resolve) => this.markWaiters.push({ mark, resolve }));
  }

  /** Resolves when every queued click is in the table. */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  private async run(): Promise<void> {
    let backoff = 200;
    while (this.queue.length) {
      const chunk = this.queue.slice(0, CHUNK);
      try {
        await this.state.recordClicks(this.state.dataSource.manager, chunk);
      } catch (e) {
        this.logger.warn(
          { err: e, waiting: this.queue.length },
          `click archive write failed; retrying in ${backoff} ms`,
        );
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 10_000);
        continue;
      }
      backoff = 200;
      this.queue.splice(0, chunk.length);
      for (const c of chunk) this.pending.delete(c.eventId);
      this.written += chunk.length;
      this.markWaiters = this.markWaiters.filter((w) =>
        w.mark <= this.written ? (w.resolve(), false) : true,
      );
      if (this.queue.length <= HIGH_WATER) for (const w of this.waiters.splice(0)) w();
    }
  }
}
