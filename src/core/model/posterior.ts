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
  const n = stats.n;
  const a = ws.a;
  const b = ws.b;
  const inv = 1 / noiseVar;
  unpackLowerScaled(stats.xx, item * stats.psize, n, inv, a);
  const xy = stats.xy;
  const xo = item * n;
  for (let k = 0; k < n; k++) {
    const lam = 1 / priorVar[priorOff + k];
    a[k * n + k] += lam;
    b[k] = priorMean[priorOff + k] * lam + xy[xo + k] * inv;
  }
  if (!choleskyInPlace(a, n)) return false;
  choleskySolveInPlace(a, n, b);
  for (let k = 0; k < n; k++) outMean[outOff + k] = b[k];
  if (outVar) choleskyInverseDiagonal(a, n, outVar, outOff, ws.w);
  return true;
}
