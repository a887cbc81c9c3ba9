/**
 * Worker thread entry of the slate pool (`SlatePool`): keeps the latest snapshot it was sent (laid out for the
 * SIMD kernel, its classes found, here, off the serving thread) and serves the slates it is asked for with
 * `serveSlate`, the same function, seed and snapshot as serving in-process, so the same slate and propensities.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ServingSnapshot } from '../../core/model/serving-snapshot';
import { NoCandidatesError, PolicyInputError } from '../../core/policies/policy-errors';
import { prepareSnapshotForServing, serveSlate, type ServedItem } from '../../core/policies/serve-slate';
import { Rng } from '../../core/random';
import {
  isCancelled,
  markStarted,
  PACKED_ITEM,
  type FailedMessage,
  type FromWorker,
  type ServeMessage,
  type SnapshotMessage,
  type ToWorker,
} from './slate-pool.protocol';

const port = parentPort;
if (!port) throw new Error('slate-worker.js runs as a worker thread only');

let current: ServingSnapshot | null = null;

/** Requests cancelled by the serving thread (see `CANCEL_SLOTS`); absent when the pool shares none. */
const cancelled = (workerData as { cancelled?: Int32Array } | null)?.cancelled;

/** The numeric snapshot as the serving core reads it (ids stay on the serving thread: only their count here). */
function snapshotOf(m: SnapshotMessage, replaces: ServingSnapshot | null): ServingSnapshot {
  const snap: ServingSnapshot = {
    version: m.version,
    dim: m.dim,
    stride: m.stride,
    itemIds: new Array<string>(m.items),
    itemIndex: new Map(),
    mean: m.mean,
    variance: m.variance,
    active: m.active,
    users: new Map(),
    defaultUser: m.defaultUser,
  };
  prepareSnapshotForServing(snap, replaces ?? undefined); // a worker only ever serves its latest snapshot
  return snap;
}

function serve(m: ServeMessage): FromWorker {
  const snap = current;
  if (!snap) return failed(m.id, { type: 'internal', message: 'no snapshot yet' });
  try {
    const s = serveSlate(
      snap,
      m.policy,
      { user: m.user, size: m.size, candidates: m.candidates, exclude: m.exclude },
      new Rng(m.seed),
    );
    return {
      kind: 'served',
      id: m.id,
      modelVersion: s.modelVersion,
      items: packItems(s.items),
      requestedSize: s.requestedSize,
      inactiveCandidates: [...s.inactiveCandidates],
      propensityKind: s.propensityKind,
      simulatedSlates: s.simulatedSlates,
    };
  } catch (e) {
    if (e instanceof PolicyInputError)
      return failed(m.id, { type: 'policy_input', field: e.field, rule: e.rule });
    if (e instanceof NoCandidatesError) return failed(m.id, { type: 'no_candidates', message: e.message });
    return failed(m.id, { type: 'internal', message: (e as Error).stack ?? String(e) });
  }
}

function packItems(items: readonly ServedItem[]): Float64Array {
  const out = new Float64Array(items.length * PACKED_ITEM);
  for (let j = 0; j < items.length; j++) {
    const it = items[j];
    const o = j * PACKED_ITEM;
    out[o] = it.index;
    out[o + 1] = it.score;
    out[o + 2] = it.propensity;
    out[o + 3] = it.inSlateProbability;
  }
  return out;
}

function failed(id: number, error: FailedMessage['error']): FailedMessage {
  return { kind: 'failed', id, error };
}

port.on('message', (m: ToWorker) => {
  if (m.kind === 'snapshot') {
    current = snapshotOf(m, current);
    return;
  }
  if (cancelled) markStarted(cancelled, m.id); // no longer queued: too late to cancel or to shed
  if (cancelled && isCancelled(cancelled, m.id))
    port.postMessage({ kind: 'cancelled', id: m.id } satisfies FromWorker);
  else port.postMessage(serve(m));
});
port.postMessage({ kind: 'ready' } satisfies FromWorker);
