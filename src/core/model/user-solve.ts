import { choleskyInPlace, choleskySolveInPlace } from '../linalg/cholesky';
import type { FactorModel } from './factor-model';
import { ModelInputError } from './errors';

/**
 * The part of a user's ridge system that every user shares, built once from the item posterior means
 * (v_i, b_i) over all items:
 *   G = (c₀/σ²) Σ_i v_i v_iᵀ + I/userPriorVar     (d×d; its Cholesky factor kept in `l`)
 *   h = −(c₀/σ²) Σ_i b_i v_i
 * With the implicit zeros (every pair target 0, weight c₀), user u's normal equations are
 *   (G + Σ_{i∈log(u)} (w−c₀)/σ² v_i v_iᵀ) x_u = h + Σ_{i∈log(u)} [w·t − (w−c₀)·b_i]/σ² · v_i,
 * i.e. the Gram-matrix trick: cost O(|log(u)|·d²) plus one d×d Cholesky, and when every logged weight equals
 * c₀ (true for naive, IPS and clipped IPS, which all have weight 1) the shared factor solves it in O(d²).
 */
export interface UserSystem {
  d: number;
  /** item stride, d + 1 */
  n: number;
  c0: number;
  invNoise: number;
  g: Float64Array;
  l: Float64Array;
  h: Float64Array;
}

export function buildUserSystem(
  itemMean: Float64Array,
  numItems: number,
  d: number,
  c0: number,
  noiseVar: number,
  userPriorVar: number,
): UserSystem {
  const n = d + 1;
  const g = new Float64Array(d * d);
  const h = new Float64Array(d);
  gramLowerInto(itemMean, numItems, d, g, h);
  const s = c0 / noiseVar;
  for (let r = 0; r < d; r++) {
    for (let c = 0; c <= r; c++) {
      g[r * d + c] *= s;
      g[c * d + r] = g[r * d + c];
    }
    g[r * d + r] += 1 / userPriorVar;
    h[r] *= -s;
  }
  const l = Float64Array.from(g);
  if (!choleskyInPlace(l, d)) throw new Error('user system: Gram matrix is not positive definite');
  return { d, n, c0, invNoise: 1 / noiseVar, g, l, h };
}

/**
 * Σ_i v_i v_iᵀ (lower triangle, row-major d×d, added into g) and Σ_i b_i v_i (into h) over the items' rows
 * (stride d + 1, bias last). Items whose factor mean is all zero (items still at a zero prior mean: often most
 * of a young catalogue) add nothing and are skipped; the others go four at a time, so each entry of g is
 * loaded and stored once per four items instead of once per item (the plain loop spent ~15–25 ms per 10k
 * items at d = 32 on this; it runs at every model swap when fold-in users exist, on the serving thread).
 * Equal to the plain loop up to floating-point summation order (tested against it).
 */
export function gramLowerInto(
  itemMean: Float64Array,
  numItems: number,
  d: number,
  g: Float64Array,
  h: Float64Array,
): void {
  const n = d + 1;
  const rows = new Int32Array(numItems);
  let m = 0;
  for (let i = 0; i < numItems; i++) {
    const o = i * n;
    for (let r = 0; r < d; r++)
      if (itemMean[o + r] !== 0) {
        rows[m++] = o;
        break;
      }
  }
  let t = 0;
  for (; t + 4 <= m; t += 4) {
    const o0 = rows[t];
    const o1 = rows[t + 1];
    const o2 = rows[t + 2];
    const o3 = rows[t + 3];
    const b0 = itemMean[o0 + d];
    const b1 = itemMean[o1 + d];
    const b2 = itemMean[o2 + d];
    const b3 = itemMean[o3 + d];
    for (let r = 0; r < d; r++) {
      const v0 = itemMean[o0 + r];
      const v1 = itemMean[o1 + r];
      const v2 = itemMean[o2 + r];
      const v3 = itemMean[o3 + r];
      const rr = r * d;
      for (let c = 0; c <= r; c++)
        g[rr + c] +=
          v0 * itemMean[o0 + c] + v1 * itemMean[o1 + c] + v2 * itemMean[o2 + c] + v3 * itemMean[o3 + c];
      h[r] += b0 * v0 + b1 * v1 + b2 * v2 + b3 * v3;
    }
  }
  for (; t < m; t++) {
    const o = rows[t];
    const b = itemMean[o + d];
    for (let r = 0; r < d; r++) {
      const vr = itemMean[o + r];
      const rr = r * d;
      for (let c = 0; c <= r; c++) g[rr + c] += vr * itemMean[o + c];
      h[r] += b * vr;
    }
  }
}

/** Largest number of reweighted pairs a user may have for the low-rank (Woodbury) path of `solveUser`. */
export const MAX_LOW_RANK = 8;

