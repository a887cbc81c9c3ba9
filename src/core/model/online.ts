import type { FactorModel } from './factor-model';
import { ModelInputError } from './errors';
import type { ItemStats } from './item-stats';

/**
 * A batch of learning events, struct-of-arrays (one entry per event):
 *  - `user`: index of the user in the model, or −1 for "no estimate" (the model's default user is used);
 *  - `item`: index of the item in the model;
 *  - `target`, `weight`: the least-squares target and weight from the estimator (e.g. IPS: Y/θ and 1;
 *    an unclicked slot of a served slate: 0 and 1).
 */
export interface EventBatch {
  user: Int32Array;
  item: Int32Array;
  target: Float64Array;
  weight: Float64Array;
}

/** Check a batch once at the boundary; inner loops then trust it. Throws naming the field, index and rule. */
export function validateEventBatch(model: FactorModel, batch: EventBatch): void {
  const len = batch.item.length;
  for (const key of ['user', 'target', 'weight'] as const) {
    if (batch[key].length !== len)
      throw new ModelInputError(
        `events.${key}`,
        `length ${batch[key].length} must equal events.item length ${len}`,
      );
  }
  const ni = model.numItems;
  const nu = model.numUsers;
  for (let e = 0; e < len; e++) {
    const i = batch.item[e];
    if (i < 0 || i >= ni)
      throw new ModelInputError(`events.item[${e}]`, `must be an item index in [0, ${ni}), got ${i}`);
    const u = batch.user[e];
    if (u < -1 || u >= nu)
      throw new ModelInputError(`events.user[${e}]`, `must be −1 or a user index in [0, ${nu}), got ${u}`);
    if (!Number.isFinite(batch.target[e]))
      throw new ModelInputError(`events.target[${e}]`, `must be finite, got ${batch.target[e]}`);
    const w = batch.weight[e];
    if (!(w >= 0 && Number.isFinite(w)))
      throw new ModelInputError(`events.weight[${e}]`, `must be finite and >= 0, got ${w}`);
  }
}

/**
 * The online kernel: add each event's rank-1 term to the item statistics, O(d²/2) per event. Works on any
 * `ItemStats`, so a worker can accumulate into its own zero-initialised statistics and the owner can
 * `merge` them later (additivity). User vectors are read from `userVec` (stride d) or `defaultUser` for −1.
 * Returns nothing; the caller marks touched items dirty.
 */
export function accumulateEvents(
  stats: ItemStats,
  userVec: Float64Array,
  defaultUser: Float64Array,
  batch: EventBatch,
): void {
  const d = stats.dim;
  const { user, item, target, weight } = batch;
  for (let e = 0; e < item.length; e++) {
    const u = user[e];
    if (u >= 0) stats.add(item[e], userVec, u * d, target[e], weight[e]);
    else stats.add(item[e], defaultUser, 0, target[e], weight[e]);
  }
}

/**
 * Online incremental Bayesian update: apply a batch of events to the model's item statistics and mark the
 * touched items' posteriors stale. Posterior means and variances are re-solved lazily, once per touched item,
 * by `model.refreshPosteriors()` (or when a serving snapshot is built), not once per event: the statistics
 * update is O(d²) per event, a posterior solve O(d³) per item.
 *
 * Each event is treated as a new observation given the current user vectors (users are covariates here; a
 * user's own vector is refreshed by fold-in, `foldInUser`).
 */
export function applyEvents(
  model: FactorModel,
  batch: EventBatch,
  opts: { validate?: boolean } = {},
): number {
  if (opts.validate !== false) validateEventBatch(model, batch);
  accumulateEvents(model.stats, model.userVec, model.defaultUser, batch);
  const item = batch.item;
  for (let e = 0; e < item.length; e++) model.markDirty(item[e]);
  if (item.length > 0) model.generation++;
  return item.length;
}

/**
 * Add another learner's statistics (accumulated from zero with `accumulateEvents` on the same user vectors and
 * item indices) to the model: the scale-out / recovery path. Marks the changed items dirty. Returns how many
 * items changed.
 */
export function mergeStats(model: FactorModel, delta: ItemStats): number {
  if (delta.dim !== model.dim)
    throw new ModelInputError('stats.dim', `must equal the model's dim ${model.dim}, got ${delta.dim}`);
  if (delta.size > model.numItems)
    throw new ModelInputError(
      'stats.size',
      `covers ${delta.size} items but the model has ${model.numItems}; add the items first`,
    );
  const touched = model.stats.merge(delta);
  for (let j = 0; j < touched.length; j++) model.markDirty(touched[j]);
  if (touched.length > 0) model.generation++;
  return touched.length;
}

/**
 * Scalar twin of `accumulateEvents` on plain nested arrays: per item a full (d+1)×(d+1) matrix and a vector.
 * For tests and the benchmark's same-run baseline only.
 */
export function accumulateEventsReference(
  xx: number[][][],
  xy: number[][],
  userVecs: number[][],
  defaultUser: number[],
  batch: EventBatch,
): void {
  for (let e = 0; e < batch.item.length; e++) {
    const x = [...(batch.user[e] >= 0 ? userVecs[batch.user[e]] : defaultUser), 1];
    const i = batch.item[e];
    const w = batch.weight[e];
    const t = batch.target[e];
    for (let r = 0; r < x.length; r++) {
      xy[i][r] += w * t * x[r];
      for (let c = 0; c < x.length; c++) xx[i][r][c] += w * x[r] * x[c];
    }
  }
}
