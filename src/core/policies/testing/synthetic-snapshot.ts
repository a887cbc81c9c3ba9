import type { ServingSnapshot } from '../../model/serving-snapshot';
import { Rng } from '../../random';

/** Options for a synthetic model snapshot (tests and benchmarks). */
export interface SyntheticSnapshotOptions {
  readonly items: number;
  readonly dim: number;
  readonly seed?: number;
  /** Known users with vectors `u0`, `u1`, … (default 4). */
  readonly users?: number;
  /** Fraction of inactive items (default 0). */
  readonly inactiveFraction?: number;
  /** Fraction of cold items still at their group prior (default 0.01). */
  readonly coldFraction?: number;
}

/**
 * A plausible learned model: user vectors ~ N(0, I) so that x·μ_i ~ N(0, 1) with μ_ik ~ N(0, 1/d);
 * biases from 20 groups (group mean ~ N(0, 0.5²), item offset ~ N(0, 0.3²)); posterior variance
 * shrinking with each item's evidence, n_obs log-uniform in [1, 1000], so score sds span ~0.03..0.7;
 * cold items sit at their group's prior (factor mean 0, variance 1/d, bias variance 0.25).
 */
export function syntheticSnapshot(opts: SyntheticSnapshotOptions): ServingSnapshot {
  const { items: n, dim: d } = opts;
  const rng = new Rng(opts.seed ?? 1);
  const stride = d + 1;
  const mean = new Float32Array(n * stride);
  const variance = new Float32Array(n * stride);
  const active = new Uint8Array(n).fill(1);
  const groups = 20;
  const groupBias = Array.from({ length: groups }, () => 0.5 * rng.normal());
  const cold = opts.coldFraction ?? 0.01;
  const inactive = opts.inactiveFraction ?? 0;
  const sdF = 1 / Math.sqrt(d);
  for (let i = 0; i < n; i++) {
    const o = i * stride;
    const g = i % groups;
    if (rng.next() < cold) {
      for (let j = 0; j < d; j++) variance[o + j] = 1 / d;
      mean[o + d] = groupBias[g];
      variance[o + d] = 0.25;
    } else {
      const nObs = Math.exp(rng.next() * Math.log(1000));
      for (let j = 0; j < d; j++) {
        mean[o + j] = sdF * rng.normal();
        variance[o + j] = 1 / (d * (1 + nObs));
      }
      mean[o + d] = groupBias[g] + 0.3 * rng.normal();
      variance[o + d] = 0.25 / (1 + nObs);
    }
    if (rng.next() < inactive) active[i] = 0;
  }
  const itemIds = Array.from({ length: n }, (_, i) => `item-${i}`);
  const users = new Map<string, Float32Array>();
  for (let u = 0; u < (opts.users ?? 4); u++) {
    const x = new Float32Array(d);
    for (let j = 0; j < d; j++) x[j] = rng.normal();
    users.set(`u${u}`, x);
  }
  return {
    version: `synthetic-${n}x${d}-${opts.seed ?? 1}`,
    dim: d,
    stride,
    itemIds,
    itemIndex: new Map(itemIds.map((id, i) => [id, i])),
    mean,
    variance,
    active,
    users,
    defaultUser: new Float32Array(d),
  };
}

/**
 * A tiny snapshot whose score distributions are set directly (dim 1, user vector [1]):
 * item i scores N(means[i], variances[i]). Handy for exact checks.
 */
export function snapshotFromScores(
  means: readonly number[],
  variances: readonly number[],
  version = 'scores',
): ServingSnapshot {
  const n = means.length;
  const mean = new Float32Array(n * 2);
  const variance = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    mean[i * 2] = means[i];
    variance[i * 2] = variances[i];
    mean[i * 2 + 1] = 0;
    variance[i * 2 + 1] = 0;
  }
  const itemIds = Array.from({ length: n }, (_, i) => `i${i}`);
  return {
    version,
    dim: 1,
    stride: 2,
    itemIds,
    itemIndex: new Map(itemIds.map((id, i) => [id, i])),
    mean,
    variance,
    active: new Uint8Array(n).fill(1),
    users: new Map([['one', new Float32Array([1])]]),
    defaultUser: new Float32Array([1]),
  };
}
