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
