import { Worker } from 'node:worker_threads';
import { workerScript } from '../../common/workers/worker-script';
import type { ServingSnapshot } from '../../core/model/serving-snapshot';
import type { PolicyConfig } from '../../core/policies/policy-config.schema';
import { NoCandidatesError, PolicyInputError } from '../../core/policies/policy-errors';
import {
  cancelTable,
  hasStarted,
  markCancelled,
  PACKED_ITEM,
  type FromWorker,
  type ServedMessage,
  type ServeMessage,
  type SnapshotMessage,
} from './slate-pool.protocol';

/** Workers replaced at most this many times a minute. */
const MAX_RESTARTS = 5;

/** How much longer than `timeoutMs` a worker that has not started yet may take with a request. */
const BOOT_GRACE_MS = 30_000;

/** What the caller asks a worker for (item indices, the user's vector already resolved). */
export interface PoolRequest {
  readonly policy: PolicyConfig;
  readonly user?: Float32Array;
  readonly size: number;
  readonly candidates?: readonly number[];
  readonly exclude?: readonly number[];
  readonly seed: number;
}

/** A served item as the response and the impression log carry it (its index mapped to its id). */
export interface PoolItem {
  readonly itemId: string;
  readonly position: number;
  readonly score: number;
  readonly propensity: number;
  readonly inSlateProbability: number;
}

/** The worker's slate: `ServedMessage` without the message fields, its items unpacked. */
export type PoolServed = Omit<ServedMessage, 'kind' | 'id' | 'items'> & { readonly items: PoolItem[] };

/**
 * The worker did not answer this request within the pool's `timeoutMs` and was stopped: answer 503, never serve
 * it in-process (a request that hangs a worker would hang the serving thread too).
 */
export class SlateTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SlateTimeoutError';
  }
}

/** The request was cancelled (`serve`'s `onCancel`) before its worker started it: nothing was computed. */
export class SlateCancelledError extends Error {
  constructor() {
    super('slate request cancelled before its worker started it');
    this.name = 'SlateCancelledError';
  }
}

/**
 * The request waited longer than the pool's `queueMs` for its worker (`SLATE_QUEUE_MS`) and was dropped from the
 * queue before the worker started it: nothing was computed. Answer 503 with Retry-After: the service is overloaded.
 */
export class SlateOverloadedError extends Error {
  constructor(
    readonly waitedMs: number,
    readonly limitMs: number,
  ) {
    super(`waited ${Math.round(waitedMs)} ms for a slate worker, longer than SLATE_QUEUE_MS (${limitMs} ms)`);
    this.name = 'SlateOverloadedError';
  }
}

/** A worker failed (died, or could not be started) while it had this request: serve it in-process instead. */
export class SlateWorkerLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SlateWorkerLostError';
  }
}

interface Slot {
  worker: Worker;
  /** Started (its `ready` message came): only then does a request's time count towards `timeoutMs`. */
  ready: boolean;
  /** The snapshot this worker was last sent. */
  sent: ServingSnapshot | null;
  /** Cancelled requests' ids, shared with the worker (see `CANCEL_SLOTS`). */
  cancelled: Int32Array;
  /** Requests in flight, oldest first (a worker answers in order). */
  pending: Map<number, Pending>;
}

interface Pending {
  snap: ServingSnapshot;
  /** When it was sent (or when its worker became ready, if later): its time in the queue counts from here. */
  sentAt: number;
  /** Dropped for waiting too long (`queueMs`): if the worker skips it after all, it is overloaded, not cancelled. */
  shed?: boolean;
  resolve: (s: PoolServed) => void;
  reject: (e: Error) => void;
}

/**
 * Serves slates on `size` worker threads (`SERVING_THREADS`), so that choosing slates (scoring, Thompson draws,
 * Monte Carlo propensities: all but ~0.7 ms of a slate's CPU on a 10k catalogue) uses the machine's other cores
 * while the serving thread parses, validates, logs and answers. A request goes to the worker with the fewest
 * requests in flight; each worker is sent a snapshot the first time a request on it needs that snapshot
 * (before the request, on the same port: see slate-pool.protocol.ts), and lays it out itself.
 *
 * The result is the same as in-process serving (same `serveSlate`, snapshot and seed; tested bit for bit). A
 * worker that dies is dropped (its requests in flight reject with `SlateWorkerLostError`, which the caller
 * serves in-process) and replaced a second later (at most `MAX_RESTARTS` times a minute); with no worker left,
 * `serve` returns null and the caller serves in-process. A worker that has not answered its oldest request within
 * `timeoutMs` (a bug that loops, a machine starved of CPU; counted from the worker's start for a request sent while
 * a new worker was still loading its code) is stopped and replaced the same way: that request
 * rejects with `SlateTimeoutError` (it may be what hangs the worker, so it is not tried again), the others it held
 * (queued behind it, never started) with `SlateWorkerLostError`. Without this, their callers would wait for
 * good, each holding its snapshot's memory. With `queueMs`, a request still queued after that long is dropped
 * (`SlateOverloadedError`, see `shedQueued`).
 */
