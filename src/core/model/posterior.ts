import { choleskyInPlace, choleskyInverseDiagonal, choleskySolveInPlace } from '../linalg/cholesky';
import { unpackLowerScaled } from '../linalg/packed';
import type { ItemStats } from './item-stats';

/** Scratch arrays for posterior solves, reused across items so the hot loop allocates nothing. */
export class SolveWorkspace {
  readonly a: Float64Array;
  readonly b: Float64Array;
  readonly w: Float64Array;
  constructor(readonly n: number) {
    this.a = new Float64Array(n * n);
    this.b = new Float64Array(n);
    this.w = new Float64Array(n);
  }
}

/**
 * Gaussian posterior of one item's θ = (v, b) under the prior N(μ₀, diag(s²)) (group or global) and the
 * item's additive statistics:
 *   precision P = diag(1/s²) + xx/σ²,   mean m = P⁻¹ (μ₀/s² + xy/σ²),   variance = diag(P⁻¹).
 * Writes the mean and the marginal variances (what serving needs) at `outOff`. Returns false if P is not
 * numerically positive definite, which cannot happen with non-negative event weights and positive prior
 * variances; callers treat false as a bug and keep the previous posterior.
 *
 * Cost: one Cholesky (n³/6), two triangular solves (n²) and the inverse diagonal (n³/6) when `outVar` is given.
 */
export function itemPosterior(
  stats: ItemStats,
  item: number,
  priorMean: Float64Array,
  priorVar: Float64Array,
  priorOff: number,
  noiseVar: number,
  outMean: Float64Array,
  outVar: Float64Array | null,
  outOff: number,
  ws: SolveWorkspace,
): boolean {
  return posteriorOf(
    stats.xx,
    item * stats.psize,
    stats.xy,
    item * stats.n,
    priorMean,
    priorOff,
    priorVar,
    priorOff,
    noiseVar,
    outMean,
    outVar,
    outOff,
    ws,
  );
}

/**
 * `itemPosterior` on raw arrays: the packed xx at `xxOff` (n(n+1)/2 numbers, n = ws.n) and xy at `xyOff`
 * (n numbers), wherever they live (the model's statistics, or a copy sent to a worker thread).
 */
export function posteriorOf(
  xx: Float64Array,
  xxOff: number,
  xy: Float64Array,
  xyOff: number,
  priorMean: Float64Array,
  priorMeanOff: number,
  priorVar: Float64Array,
  priorVarOff: number,
  noiseVar: number,
  outMean: Float64Array,
  outVar: Float64Array | null,
  outOff: number,
  ws: SolveWorkspace,
): boolean {
  const n = ws.n;
  const a = ws.a;
  const b = ws.b;
  const inv = 1 / noiseVar;
  unpackLowerScaled(xx, xxOff, n, inv, a);
  for (let k = 0; k < n; k++) {
    const lam = 1 / priorVar[priorVarOff + k];
    a[k * n + k] += lam;
    b[k] = priorMean[priorMeanOff + k] * lam + xy[xyOff + k] * inv;
  }
  if (!choleskyInPlace(a, n)) return false;
  choleskySolveInPlace(a, n, b);
  for (let k = 0; k < n; k++) outMean[outOff + k] = b[k];
  if (outVar) choleskyInverseDiagonal(a, n, outVar, outOff, ws.w);
  return true;
}
