import { actionDistribution, type ActionDistribution } from '../action-distribution';

/**
 * The distribution of slates of a stochastic ranking policy, estimated by simulation: draw `nSim`
 * slates, count each distinct one. Marginals give OBP's `action_dist` (compute_batch_action_dist
 * counts `action_count[selected[pos], pos]` the same way); the full-slate counts also give the joint
 * probability of any sub-slate, which SIPS and RIPS need and OBP's MC does not keep.
 *
 * Slate key Σ_j item_j · m^j (exact in a double while m^L < 2^53). Sub-slate tables, one per
 * observed-position mask, are built lazily from the full-slate counts in one pass each.
 */
export class MonteCarloSlates {
  private readonly full = new Map<number, number>();
  private readonly byMask = new Map<number, Map<number, number>>();
  private readonly marg: Float64Array;
  private readonly pow: number[];

  private constructor(
    readonly nItems: number,
    readonly slateSize: number,
    readonly nSim: number,
  ) {
    this.marg = new Float64Array(nItems * slateSize);
    this.pow = Array.from({ length: slateSize }, (_, j) => nItems ** j);
    if (nItems ** slateSize > Number.MAX_SAFE_INTEGER)
      throw new RangeError('MonteCarloSlates: m^L exceeds 2^53');
  }

  /** Run `nSim` draws of `draw(out)`, which must fill `out` with a slate of distinct items. */
  static simulate(
    nItems: number,
    slateSize: number,
    nSim: number,
    draw: (out: Int32Array) => void,
  ): MonteCarloSlates {
    if (!(Number.isInteger(nSim) && nSim >= 1))
      throw new RangeError(`MonteCarloSlates: nSim must be an integer ≥ 1, got ${nSim}`);
    const mc = new MonteCarloSlates(nItems, slateSize, nSim);
    const out = new Int32Array(slateSize);
    for (let t = 0; t < nSim; t++) {
      draw(out);
      let key = 0;
      for (let j = 0; j < slateSize; j++) {
        key += out[j] * mc.pow[j];
        mc.marg[out[j] * slateSize + j] += 1;
      }
      mc.full.set(key, (mc.full.get(key) ?? 0) + 1);
    }
    for (let i = 0; i < mc.marg.length; i++) mc.marg[i] /= nSim;
    return mc;
  }

  /** π(item at position) as a context-free action distribution. */
  actionDistribution(): ActionDistribution {
    const d = actionDistribution(1, this.nItems, this.slateSize);
    d.probs.set(this.marg);
    return d;
  }

  /** Estimated probability that items[j] sits at positions[j] for all j. */
  joint(positions: ArrayLike<number>, items: ArrayLike<number>): number {
    if (positions.length === 1) return this.marg[items[0] * this.slateSize + positions[0]];
    let mask = 0;
    let key = 0;
    for (let j = 0; j < positions.length; j++) {
      mask |= 1 << positions[j];
      key += items[j] * this.pow[positions[j]];
    }
    let table = this.byMask.get(mask);
    if (!table) {
      table = new Map();
      for (const [fullKey, count] of this.full) {
        let sub = 0;
        for (let j = 0; j < this.slateSize; j++)
          if (mask & (1 << j)) sub += (Math.floor(fullKey / this.pow[j]) % this.nItems) * this.pow[j];
        table.set(sub, (table.get(sub) ?? 0) + count);
      }
      this.byMask.set(mask, table);
    }
    return (table.get(key) ?? 0) / this.nSim;
  }
}
