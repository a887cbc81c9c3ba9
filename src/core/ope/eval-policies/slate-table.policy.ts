import type { Rng } from '../../random';
import { actionDistribution, type ActionDistribution } from '../action-distribution';
import type { EvaluationPolicy } from '../evaluation-policy';

/** One slate of an explicit distribution. */
export interface WeightedSlate {
  readonly items: readonly number[];
  readonly p: number;
}

/**
 * A context-free policy given as an explicit distribution over whole slates (POLICY.json
 * `{"kind":"slates","slates":[{"items":[…],"p":…},…]}`); a fixed policy is one slate with p = 1.
 * Every quantity is exact: marginals and joints are sums over the listed slates.
 */
export class SlateTablePolicy implements EvaluationPolicy<unknown> {
  readonly slateSize: number;
  private readonly cdf: Float64Array;

  constructor(
    readonly nItems: number,
    private readonly slates: readonly WeightedSlate[],
    readonly name = 'slates',
  ) {
    if (slates.length === 0) throw new RangeError('SlateTablePolicy: no slates');
    this.slateSize = slates[0].items.length;
    let total = 0;
    this.cdf = new Float64Array(slates.length);
    slates.forEach((s, i) => {
      if (s.items.length !== this.slateSize)
        throw new RangeError(
          `SlateTablePolicy: slate ${i} has length ${s.items.length}, expected ${this.slateSize}`,
        );
      if (new Set(s.items).size !== s.items.length)
        throw new RangeError(`SlateTablePolicy: slate ${i} repeats an item`);
      for (const a of s.items)
        if (!(Number.isInteger(a) && a >= 0 && a < nItems))
          throw new RangeError(`SlateTablePolicy: item ${a} outside 0..${nItems - 1}`);
      if (!(s.p >= 0)) throw new RangeError(`SlateTablePolicy: slate ${i} has probability ${s.p}`);
      total += s.p;
      this.cdf[i] = total;
    });
    if (Math.abs(total - 1) > 1e-9)
      throw new RangeError(`SlateTablePolicy: probabilities sum to ${total}, not 1`);
  }

  actionDistribution(): ActionDistribution {
    const d = actionDistribution(1, this.nItems, this.slateSize);
    for (const s of this.slates) s.items.forEach((a, k) => (d.probs[a * this.slateSize + k] += s.p));
    return d;
  }

  jointProbability(_context: unknown, positions: ArrayLike<number>, items: ArrayLike<number>): number {
    let p = 0;
    outer: for (const s of this.slates) {
      for (let j = 0; j < positions.length; j++) if (s.items[positions[j]] !== items[j]) continue outer;
      p += s.p;
    }
    return p;
  }

  sampleSlate(_context: unknown, rng: Rng, out: Int32Array): void {
    const u = rng.next() * this.cdf[this.cdf.length - 1];
    let i = 0;
    while (i < this.cdf.length - 1 && this.cdf[i] <= u) i++;
    for (let k = 0; k < this.slateSize; k++) out[k] = this.slates[i].items[k];
  }
}
