import type { ServingSnapshot } from '../../model/serving-snapshot';
import { parsePolicyConfig, type PolicyConfig } from '../../policies/policy-config.schema';
import { serveSlate, slatePropensities } from '../../policies/serve-slate';
import { toDensePropensities } from '../../policies/slate-propensities';
import { hashString, Rng } from '../../random';
import { actionDistribution, type ActionDistribution } from '../action-distribution';
import type { EvaluationPolicy } from '../evaluation-policy';

export interface ServingPolicyOptions {
  /** The log's catalogue: log item index → external item id. */
  readonly itemIds: readonly string[];
  /** Positions per slate of the log. */
  readonly slateSize: number;
  /** Seed of every Monte Carlo draw (propensities, joints): per context, so the order of contexts is irrelevant. */
  readonly seed: number;
  /** Slates drawn per context to estimate joint probabilities of sub-slates (stochastic policies only). */
  readonly jointSlates?: number;
}

/** Everything the adapter keeps per distinct model input (a known user, or the population default). */
interface ContextRows {
  /** π(log item at position), dense `[item · k + position]`. */
  readonly probs: Float64Array;
  /** Monte Carlo slates (log item indices, k per slate) for joints; built on first need. */
  slates?: Int32Array;
}

/**
 * One of our serving policies (`src/core/policies`: in-slate TS, slate TS, greedy, ε-greedy, UCB, random)
 * with a fixed model, as an `EvaluationPolicy` over a reco log.
 *
 * - Context = the logged user id. A user the snapshot knows is scored with its vector; any other user with
 *   the population default, so all unknown users share one distribution (computed once).
 * - Candidates = the log's items that the snapshot knows and serves (active), so that every position's
 *   distribution sums to one over the log's catalogue; a logged item the model does not know gets π = 0.
 * - `actionDistribution`: `slatePropensities` per context, exact (greedy, UCB, ε-greedy, random) or Monte
 *   Carlo with the policy's own `propensitySlates` (Thompson policies), seeded per context.
 * - `jointProbability` of a sub-slate: the product of 0/1 marginals for the deterministic policies (exact),
 *   the closed form 1/(m(m−1)…) for random, and for ε-greedy and Thompson the fraction of `jointSlates`
 *   simulated slates that match (an estimate: its relative error grows as the joint gets small).
 * - `sampleSlate` serves a slate with `serveSlate`, as the service would, for replay.
 *
 * Memory: `actionDistribution` is contexts × items × positions doubles (1 when no logged user is known to
 * the model); 10⁴ users × 1000 items × 10 positions would be 800 MB, so very large logs need a window.
 */
export class ServingPolicyAdapter implements EvaluationPolicy<string> {
  readonly name: string;
  readonly nItems: number;
  readonly slateSize: number;
  /** Snapshot indices of the candidates, ascending. */
  private readonly candidates: Int32Array;
  /** Snapshot index → log index (−1: not in the log). */
  private readonly toLog: Int32Array;
  /** The policy used to draw slates: Thompson propensities are not needed per draw, so the cheapest setting. */
  private readonly drawPolicy: PolicyConfig;
  private readonly jointSlates: number;
  private readonly cache = new Map<string, ContextRows>();

  constructor(
    private readonly snapshot: ServingSnapshot,
    readonly policy: PolicyConfig,
    private readonly opts: ServingPolicyOptions,
  ) {
    const k = opts.slateSize;
    if (!(Number.isInteger(k) && k >= 1)) throw new RangeError(`slate size must be an integer ≥ 1, got ${k}`);
    this.nItems = opts.itemIds.length;
    this.slateSize = k;
    this.jointSlates = opts.jointSlates ?? 2000;
    if (!(Number.isInteger(this.jointSlates) && this.jointSlates >= 1))
      throw new RangeError(`jointSlates must be an integer ≥ 1, got ${this.jointSlates}`);
    this.toLog = new Int32Array(snapshot.itemIds.length).fill(-1);
    const cand: number[] = [];
    opts.itemIds.forEach((id, logIdx) => {
      const s = snapshot.itemIndex.get(id);
      if (s !== undefined && snapshot.active[s] !== 0) {
        this.toLog[s] = logIdx;
        cand.push(s);
      }
    });
    if (cand.length < k)
      throw new RangeError(
        `the model serves only ${cand.length} of the log's ${this.nItems} items, fewer than the slate size ${k}: ` +
          `its slates would leave positions empty (train or load a model that knows the log's items)`,
      );
    this.candidates = Int32Array.from(cand).sort();
    this.drawPolicy =
      policy.name === 'in_slate_ts' || policy.name === 'slate_ts'
        ? parsePolicyConfig({ ...policy, propensitySlates: 16 })
        : policy;
    const params = Object.entries(policy)
      .filter(([key]) => key !== 'name')
      .map(([key, v]) => `${key}=${String(v)}`);
    this.name = `${policy.name}${params.length ? `(${params.join(', ')})` : ''} @ model ${snapshot.version}`;
  }

