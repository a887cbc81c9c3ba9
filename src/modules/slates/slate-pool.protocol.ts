import type { PolicyConfig } from '../../core/policies/policy-config.schema';

/**
 * Messages between the serving thread and its slate workers (`SlatePool`, slate-worker.ts). One port per worker,
 * first in first out: a request is always computed on the snapshot most recently sent before it, which is the
 * snapshot the serving thread held when it sent the request.
 */

/** A model snapshot's numeric part (shared memory where the snapshot has it: no copy per worker). */
export interface SnapshotMessage {
  readonly kind: 'snapshot';
  readonly version: string;
  readonly dim: number;
  readonly stride: number;
  readonly items: number;
  readonly mean: Float32Array;
  readonly variance: Float32Array;
  readonly active: Uint8Array;
  readonly defaultUser: Float32Array;
}

export interface ServeMessage {
  readonly kind: 'serve';
  readonly id: number;
  readonly policy: PolicyConfig;
  /** The user's vector (the serving thread folds users in); undefined: the population prior. */
  readonly user?: Float32Array;
  readonly size: number;
  readonly candidates?: Int32Array;
  readonly exclude?: Int32Array;
  readonly seed: number;
}

export type ToWorker = SnapshotMessage | ServeMessage;

/**
 * Numbers per item in `ServedMessage.items`: index (the serving thread maps it to its id), score, propensity,
 * in-slate probability.
 */
export const PACKED_ITEM = 4;

export interface ServedMessage {
  readonly kind: 'served';
  readonly id: number;
  readonly modelVersion: string;
  /**
   * The items in slate order, `PACKED_ITEM` numbers each (position j + 1 for the j-th): one typed array to
   * clone instead of k objects, which the structured clone writes and reads field by field (≈ 4 µs less
   * on the serving thread per slate of 10).
   */
  readonly items: Float64Array;
  readonly requestedSize: number;
  readonly inactiveCandidates: number[];
  readonly propensityKind: 'exact' | 'monte_carlo';
  readonly simulatedSlates: number;
}

/** The request broke a rule (`PolicyInputError`), nothing could be served (`NoCandidatesError`), or a bug. */
export interface FailedMessage {
  readonly kind: 'failed';
  readonly id: number;
  readonly error:
    | { readonly type: 'policy_input'; readonly field: string; readonly rule: string }
    | { readonly type: 'no_candidates'; readonly message: string }
    | { readonly type: 'internal'; readonly message: string };
}

/** The request was cancelled before the worker started it (its client had gone, or it was shed): nothing was computed. */
export interface CancelledMessage {
  readonly kind: 'cancelled';
  readonly id: number;
}

/**
 * Cancellations, in memory both threads share (`workerData.cancelled`, an Int32Array of `CANCEL_SLOTS` + 1): the
 * serving thread writes a request's id (as int32) at `id % CANCEL_SLOTS`, the worker reads it before it starts the
 * request. A message could not do this: it would wait in the port's queue behind the request it cancels. The last
 * entry is the worker's: the id of the request it started last (`markStarted`), so that the serving thread knows
 * which of its requests are still queued (`SLATE_QUEUE_MS`).
 */
export const CANCEL_SLOTS = 4096;

/** The shared table of cancellations a pool gives each worker. */
export function cancelTable(): Int32Array {
  return new Int32Array(new SharedArrayBuffer((CANCEL_SLOTS + 1) * Int32Array.BYTES_PER_ELEMENT));
}

/** Mark request `id` cancelled (the serving thread). */
export function markCancelled(table: Int32Array, id: number): void {
  Atomics.store(table, id % CANCEL_SLOTS, id | 0);
}

/** Whether request `id` was cancelled (the worker, before it starts the request). */
export function isCancelled(table: Int32Array, id: number): boolean {
  return Atomics.load(table, id % CANCEL_SLOTS) === (id | 0);
}

/** The worker starts request `id` (computes it, or skips it as cancelled): every earlier one is done. */
export function markStarted(table: Int32Array, id: number): void {
  Atomics.store(table, CANCEL_SLOTS, id | 0);
}

/**
 * Whether the worker has started request `id` (the serving thread). Ids are sent in increasing order and a worker
 * takes them in order; compared as int32 differences, so that the wrap past 2^31 does not matter.
 */
export function hasStarted(table: Int32Array, id: number): boolean {
  return (((id | 0) - Atomics.load(table, CANCEL_SLOTS)) | 0) <= 0;
}

/** The worker has started and listens (sent once, first): from now on its requests' time counts (`SLATE_TIMEOUT_MS`). */
export interface ReadyMessage {
  readonly kind: 'ready';
}

export type FromWorker = ServedMessage | FailedMessage | CancelledMessage | ReadyMessage;