export class SlatePool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;
  /** When workers were last replaced (at most `MAX_RESTARTS` a minute: a worker that keeps dying stays dead). */
  private readonly restarts: number[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly watchdog?: NodeJS.Timeout;
  private readonly restartDelayMs: number;
  private readonly timeoutMs: number;
  private readonly queueMs: number;

  /**
   * @param options.restartDelayMs how long after a worker is lost its replacement starts (default 1 s)
   * @param options.timeoutMs how long a started worker may take with a request before it is stopped (default 10 s)
   * @param options.queueMs how long a request may wait for its worker to start it before it is dropped with
   *   `SlateOverloadedError` (default 0: no limit)
   */
  constructor(
    size: number,
    private readonly onWorkerError: (e: Error) => void = () => undefined,
    options: { restartDelayMs?: number; timeoutMs?: number; queueMs?: number } = {},
  ) {
    this.restartDelayMs = options.restartDelayMs ?? 1000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.queueMs = options.queueMs ?? 0;
    const script = workerScript(__dirname, 'slate-worker.js');
    if (!script) {
      if (size > 0) onWorkerError(new Error('slate-worker.js not found: serving in-process'));
      return;
    }
    for (let i = 0; i < size; i++) this.add(script);
    // Checked a few times per limit: a stalled request is answered within 1.25 × timeoutMs, a queued one dropped
    // within 1.25 × queueMs.
    const every = Math.min(1000, this.timeoutMs / 4, this.queueMs > 0 ? this.queueMs / 4 : Infinity);
    this.watchdog = setInterval(
      () => {
        this.stopStalled();
        this.shedQueued();
      },
      Math.max(10, every),
    );
    this.watchdog.unref();
  }

  /**
   * Drop every request that has waited longer than `queueMs` and that its worker has not started: marked cancelled
   * (the worker skips it) and rejected now with `SlateOverloadedError`. A request the worker has started is left to
   * finish, and requests sent to a worker still starting count from its start (as for `timeoutMs`). Under overload a
   * first-come-first-served queue otherwise grows until every request waits longer than its client does, and the
   * worker computes slates no one receives.
   */
  private shedQueued(): void {
    if (this.queueMs <= 0) return;
    const now = performance.now();
    for (const slot of this.slots) {
      if (!slot.ready) continue; // a new worker's boot is not queueing: its requests count from its start
      for (const [id, p] of slot.pending) {
        const waited = now - p.sentAt;
        if (waited <= this.queueMs) break; // in the order sent: the rest have waited less
        if (p.shed || hasStarted(slot.cancelled, id)) continue;
        p.shed = true;
        markCancelled(slot.cancelled, id);
        // Started in between: its answer settles it (served, or skipped: then overloaded, see the port's handler).
        if (hasStarted(slot.cancelled, id)) continue;
        slot.pending.delete(id);
        p.reject(new SlateOverloadedError(waited, this.queueMs));
      }
    }
  }

  /** Stop every worker whose oldest request in flight is older than `timeoutMs` (see the class comment). */
  private stopStalled(): void {
    const now = performance.now();
    for (const slot of [...this.slots]) {
      const oldest = slot.pending.entries().next();
      // A worker still booting gets BOOT_GRACE_MS more (its requests' time restarts when it is ready).
      const limit = slot.ready ? this.timeoutMs : this.timeoutMs + BOOT_GRACE_MS;
      if (oldest.done || now - oldest.value[1].sentAt <= limit) continue;
      const [id, request] = oldest.value;
      slot.pending.delete(id);
      const message = `slate worker did not answer a request in ${this.timeoutMs} ms (SLATE_TIMEOUT_MS): stopped`;
      request.reject(new SlateTimeoutError(message));
      this.drop(slot, new Error(message));
      void slot.worker.terminate();
    }
  }

  private add(script: string): void {
    try {
      this.slots.push(this.spawn(script));
    } catch (e) {
      this.onWorkerError(e as Error);
    }
  }

  /** Workers alive. */
  get size(): number {
    return this.slots.length;
  }

  /**
   * Serve on a worker, or null when there is none (serve in-process then). With `onCancel`, the pool registers a
   * function that cancels the request: called before the worker starts it, the worker skips it and the promise
   * rejects with `SlateCancelledError`; later, it changes nothing.
   */
  serve(
    snap: ServingSnapshot,
    req: PoolRequest,
    onCancel?: (cancel: () => void) => void,
  ): Promise<PoolServed> | null {
    let slot: Slot | null = null;
    for (const s of this.slots) if (!slot || s.pending.size < slot.pending.size) slot = s;
    if (!slot) return null;
    if (slot.sent !== snap) {
      slot.worker.postMessage(snapshotMessage(snap));
      slot.sent = snap;
    }
    const id = this.nextId++;
    const msg: ServeMessage = {
      kind: 'serve',
      id,
      policy: req.policy,
      // A copy: a trained user's vector is a view into every user's buffer, which postMessage would clone whole.
      user: req.user?.slice(),
      size: req.size,
      candidates: req.candidates ? Int32Array.from(req.candidates) : undefined,
      exclude: req.exclude && req.exclude.length ? Int32Array.from(req.exclude) : undefined,
      seed: req.seed,
    };
    const s = slot;
    onCancel?.(() => {
      if (s.pending.has(id)) markCancelled(s.cancelled, id);
    });
    return new Promise<PoolServed>((resolve, reject) => {
      s.pending.set(id, { snap, sentAt: performance.now(), resolve, reject });
      s.worker.postMessage(msg);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const slots = this.slots.splice(0);
    for (const s of slots) this.fail(s, new SlateWorkerLostError('slate pool closed'));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private spawn(script: string): Slot {
    const cancelled = cancelTable();
    const worker = new Worker(script, { workerData: { cancelled } });
    worker.unref(); // the HTTP server keeps the process up; a pool never does
    const slot: Slot = { worker, ready: false, sent: null, cancelled, pending: new Map() };
    worker.on('message', (m: FromWorker) => {
      if (m.kind === 'ready') {
        // A new worker's boot (loading its code) is not the requests' time: they count from now.
        slot.ready = true;
        const now = performance.now();
        for (const p of slot.pending.values()) p.sentAt = now;
        return;
      }
      const p = slot.pending.get(m.id);
      if (!p) return;
      slot.pending.delete(m.id);
      if (m.kind === 'cancelled') {
        p.reject(
          p.shed
            ? new SlateOverloadedError(performance.now() - p.sentAt, this.queueMs)
            : new SlateCancelledError(),
        );
        return;
      }
      if (m.kind === 'served') {
        p.resolve({
          modelVersion: m.modelVersion,
          items: unpackItems(m.items, p.snap.itemIds),
          requestedSize: m.requestedSize,
          inactiveCandidates: m.inactiveCandidates,
          propensityKind: m.propensityKind,
          simulatedSlates: m.simulatedSlates,
        });
        return;
      }
      const e = m.error;
      p.reject(
        e.type === 'policy_input'
          ? new PolicyInputError(e.field, e.rule)
          : e.type === 'no_candidates'
            ? new NoCandidatesError(e.message)
            : new Error(`slate worker: ${e.message}`),
      );
    });
    worker.on('error', (e) => this.drop(slot, e));
    worker.on('exit', (code) => this.drop(slot, new Error(`slate worker exited with code ${code}`)));
    return slot;
  }

  private drop(slot: Slot, e: Error): void {
    const at = this.slots.indexOf(slot);
    if (at < 0) return; // closed, or already dropped
    this.slots.splice(at, 1);
    this.onWorkerError(e);
    this.fail(slot, new SlateWorkerLostError(e.message));
    this.replaceLater();
  }

  /** A new worker in `restartDelayMs`, unless `MAX_RESTARTS` were started in the last minute. */
  private replaceLater(): void {
    const now = Date.now();
    while (this.restarts.length && this.restarts[0] < now - 60_000) this.restarts.shift();
    const script = workerScript(__dirname, 'slate-worker.js');
    if (this.closed || !script) return;
    if (this.restarts.length >= MAX_RESTARTS) {
      this.onWorkerError(new Error(`slate workers died ${MAX_RESTARTS} times within a minute: not replaced`));
      return;
    }
    this.restarts.push(now);
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) this.add(script);
    }, this.restartDelayMs);
    t.unref();
    this.timers.add(t);
  }

  private fail(slot: Slot, e: Error): void {
    for (const p of slot.pending.values()) p.reject(e);
    slot.pending.clear();
  }
}

function snapshotMessage(snap: ServingSnapshot): SnapshotMessage {
  return {
    kind: 'snapshot',
    version: snap.version,
    dim: snap.dim,
    stride: snap.stride,
    items: snap.itemIds.length,
    mean: snap.mean,
    variance: snap.variance,
    active: snap.active,
    defaultUser: snap.defaultUser,
  };
}

function unpackItems(packed: Float64Array, itemIds: readonly string[]): PoolItem[] {
  const items: PoolItem[] = new Array<PoolItem>(packed.length / PACKED_ITEM);
  for (let j = 0, o = 0; j < items.length; j++, o += PACKED_ITEM) {
    items[j] = {
      itemId: itemIds[packed[o]],
      position: j + 1,
      score: packed[o + 1],
      propensity: packed[o + 2],
      inSlateProbability: packed[o + 3],
    };
  }
  return items;
}