/** Scratch for `solveUser`. */
export class UserWorkspace {
  readonly a: Float64Array;
  readonly b: Float64Array;
  readonly z: Float64Array;
  readonly m: Float64Array;
  readonly q: Float64Array;
  readonly s: Float64Array;
  readonly rows: Int32Array;
  readonly y: Float64Array;
  constructor(d: number) {
    this.a = new Float64Array(d * d);
    this.b = new Float64Array(d);
    this.y = new Float64Array(d);
    this.z = new Float64Array(MAX_LOW_RANK * d);
    this.m = new Float64Array(MAX_LOW_RANK * MAX_LOW_RANK);
    this.q = new Float64Array(MAX_LOW_RANK);
    this.s = new Float64Array(MAX_LOW_RANK);
    this.rows = new Int32Array(MAX_LOW_RANK);
  }
}

/**
 * Solve one user's ridge system from their logged pairs `items[start..end)` (item indices), targets and
 * weights (null = all 1), writing x_u to `out[outOff ..]`. Returns false if the system is not positive
 * definite (only possible with weights far below c₀), in which case `out` is untouched.
 */
export function solveUser(
  sys: UserSystem,
  itemMean: Float64Array,
  items: ArrayLike<number>,
  targets: ArrayLike<number>,
  weights: ArrayLike<number> | null,
  start: number,
  end: number,
  out: Float64Array,
  outOff: number,
  ws: UserWorkspace,
): boolean {
  const d = sys.d;
  const n = sys.n;
  const c0 = sys.c0;
  const inv = sys.invNoise;
  const b = ws.b;
  for (let k = 0; k < d; k++) b[k] = sys.h[k];
  let uniform = true;
  for (let p = start; p < end; p++) {
    const w = weights === null ? 1 : weights[p];
    if (w !== c0) uniform = false;
    const o = items[p] * n;
    const coef = (w * targets[p] - (w - c0) * itemMean[o + d]) * inv;
    for (let k = 0; k < d; k++) b[k] += coef * itemMean[o + k];
  }
  let l = sys.l;
  if (!uniform && lowRankSolve(sys, itemMean, items, weights, start, end, ws)) {
    for (let k = 0; k < d; k++) out[outOff + k] = ws.b[k];
    return true;
  }
  if (!uniform) {
    const a = ws.a;
    a.set(sys.g);
    for (let p = start; p < end; p++) {
      const w = weights === null ? 1 : weights[p];
      const s = (w - c0) * inv;
      if (s === 0) continue;
      const o = items[p] * n;
      for (let r = 0; r < d; r++) {
        const vr = s * itemMean[o + r];
        const rr = r * d;
        for (let c = 0; c <= r; c++) a[rr + c] += vr * itemMean[o + c];
      }
    }
    if (!choleskyInPlace(a, d)) return false;
    l = a;
  }
  choleskySolveInPlace(l, d, b);
  for (let k = 0; k < d; k++) out[outOff + k] = b[k];
  return true;
}

/**
 * When only a few of a user's pairs are reweighted (r ≤ min(MAX_LOW_RANK, d/4) pairs with w ≠ c₀, all with
 * w > c₀), solve A = G + V S Vᵀ by the Woodbury identity with the shared factor of G instead of factorising A:
 *   x = y − Z (S⁻¹ + VᵀZ)⁻¹ Vᵀy,   y = G⁻¹b, Z = G⁻¹V,
 * O(r·d² + r²·d) instead of O(d³/6 + r·d²). With S > 0 the r×r matrix is positive definite. Returns false
 * (and changes nothing but scratch) when the path does not apply, so the caller factorises A.
 */
function lowRankSolve(
  sys: UserSystem,
  itemMean: Float64Array,
  items: ArrayLike<number>,
  weights: ArrayLike<number> | null,
  start: number,
  end: number,
  ws: UserWorkspace,
): boolean {
  const d = sys.d;
  const n = sys.n;
  const maxRank = Math.min(MAX_LOW_RANK, d >> 2);
  let r = 0;
  for (let p = start; p < end; p++) {
    const w = weights === null ? 1 : weights[p];
    if (w === sys.c0) continue;
    if (w < sys.c0 || r === maxRank) return false;
    ws.rows[r] = items[p];
    ws.s[r] = (w - sys.c0) * sys.invNoise;
    r++;
  }
  const z = ws.z;
  const b = ws.y; // y = G⁻¹b, then x in place; ws.b is only overwritten on success
  b.set(ws.b);
  choleskySolveInPlace(sys.l, d, b);
  for (let j = 0; j < r; j++) {
    const o = ws.rows[j] * n;
    const zj = z.subarray(j * d, (j + 1) * d);
    for (let k = 0; k < d; k++) zj[k] = itemMean[o + k];
    choleskySolveInPlace(sys.l, d, zj);
  }
  const m = ws.m;
  const q = ws.q;
  for (let j = 0; j < r; j++) {
    const oj = ws.rows[j] * n;
    let qj = 0;
    for (let k = 0; k < d; k++) qj += itemMean[oj + k] * b[k];
    q[j] = qj;
    for (let c = 0; c <= j; c++) {
      let t = 0;
      for (let k = 0; k < d; k++) t += itemMean[oj + k] * z[c * d + k];
      m[j * r + c] = t;
    }
    m[j * r + j] += 1 / ws.s[j];
  }
  if (!choleskyInPlace(m, r)) return false;
  choleskySolveInPlace(m, r, q);
  for (let j = 0; j < r; j++) {
    const cj = q[j];
    for (let k = 0; k < d; k++) b[k] -= cj * z[j * d + k];
  }
  ws.b.set(b);
  return true;
}

