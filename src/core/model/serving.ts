import type { FactorModel } from './factor-model';
import type { ServingSnapshot } from './serving-snapshot';
import type { SnapshotMemory } from './snapshot-memory';

/**
 * The ids of the last snapshot built from a model: a model's items are only ever appended (`addItem`), so while
 * its item count is the same the next snapshot's ids and id map are equal to these and are shared, not copied.
 * Copying them cost 6.5 ms at 10⁴ items, 79 ms at 10⁵ and 0.79 s at 10⁶ (median of 5, this project's 2-core
 * machine) on the serving thread, at every rebuild (up to five a second while learning).
 */
const idsOf = new WeakMap<
  FactorModel,
  { count: number; itemIds: readonly string[]; itemIndex: ReadonlyMap<string, number> }
>();

function snapshotIds(
  model: FactorModel,
  count: number,
): { itemIds: readonly string[]; itemIndex: ReadonlyMap<string, number> } {
  const hit = idsOf.get(model);
  if (hit && hit.count === count) return hit;
  const ids = {
    count,
    itemIds: Object.freeze(model.itemIds.slice(0, count)),
    itemIndex: new Map(model.itemIndex),
  };
  idsOf.set(model, ids);
  return ids;
}

/**
 * The users of the last snapshot built from a model, shared by the next while the model's user vectors are the
 * same (`FactorModel.userStamp`: they change with a batch training, never with online learning). Copying them
 * and building the map took 92 ms at 10⁵ users and 1.3 s at 10⁶ (d = 32, median of 5, this project's 2-core
 * machine) on the serving thread, at every rebuild.
 */
const usersOf = new WeakMap<FactorModel, { stamp: number; users: ReadonlyMap<string, Float32Array> }>();

function snapshotUsers(model: FactorModel): ReadonlyMap<string, Float32Array> {
  const hit = usersOf.get(model);
  if (hit && hit.stamp === model.userStamp) return hit.users;
  const d = model.dim;
  const nu = model.numUsers;
  const ubuf = Float32Array.from(model.userVec.subarray(0, nu * d));
  const users = new Map<string, Float32Array>();
  for (let u = 0; u < nu; u++) users.set(model.userIds[u], ubuf.subarray(u * d, (u + 1) * d));
  usersOf.set(model, { stamp: model.userStamp, users });
  return users;
}

/**
 * Build the immutable view serving reads: posterior means and marginal variances as Float32 (half the memory
 * and bandwidth of the scan; scores need nothing finer), user vectors as Float32 views into one buffer.
 * Re-solves stale posteriors first (unless told not to). The snapshot shares no memory with the model, so learning can go on while
 * serving reads it (only with earlier snapshots: ids and users, both copies that nothing writes to). Version: `<model.version>.<generation>`.
 */
export function buildServingSnapshot(
  model: FactorModel,
  opts: { refresh?: boolean; memory?: SnapshotMemory } = {},
): ServingSnapshot {
  // refresh: false serves the posteriors as they are (a caller that refreshed them in slices already; items
  // that turned stale meanwhile keep their last posterior until the next build).
  if (opts.refresh !== false) model.refreshPosteriors();
  const n = model.n;
  const d = model.dim;
  const ni = model.numItems;
  // In shared memory, so that serving worker threads read the same bytes without a copy each; with `memory`,
  // the memory of a snapshot nobody reads any more when there is one (every element is written here).
  const rowsBytes = ni * n * Float32Array.BYTES_PER_ELEMENT;
  const meanBuffer = opts.memory ? opts.memory.take(rowsBytes) : new SharedArrayBuffer(rowsBytes);
  const varianceBuffer = opts.memory ? opts.memory.take(rowsBytes) : new SharedArrayBuffer(rowsBytes);
  const mean = new Float32Array(meanBuffer);
  mean.set(model.itemMean.subarray(0, ni * n));
  const variance = new Float32Array(varianceBuffer);
  variance.set(model.itemVar.subarray(0, ni * n));
  const active = shared(Uint8Array, ni);
  active.set(model.itemActive.subarray(0, ni));
  const users = snapshotUsers(model);
  const { itemIds, itemIndex } = snapshotIds(model, ni);
  const snapshot: ServingSnapshot = Object.freeze({
    version: `${model.version}.${model.generation}`,
    dim: d,
    stride: n,
    itemIds,
    itemIndex,
    mean,
    variance,
    active,
    users,
    defaultUser: Float32Array.from(model.defaultUser),
  });
  opts.memory?.register(snapshot, [meanBuffer, varianceBuffer]);
  return snapshot;
}

function shared<T extends Float32Array | Uint8Array>(
  Kind: { new (buffer: SharedArrayBuffer): T; readonly BYTES_PER_ELEMENT: number },
  length: number,
): T {
  return new Kind(new SharedArrayBuffer(length * Kind.BYTES_PER_ELEMENT));
}
