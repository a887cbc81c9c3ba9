import { ModelInputError } from '../model/errors';

/**
 * Logged (user, item) pairs for batch training, struct-of-arrays, after an estimator has turned clicks and
 * propensities into least-squares targets and weights (`estimators/applyEstimator`). Pairs absent from the
 * log are the implicit zeros (target 0, weight `negativeWeight`). A pair must appear at most once.
 */
export interface Interactions {
  numUsers: number;
  numItems: number;
  user: Int32Array;
  item: Int32Array;
  target: Float64Array;
  weight: Float64Array;
}

/** Check once at the boundary (lengths, index ranges, finite values, weights ≥ 0); then trainers trust the data. */
export function validateInteractions(data: Interactions): void {
  const len = data.user.length;
  if (!Number.isInteger(data.numUsers) || data.numUsers < 0)
    throw new ModelInputError('numUsers', 'must be an integer >= 0');
  if (!Number.isInteger(data.numItems) || data.numItems < 0)
    throw new ModelInputError('numItems', 'must be an integer >= 0');
  for (const k of ['item', 'target', 'weight'] as const)
    if (data[k].length !== len)
      throw new ModelInputError(
        `interactions.${k}`,
        `length ${data[k].length} must equal interactions.user length ${len}`,
      );
  for (let p = 0; p < len; p++) {
    const u = data.user[p];
    const i = data.item[p];
    if (u < 0 || u >= data.numUsers)
      throw new ModelInputError(`interactions.user[${p}]`, `must be in [0, ${data.numUsers}), got ${u}`);
    if (i < 0 || i >= data.numItems)
      throw new ModelInputError(`interactions.item[${p}]`, `must be in [0, ${data.numItems}), got ${i}`);
    if (!Number.isFinite(data.target[p]))
      throw new ModelInputError(`interactions.target[${p}]`, 'must be finite');
    const w = data.weight[p];
    if (!(w >= 0 && Number.isFinite(w)))
      throw new ModelInputError(`interactions.weight[${p}]`, `must be finite and >= 0, got ${w}`);
  }
}

/**
 * Merge repeated (user, item) pairs: two observations of a pair are exactly one with the summed weight and the
 * weight-averaged target, since w₁(t₁ − s)² + w₂(t₂ − s)² = (w₁ + w₂)(t̄ − s)² + const. Batch training requires
 * unique pairs (the implicit-zero background counts each pair once), so aggregate logs before training.
 * Pairs whose weights sum to 0 keep target 0.
 */
export function aggregateInteractions(data: Interactions): Interactions {
  const key = new Map<number, number>();
  const user: number[] = [];
  const item: number[] = [];
  const wt: number[] = [];
  const w: number[] = [];
  for (let p = 0; p < data.user.length; p++) {
    const k = data.user[p] * data.numItems + data.item[p];
    let q = key.get(k);
    if (q === undefined) {
      q = user.length;
      key.set(k, q);
      user.push(data.user[p]);
      item.push(data.item[p]);
      wt.push(0);
      w.push(0);
    }
    wt[q] += data.weight[p] * data.target[p];
    w[q] += data.weight[p];
  }
  return {
    numUsers: data.numUsers,
    numItems: data.numItems,
    user: Int32Array.from(user),
    item: Int32Array.from(item),
    target: Float64Array.from(wt, (v, q) => (w[q] > 0 ? v / w[q] : 0)),
    weight: Float64Array.from(w),
  };
}

/** Throws naming the first repeated (user, item) pair of a by-user CSR; O(nnz) with a stamp array. */
export function assertUniquePairs(byUser: Csr, numItems: number): void {
  const stamp = new Int32Array(numItems).fill(-1);
  for (let u = 0; u < byUser.rows; u++) {
    for (let p = byUser.ptr[u]; p < byUser.ptr[u + 1]; p++) {
      const i = byUser.col[p];
      if (stamp[i] === u)
        throw new ModelInputError(
          'interactions',
          `pair (user ${u}, item ${i}) appears more than once; merge repeats with aggregateInteractions()`,
        );
      stamp[i] = u;
    }
  }
}

/** Compressed rows: for row r, entries ptr[r]..ptr[r+1] of `col`, `target`, `weight`. */
export interface Csr {
  rows: number;
  ptr: Int32Array;
  col: Int32Array;
  target: Float64Array;
  weight: Float64Array;
  /** 1 if every entry of the row has weight equal to `uniformWeight` (the shared-factor fast path applies). */
  uniform: Uint8Array;
}

/** Group pairs by `by` (user or item) with a counting sort: O(nnz + rows). */
export function toCsr(data: Interactions, by: 'user' | 'item', uniformWeight: number): Csr {
  const rowsOf = by === 'user' ? data.user : data.item;
  const colsOf = by === 'user' ? data.item : data.user;
  const rows = by === 'user' ? data.numUsers : data.numItems;
  const nnz = rowsOf.length;
  const ptr = new Int32Array(rows + 1);
  for (let p = 0; p < nnz; p++) ptr[rowsOf[p] + 1]++;
  for (let r = 0; r < rows; r++) ptr[r + 1] += ptr[r];
  const next = ptr.slice(0, rows);
  const col = new Int32Array(nnz);
  const target = new Float64Array(nnz);
  const weight = new Float64Array(nnz);
  const uniform = new Uint8Array(rows).fill(1);
  for (let p = 0; p < nnz; p++) {
    const r = rowsOf[p];
    const q = next[r]++;
    col[q] = colsOf[p];
    target[q] = data.target[p];
    weight[q] = data.weight[p];
    if (data.weight[p] !== uniformWeight) uniform[r] = 0;
  }
  return { rows, ptr, col, target, weight, uniform };
}