export interface FoldInOptions {
  /**
   * Re-solve stale item posteriors first (default true). With false, fold-in uses the item means as they are,
   * including the not-yet-refreshed means of items touched since the last `refreshPosteriors()`: it then costs
   * one O(items·d²) system build per model generation instead of one O(d³) solve per touched item, which is
   * what an ingestion loop that folds in users after every batch wants (the means catch up at the next
   * snapshot refresh).
   */
  refresh?: boolean;
  /**
   * Solve against this shared system (built earlier by `userSystemOf` or `buildUserSystem`) instead of the
   * model's cached one: serving folds users in against the system built with its snapshot, so a request never
   * pays an O(items·d²) build because learning moved the model's generation on meanwhile.
   */
  system?: UserSystem;
}

/** A user's recent history: item indices of the model, least-squares targets, optional weights (default 1). */
export interface UserHistory {
  items: ArrayLike<number>;
  targets: ArrayLike<number>;
  weights?: ArrayLike<number>;
}

let shared: UserWorkspace | undefined;

/**
 * One workspace per thread for `foldInUser` (serving folds a user in per request after every model swap: a fresh
 * workspace was 8 typed arrays, 9 KB at d = 32, each time). `solveUser` writes every scratch value before it
 * reads it, so what an earlier solve left there never matters (tested).
 */
function workspace(d: number): UserWorkspace {
  if (!shared || shared.b.length !== d) shared = new UserWorkspace(d);
  return shared;
}

const systemCache = new WeakMap<FactorModel, { generation: number; fresh: boolean; sys: UserSystem }>();

/** The shared user system of a model, cached per model generation (items' means change with it). */
export function userSystemOf(model: FactorModel, refresh = true): UserSystem {
  const hit = systemCache.get(model);
  // a system built from stale means (refresh: false) does not serve a caller that asked for fresh ones
  if (hit && hit.generation === model.generation && (hit.fresh || !refresh)) return hit.sys;
  if (refresh && model.staleCount > 0) model.refreshPosteriors();
  const c = model.config;
  const sys = buildUserSystem(
    model.itemMean,
    model.numItems,
    c.dim,
    c.negativeWeight,
    c.noiseVar,
    c.userPriorVar,
  );
  systemCache.set(model, { generation: model.generation, fresh: model.staleCount === 0, sys });
  return sys;
}

/**
 * Fold in a user from their recent history, on the fly: the same ridge solve as a batch user step, against
 * the current item means. O(|history|·d² + d³) at worst, O(|history|·d + d²) when all weights equal the
 * negative weight c₀ (the usual case). An empty history gives the prior-mean answer of that system.
 * Validates the history (this is a boundary: serving calls it with request data).
 */
export function foldInUser(
  model: FactorModel,
  history: UserHistory,
  out?: Float64Array,
  opts: FoldInOptions = {},
): Float64Array {
  const len = history.items.length;
  if (history.targets.length !== len)
    throw new ModelInputError(
      'history.targets',
      `length ${history.targets.length} must equal history.items length ${len}`,
    );
  if (history.weights && history.weights.length !== len)
    throw new ModelInputError(
      'history.weights',
      `length ${history.weights.length} must equal history.items length ${len}`,
    );
  for (let p = 0; p < len; p++) {
    const i = history.items[p];
    if (!Number.isInteger(i) || i < 0 || i >= model.numItems)
      throw new ModelInputError(
        `history.items[${p}]`,
        `must be an item index in [0, ${model.numItems}), got ${i}`,
      );
    if (!Number.isFinite(history.targets[p]))
      throw new ModelInputError(`history.targets[${p}]`, 'must be finite');
    if (history.weights && !(history.weights[p] >= 0 && Number.isFinite(history.weights[p])))
      throw new ModelInputError(`history.weights[${p}]`, 'must be finite and >= 0');
  }
  const sys = opts.system ?? userSystemOf(model, opts.refresh !== false);
  const x = out ?? new Float64Array(model.dim);
  const ok = solveUser(
    sys,
    model.itemMean,
    history.items,
    history.targets,
    history.weights ?? null,
    0,
    len,
    x,
    0,
    workspace(model.dim),
  );
  if (!ok)
    throw new ModelInputError(
      'history.weights',
      'make the user system indefinite (weights far below negativeWeight)',
    );
  return x;
}
