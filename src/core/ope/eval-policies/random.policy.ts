import type { Rng } from '../../random';
import { actionDistribution, type ActionDistribution } from '../action-distribution';
import type { EvaluationPolicy } from '../evaluation-policy';

/** Uniform random slates without replacement (OBD's `random` behaviour policy); everything in closed form. */
export class UniformRandomPolicy implements EvaluationPolicy<unknown> {
  readonly name = 'random';
  private readonly scratch: Int32Array;

  constructor(
    readonly nItems: number,
    readonly slateSize: number,
  ) {
    if (!(Number.isInteger(nItems) && Number.isInteger(slateSize) && slateSize >= 1 && nItems >= slateSize))
      throw new RangeError(
        `UniformRandomPolicy: need integers nItems ≥ slateSize ≥ 1, got ${nItems}, ${slateSize}`,
      );
    this.scratch = Int32Array.from({ length: nItems }, (_, i) => i);
  }

  actionDistribution(): ActionDistribution {
    const d = actionDistribution(1, this.nItems, this.slateSize);
    d.probs.fill(1 / this.nItems);
    return d;
  }

  /** 1 / (m (m−1) … (m−o+1)) if the o items are distinct, else 0. */
  jointProbability(_context: unknown, positions: ArrayLike<number>, items: ArrayLike<number>): number {
    let p = 1;
    for (let j = 0; j < positions.length; j++) {
      for (let k = 0; k < j; k++) if (items[k] === items[j]) return 0;
      p /= this.nItems - j;
    }
    return p;
  }

  /** Partial Fisher–Yates: the first slateSize entries of a shuffle. */
  sampleSlate(_context: unknown, rng: Rng, out: Int32Array): void {
    const a = this.scratch;
    for (let j = 0; j < this.slateSize; j++) {
      const k = j + rng.nextInt(this.nItems - j);
      const t = a[j];
      a[j] = a[k];
      a[k] = t;
      out[j] = a[j];
    }
  }
}
