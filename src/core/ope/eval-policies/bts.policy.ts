import { Rng } from '../../random';
import type { ActionDistribution } from '../action-distribution';
import type { EvaluationPolicy, ReplayLearner } from '../evaluation-policy';
import { MonteCarloSlates } from './monte-carlo-slates';

/** Immutable, validated configuration of Bernoulli Thompson sampling over a slate. */
export interface BtsConfig {
  /** Beta prior α per item (item id = index). */
  readonly alpha: readonly number[];
  /** Beta prior β per item. */
  readonly beta: readonly number[];
  /** Slate length (OBD: 3). */
  readonly slateSize: number;
  /** Monte Carlo draws for the action distribution (OBP's default n_sim = 100000). */
  readonly nSim: number;
  /** Seed of the Monte Carlo draws. */
  readonly seed: number;
}

/**
 * Bernoulli TS as in ZOZOTOWN/OBP (`obp.policy.BernoulliTS.select_action`): draw θ_a ~ Beta(α_a, β_a)
 * for every item and show the slateSize items with the largest θ, best first. Context-free: the
 * action distribution is the same for every user, so it is simulated once (nContexts = 1).
 */
export class BernoulliTsPolicy implements EvaluationPolicy<unknown> {
  readonly name = 'bts';
  readonly nItems: number;
  readonly slateSize: number;
  private mc?: MonteCarloSlates;

  constructor(readonly config: BtsConfig) {
    const { alpha, beta, slateSize, nSim } = config;
    if (alpha.length !== beta.length)
      throw new RangeError(`BernoulliTsPolicy: ${alpha.length} alphas but ${beta.length} betas`);
    if (!alpha.every((a) => a > 0) || !beta.every((b) => b > 0))
      throw new RangeError('BernoulliTsPolicy: priors must be > 0');
    if (!(Number.isInteger(slateSize) && slateSize >= 1 && slateSize <= alpha.length))
      throw new RangeError(`BernoulliTsPolicy: slateSize must be in 1..${alpha.length}`);
    if (!(Number.isInteger(nSim) && nSim >= 1))
      throw new RangeError('BernoulliTsPolicy: nSim must be an integer ≥ 1');
    this.nItems = alpha.length;
    this.slateSize = slateSize;
  }

  /** The simulated slate distribution (computed on first use, then cached: it is deterministic). */
  monteCarlo(): MonteCarloSlates {
    if (!this.mc) {
      const rng = new Rng(this.config.seed);
      const a = Float64Array.from(this.config.alpha);
      const b = Float64Array.from(this.config.beta);
      this.mc = MonteCarloSlates.simulate(this.nItems, this.slateSize, this.config.nSim, (out) =>
        drawTopK(rng, a, b, out),
      );
    }
    return this.mc;
  }

  actionDistribution(): ActionDistribution {
    return this.monteCarlo().actionDistribution();
  }

  jointProbability(_context: unknown, positions: ArrayLike<number>, items: ArrayLike<number>): number {
    return this.monteCarlo().joint(positions, items);
  }

  sampleSlate(_context: unknown, rng: Rng, out: Int32Array): void {
    drawTopK(rng, this.config.alpha, this.config.beta, out);
  }

  /** A learner with its own copy of (α, β), updated by accepted clicks (α += r, β += 1 − r). */
  learner(): ReplayLearner<unknown> {
    const a = Float64Array.from(this.config.alpha);
    const b = Float64Array.from(this.config.beta);
    return {
      sampleSlate: (_c, rng, out) => drawTopK(rng, a, b, out),
      update: (_c, item, _position, reward) => {
        a[item] += reward;
        b[item] += 1 - reward;
      },
    };
  }
}

/** θ ~ Beta(α, β) per item, then the indices of the out.length largest θ in decreasing order. */
export function drawTopK(rng: Rng, alpha: ArrayLike<number>, beta: ArrayLike<number>, out: Int32Array): void {
  const K = out.length;
  const best = new Float64Array(K).fill(-Infinity);
  for (let a = 0; a < alpha.length; a++) {
    const theta = rng.beta(alpha[a], beta[a]);
    if (theta <= best[K - 1]) continue;
    let j = K - 1;
    while (j > 0 && best[j - 1] < theta) {
      best[j] = best[j - 1];
      out[j] = out[j - 1];
      j--;
    }
    best[j] = theta;
    out[j] = a;
  }
}
