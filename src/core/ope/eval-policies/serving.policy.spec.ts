import { parsePolicyConfig, type PolicyConfigInput } from '../../policies/policy-config.schema';
import { syntheticSnapshot } from '../../policies/testing/synthetic-snapshot';
import { Rng } from '../../random';
import { checkActionDistribution, probAt } from '../action-distribution';
import { ServingPolicyAdapter } from './serving.policy';

// A model of 40 items; the log knows 12 of them plus one the model has never seen.
const snapshot = syntheticSnapshot({ items: 40, dim: 4, seed: 3, users: 3, coldFraction: 0 });
const logItems = [...Array.from({ length: 12 }, (_, i) => `item-${3 * i}`), 'not-in-model'];
const k = 3;
const contexts = ['u0', 'u1', 'stranger-a', 'stranger-b'];

const POLICIES: PolicyConfigInput[] = [
  { name: 'in_slate_ts', propensitySlates: 2000 },
  { name: 'slate_ts', propensitySlates: 2000 },
  { name: 'greedy' },
  { name: 'eps_greedy', epsilon: 0.2 },
  { name: 'ucb', beta: 1 },
  { name: 'random' },
];

const make = (p: PolicyConfigInput, seed = 1, jointSlates = 4000): ServingPolicyAdapter =>
  new ServingPolicyAdapter(snapshot, parsePolicyConfig(p), {
    itemIds: logItems,
    slateSize: k,
    seed,
    jointSlates,
  });

describe.each(POLICIES.map((p) => [p.name, p] as const))('ServingPolicyAdapter(%s)', (_name, config) => {
  const policy = make(config);
  const d = policy.actionDistribution(contexts);

  it('gives every position a distribution over the log items that sums to one; unknown items get 0', () => {
    expect(d.nContexts).toBe(contexts.length);
    expect(d.nItems).toBe(logItems.length);
    checkActionDistribution(d, 1e-9);
    const unknown = logItems.length - 1;
    for (let c = 0; c < contexts.length; c++) {
      for (let j = 0; j < k; j++) expect(probAt(d, c, unknown, j)).toBe(0);
      // An item is in the slate at most once: its marginals over positions sum to ≤ 1.
      for (let a = 0; a < logItems.length; a++) {
        let s = 0;
        for (let j = 0; j < k; j++) s += probAt(d, c, a, j);
        expect(s).toBeLessThanOrEqual(1 + 1e-9);
      }
    }
  });

  it('scores unknown users with the population default: they share one distribution', () => {
    const row = d.nItems * k;
    expect(d.probs.subarray(2 * row, 3 * row)).toEqual(d.probs.subarray(3 * row, 4 * row));
    const onlyStrangers = policy.actionDistribution(['x', 'y', 'z']);
    expect(onlyStrangers.nContexts).toBe(1);
    expect(onlyStrangers.probs).toEqual(d.probs.subarray(2 * row, 3 * row));
  });

  it('is deterministic under a seed, whatever the order of the contexts', () => {
    const again = make(config).actionDistribution([...contexts].reverse());
    const row = d.nItems * k;
    for (let c = 0; c < contexts.length; c++)
      expect(again.probs.subarray((contexts.length - 1 - c) * row, (contexts.length - c) * row)).toEqual(
        d.probs.subarray(c * row, (c + 1) * row),
      );
    const other = make(config, 2).actionDistribution(contexts);
    if (config.name === 'in_slate_ts' || config.name === 'slate_ts') expect(other.probs).not.toEqual(d.probs);
    else expect(other.probs).toEqual(d.probs); // closed forms do not depend on the seed
  });

  it('has joints consistent with its marginals, and samples slates at the rates it claims', () => {
    const exact = config.name === 'greedy' || config.name === 'ucb' || config.name === 'random';
    // Σ_b π(a at 0, b at 1) = π(a at 0): exact for the closed forms; Monte Carlo (4000 slates) for the others.
    for (const ctx of ['u0', 'stranger-a']) {
      const c = contexts.indexOf(ctx);
      for (let a = 0; a < logItems.length; a++) {
        let s = 0;
        for (let b = 0; b < logItems.length; b++) s += policy.jointProbability(ctx, [0, 1], [a, b]);
        const m = probAt(d, c, a, 0);
        if (exact) expect(s).toBeCloseTo(m, 12);
        else expect(Math.abs(s - m)).toBeLessThan(0.035);
        expect(policy.jointProbability(ctx, [1], [a])).toBe(probAt(d, c, a, 1));
      }
    }
    const rng = new Rng(9);
    const out = new Int32Array(k);
    const n = 4000;
    const counts = new Float64Array(logItems.length * k);
    for (let t = 0; t < n; t++) {
      policy.sampleSlate('u1', rng, out);
      expect(new Set(out).size).toBe(k);
      out.forEach((a, j) => counts[a * k + j]++);
    }
    // Binomial sd ≤ √(0.25/4000) ≈ 0.008 per frequency, plus the propensity's own Monte Carlo error (2000
    // slates: ≤ 0.011): 0.05 is about 4 combined sds.
    counts.forEach((cnt, i) =>
      expect(Math.abs(cnt / n - probAt(d, 1, Math.floor(i / k), i % k))).toBeLessThan(0.05),
    );
  });
});

describe('ServingPolicyAdapter specifics', () => {
  it('greedy puts the top items by mean score in order, with probability one', () => {
    const g = make({ name: 'greedy' });
    const d = g.actionDistribution(['u0']);
    const x = snapshot.users.get('u0')!;
    const score = logItems.slice(0, -1).map((id) => {
      const o = snapshot.itemIndex.get(id)! * snapshot.stride;
      let s = snapshot.mean[o + snapshot.dim];
      for (let j = 0; j < snapshot.dim; j++) s += x[j] * snapshot.mean[o + j];
      return s;
    });
    const order = score
      .map((s, i) => [s, i])
      .sort((a, b) => b[0] - a[0])
      .map((p) => p[1]);
    for (let j = 0; j < k; j++) expect(probAt(d, 0, order[j], j)).toBe(1);
    expect(g.jointProbability('u0', [0, 1, 2], order.slice(0, 3))).toBe(1);
    expect(g.jointProbability('u0', [0, 1], [order[1], order[0]])).toBe(0);
  });

  it('refuses a model that serves fewer of the log items than a slate holds', () => {
    expect(
      () =>
        new ServingPolicyAdapter(snapshot, parsePolicyConfig({ name: 'greedy' }), {
          itemIds: ['item-0', 'item-1', 'nope'],
          slateSize: 3,
          seed: 1,
        }),
    ).toThrow(/serves only 2 of the log's 3 items/);
  });
});