  /** The key of the model input a context maps to: the user id when the model knows it, else '' (default). */
  private keyOf(context: string): string {
    return this.snapshot.users.has(context) ? context : '';
  }

  private rngFor(key: string, salt: number): Rng {
    return new Rng((hashString(key) ^ Math.imul(this.opts.seed + salt, 0x9e3779b1)) >>> 0);
  }

  private request(key: string): { user?: ArrayLike<number>; size: number; candidates: Int32Array } {
    return {
      user: key === '' ? undefined : this.snapshot.users.get(key),
      size: this.slateSize,
      candidates: this.candidates,
    };
  }

  private rows(context: string): ContextRows {
    const key = this.keyOf(context);
    let r = this.cache.get(key);
    if (!r) {
      const k = this.slateSize;
      const m = slatePropensities(this.snapshot, this.policy, this.request(key), this.rngFor(key, 1));
      const dense = toDensePropensities(m, this.snapshot.itemIds.length);
      const probs = new Float64Array(this.nItems * k);
      for (let c = 0; c < this.candidates.length; c++) {
        const s = this.candidates[c];
        probs.set(dense.subarray(s * k, s * k + k), this.toLog[s] * k);
      }
      r = { probs };
      this.cache.set(key, r);
    }
    return r;
  }

  actionDistribution(contexts: readonly string[]): ActionDistribution {
    const k = this.slateSize;
    const row = this.nItems * k;
    const shared = contexts.every((c) => this.keyOf(c) === '');
    const d = actionDistribution(shared ? 1 : Math.max(1, contexts.length), this.nItems, k);
    if (shared) d.probs.set(this.rows('').probs);
    else contexts.forEach((c, i) => d.probs.set(this.rows(c).probs, i * row));
    return d;
  }

  jointProbability(context: string, positions: ArrayLike<number>, items: ArrayLike<number>): number {
    const k = this.slateSize;
    const r = this.rows(context);
    if (positions.length === 1) return r.probs[items[0] * k + positions[0]];
    switch (this.policy.name) {
      case 'greedy':
      case 'ucb': {
        // Deterministic: every marginal is 0 or 1, and the joint is their product.
        let p = 1;
        for (let j = 0; j < positions.length; j++) p *= r.probs[items[j] * k + positions[j]];
        return p;
      }
      case 'random': {
        // Uniform without replacement over m candidates: P(o given items at o given positions) = 1/(m(m−1)…(m−o+1)).
        const m = this.candidates.length;
        let p = 1;
        for (let j = 0; j < positions.length; j++) {
          if (r.probs[items[j] * k + positions[j]] === 0) return 0;
          for (let t = 0; t < j; t++) if (items[t] === items[j]) return 0;
          p /= m - j;
        }
        return p;
      }
      case 'eps_greedy':
      case 'in_slate_ts':
      case 'slate_ts':
        return this.monteCarloJoint(context, r, positions, items);
    }
  }

  private monteCarloJoint(
    context: string,
    r: ContextRows,
    positions: ArrayLike<number>,
    items: ArrayLike<number>,
  ): number {
    const k = this.slateSize;
    if (!r.slates) {
      const key = this.keyOf(context);
      const rng = this.rngFor(key, 2);
      const out = new Int32Array(k);
      const slates = new Int32Array(this.jointSlates * k);
      for (let t = 0; t < this.jointSlates; t++) {
        this.draw(key, rng, out);
        slates.set(out, t * k);
      }
      r.slates = slates;
    }
    const s = r.slates;
    let hits = 0;
    outer: for (let t = 0; t < this.jointSlates; t++) {
      const o = t * k;
      for (let j = 0; j < positions.length; j++) if (s[o + positions[j]] !== items[j]) continue outer;
      hits++;
    }
    return hits / this.jointSlates;
  }

  private draw(key: string, rng: Rng, out: Int32Array): void {
    // Only the slate is used: the cheapest propensities (16 counted slates; the slate itself does not depend on them).
    const served = serveSlate(this.snapshot, this.drawPolicy, this.request(key), rng, {
      countedPropensities: true,
    });
    for (let j = 0; j < this.slateSize; j++) out[j] = this.toLog[served.items[j].index];
  }

  sampleSlate(context: string, rng: Rng, out: Int32Array): void {
    this.draw(this.keyOf(context), rng, out);
  }
}
