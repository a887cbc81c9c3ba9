import type { ServingSnapshot } from '../model/serving-snapshot';

/**
 * Per-request score distribution of every candidate: under the snapshot's diagonal Gaussian posterior,
 * the score of item i for user vector x is N(m_i, s_i) with
 *   m_i = x · μ_i + μ_ib,   s_i = (x∘x) · σ²_i + σ²_ib.
 * One pass over the two arrays computes both (two dot products in one loop).
 */
export interface ScoreMoments {
  /** Candidate count n. */
  readonly n: number;
  /** Item index of candidate c (ascending, unless a class layout is used: see `ScoredCandidates`). */
  readonly rows: Int32Array;
  /** Score mean m_c. */
  readonly mean: Float64Array;
  /** Score variance s_c. */
  readonly variance: Float64Array;
}

/**
 * Plain scalar reference: the obvious loop, float64 accumulation. Every fast kernel is tested against it.
 */
export function scoreMomentsReference(
  snapshot: ServingSnapshot,
  x: ArrayLike<number>,
  rows: Int32Array,
): ScoreMoments {
  const { dim: d, stride, mean: mu, variance: va } = snapshot;
  const n = rows.length;
  const mean = new Float64Array(n);
  const variance = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    const o = rows[c] * stride;
    let m = mu[o + d];
    let s = va[o + d];
    for (let j = 0; j < d; j++) {
      m += x[j] * mu[o + j];
      s += x[j] * x[j] * va[o + j];
    }
    mean[c] = m;
    variance[c] = s;
  }
  return { n, rows, mean, variance };
}

/**
 * Fast JavaScript kernel: both dot products in one loop, unrolled by 4 with independent partial sums
 * (shorter dependency chains; V8 does not vectorise, so instruction-level parallelism is what we get).
 * Float64 accumulation of float32 inputs: results equal the reference up to summation order (~1e-15 rel).
 */
export function scoreMomentsJs(
  snapshot: ServingSnapshot,
  x: ArrayLike<number>,
  rows: Int32Array,
): ScoreMoments {
  const { dim: d, stride, mean: mu, variance: va } = snapshot;
  const n = rows.length;
  const mean = new Float64Array(n);
  const variance = new Float64Array(n);
  const xv = Float64Array.from(x as ArrayLike<number>);
  const xx = new Float64Array(d);
  for (let j = 0; j < d; j++) xx[j] = xv[j] * xv[j];
  const d4 = d & ~3;
  for (let c = 0; c < n; c++) {
    const o = rows[c] * stride;
    let m0 = 0;
    let m1 = 0;
    let s0 = 0;
    let s1 = 0;
    let j = 0;
    for (; j < d4; j += 4) {
      const p = o + j;
      m0 += xv[j] * mu[p] + xv[j + 1] * mu[p + 1];
      m1 += xv[j + 2] * mu[p + 2] + xv[j + 3] * mu[p + 3];
      s0 += xx[j] * va[p] + xx[j + 1] * va[p + 1];
      s1 += xx[j + 2] * va[p + 2] + xx[j + 3] * va[p + 3];
    }
    for (; j < d; j++) {
      m0 += xv[j] * mu[o + j];
      s0 += xx[j] * va[o + j];
    }
    mean[c] = m0 + m1 + mu[o + d];
    variance[c] = s0 + s1 + va[o + d];
  }
  return { n, rows, mean, variance };
}
