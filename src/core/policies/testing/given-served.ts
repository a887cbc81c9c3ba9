import type { ServingSnapshot } from '../../model/serving-snapshot';
import { Rng } from '../../random';
import { scoreWithSampler } from '../serve-slate';
import { resolveSlateRequest } from '../slate-request';
import type { SlatePropensities } from '../slate-propensities';
import { oneDrawRanks, thompsonPropensities, usesOneDrawConditional } from '../thompson-policies';

/**
 * `items` (item indices, k of them) estimated as if `policy` had served them in that order, from `slates` simulated
 * slates: the conditional estimate (with the sampler of the ranks it needs, as serving builds it) or, with
 * `conditional` false, the counts.
 */
export function estimateAsServed(
  snap: ServingSnapshot,
  policy: 'in_slate_ts' | 'slate_ts',
  k: number,
  items: readonly number[],
  slates: number,
  seed: number,
  conditional = true,
): SlatePropensities {
  const req = resolveSlateRequest(snap, { size: k });
  const oneDraw = conditional && usesOneDrawConditional(policy, k);
  const { sc, sampler } = scoreWithSampler(snap, req, true, oneDraw ? oneDrawRanks(k, req.rows.length) : k);
  const candOf = new Map<number, number>();
  for (let c = 0; c < sc.n; c++) candOf.set(sc.rows[c], c);
  const served = Int32Array.from(items, (i) => candOf.get(i)!);
  return thompsonPropensities(sc, sampler, k, policy, slates, new Rng(seed), served, {
    servedOnly: true,
    conditional,
  });
}

/**
 * Means given that a pair was served, for the propensity tests: per (item, position) cell, each estimator's logged
 * values summed over the slates that served that pair, and the z of their mean against a brute-force truth.
 */
export class GivenServed {
  private readonly sum: Float64Array[];
  private readonly sq: Float64Array[];
  private readonly hits: Float64Array;

  /** `truth[cell]` from `truthSlates` brute-force slates (its own error enters σ). */
  constructor(
    estimators: number,
    private readonly truth: Float64Array,
    private readonly truthSlates: number,
  ) {
    this.sum = Array.from({ length: estimators }, () => new Float64Array(truth.length));
    this.sq = Array.from({ length: estimators }, () => new Float64Array(truth.length));
    this.hits = new Float64Array(truth.length);
  }

  /** Estimator e logged v for `cell` on a slate that served it. */
  add(e: number, cell: number, v: number): void {
    this.sum[e][cell] += v;
    this.sq[e][cell] += v * v;
  }

  /** One more slate served `cell`. */
  served(cell: number): void {
    this.hits[cell]++;
  }

  /** (mean − truth − lift(truth)) / σ of estimator e, for every cell served at least `minHits` times. */
  z(e: number, lift: (p: number) => number = () => 0, minHits = 200): number[] {
    const out: number[] = [];
    for (let at = 0; at < this.hits.length; at++) {
      const h = this.hits[at];
      if (h < minHits) continue;
      const mean = this.sum[e][at] / h;
      const se = Math.sqrt(Math.max(this.sq[e][at] / h - mean * mean, 1e-12) / h);
      const p = this.truth[at];
      const sigma = Math.hypot(se, Math.sqrt((p * (1 - p)) / this.truthSlates));
      out.push((mean - p - lift(p)) / sigma);
    }
    return out;
  }
}
