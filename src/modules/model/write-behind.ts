import { Logger } from '@nestjs/common';

/** Rows written per statement. */
const CHUNK = 5000;
/** Above this many rows waiting, learning waits for the writer (backpressure). */
const HIGH_WATER = 100_000;

/**
 * A table written behind the learning path: rows a batch committed inside its learning-log row (durable, exactly
 * once) are appended here after the commit and written in chunks by their own statements, off the batch's
 * transaction, in the order they were appended, by one writer. Until a row is written its key is in `pending`,
 * so a reader that checks table ∪ pending never misses it. A crash loses only the queue: recovery writes again
 * the rows of every logged batch after the checkpoint (idempotent statements), and a checkpoint waits until the
 * rows of the batches it covers are written (`mark`, `flushed`), since it deletes their log rows. A failed write
 * is retried with backoff; nothing is dropped.
 */
export class WriteBehind<T> {
  private readonly logger: Logger;
  private readonly queue: T[] = [];
  /** Keys waiting, with how many of their rows are queued (a key may be queued twice: the later row wins). */
  private readonly pending = new Map<string, number>();
  /** The latest queued row of each waiting key. */
  private readonly latestRow = new Map<string, T>();
  private running?: Promise<void>;
  private waiters: (() => void)[] = [];
  /** Rows ever appended, and ever written: `written` reaching a mark means every row before it is stored. */
  private appended = 0;
  private written = 0;
  private markWaiters: { mark: number; resolve: () => void }[] = [];

  constructor(
    name: string,
    private readonly keyOf: (row: T) => string,
    private readonly write: (rows: T[]) => Promise<unknown>,
  ) {
    this.logger = new Logger(name);
  }

  /** Accepted but not yet in the table. */
  has(key: string): boolean {
    return this.pending.has(key);
  }

  /** The latest row queued under `key` and not yet written (undefined: none waiting). */
  latest(key: string): T | undefined {
    return this.latestRow.get(key);
  }

  get size(): number {
    return this.queue.length;
  }

  /** Queue rows committed in a batch's learning-log row. */
  append(rows: readonly T[]): void {
    if (rows.length === 0) return;
    for (const r of rows) {
      this.queue.push(r);
      const k = this.keyOf(r);
      this.pending.set(k, (this.pending.get(k) ?? 0) + 1);
      this.latestRow.set(k, r);
    }
    this.appended += rows.length;
    this.running ??= this.run().finally(() => (this.running = undefined));
  }

  /** Resolves when the queue is below its high-water mark (learning calls it before each batch). */
  async room(): Promise<void> {
    while (this.queue.length > HIGH_WATER) await new Promise<void>((r) => this.waiters.push(r));
  }

  /** A mark for `flushed`: every row appended so far. */
  mark(): number {
    return this.appended;
  }

  /** Resolves when every row appended before `mark` is in the table (later ones may still be queued). */
  flushed(mark = this.appended): Promise<void> {
    if (this.written >= mark) return Promise.resolve();
    return new Promise((resolve) => this.markWaiters.push({ mark, resolve }));
  }

  /**
   * Write rows now, in chunks and in order, with the queue's own statement, bypassing the queue (recovery, before
   * anything is queued); rejects on the first failure.
   */
  async writeNow(rows: readonly T[]): Promise<void> {
    for (let k = 0; k < rows.length; k += CHUNK) await this.write(rows.slice(k, k + CHUNK));
  }

  /** Resolves when every queued row is in the table. */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  private async run(): Promise<void> {
    let backoff = 200;
    while (this.queue.length) {
      const chunk = this.queue.slice(0, CHUNK);
      try {
        await this.write(chunk);
      } catch (e) {
        this.logger.warn({ err: e, waiting: this.queue.length }, `write failed; retrying in ${backoff} ms`);
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 10_000);
        continue;
      }
      backoff = 200;
      this.queue.splice(0, chunk.length);
      for (const r of chunk) {
        const k = this.keyOf(r);
        const left = (this.pending.get(k) ?? 1) - 1;
        if (left > 0) this.pending.set(k, left);
        else {
          this.pending.delete(k);
          this.latestRow.delete(k);
        }
      }
      this.written += chunk.length;
      this.markWaiters = this.markWaiters.filter((w) =>
        w.mark <= this.written ? (w.resolve(), false) : true,
      );
      if (this.queue.length <= HIGH_WATER) for (const w of this.waiters.splice(0)) w();
    }
  }
}
