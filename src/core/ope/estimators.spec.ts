import { actionDistribution, type ActionDistribution } from './action-distribution';
import { bootstrapIntervals, quantile } from './bootstrap';
import { dmTerms, drTerms } from './direct-method';
import { evaluateOffPolicy } from './evaluate';
import { clippedIpwTerms, ipwTerms, snipwTerms } from './ipw';
import { piTerms } from './pseudo-inverse';
import { replay } from './replay';
import { fitItemPositionCtr } from './reward-model';
import { iipsTerms, ripsTerms, sipsTerms } from './slate-ips';
import { slotLogFromSlates } from './slot-log';
import { ratioValue } from './terms';
import { cascadeWeights, effectiveSampleSize, marginalWeights } from './weights';
import { SlateTablePolicy } from './eval-policies/slate-table.policy';

// Tiny log A (m = 3 items, L = 2 positions), a non-uniform logger; values below are worked by hand.
//   slate 0: item 0 @ pos 0, r = 1, μ = 0.5 | item 1 @ pos 1, r = 0, μ = 0.25
//   slate 1: item 2 @ pos 0, r = 1, μ = 0.25
//   slate 2: item 1 @ pos 1, r = 1, μ = 0.5
// π: pos 0 → [0.2, 0.3, 0.5], pos 1 → [0.6, 0.2, 0.2]
// weights: 0.4, 0.8 | 2 | 0.4
const logA = slotLogFromSlates(3, 2, [
  {
    slots: [
      { item: 0, position: 0, reward: 1, pscore: 0.5 },
      { item: 1, position: 1, reward: 0, pscore: 0.25 },
    ],
  },
  { slots: [{ item: 2, position: 0, reward: 1, pscore: 0.25 }] },
  { slots: [{ item: 1, position: 1, reward: 1, pscore: 0.5 }] },
]);
function distA(): ActionDistribution {
  const d = actionDistribution(1, 3, 2);
  [0.2, 0.3, 0.5].forEach((p, a) => (d.probs[a * 2] = p));
  [0.6, 0.2, 0.2].forEach((p, a) => (d.probs[a * 2 + 1] = p));
  return d;
}

describe('per-position estimators on a hand-worked log', () => {
  const w = marginalWeights(logA, distA());

  it('computes the weights π/μ', () => {
    expect(Array.from(w)).toEqual([0.4, 0.8, 2, 0.4].map((x) => expect.closeTo(x, 12)));
  });

  it('IPS = Σ w r / N = 2.8 / 4', () => {
    expect(ratioValue(ipwTerms(logA, w))).toBeCloseTo(0.7, 12);
  });

  it('SNIPS = Σ w r / Σ w = 2.8 / 3.6', () => {
    expect(ratioValue(snipwTerms(logA, w))).toBeCloseTo(2.8 / 3.6, 12);
  });

  it('clipped IPS caps the weight 2 at 1: (0.4 + 1 + 0.4) / 4', () => {
    const t = clippedIpwTerms(logA, w, 1);
    expect(ratioValue(t)).toBeCloseTo(0.45, 12);
    expect(t.exact).toBe(false);
    expect(clippedIpwTerms(logA, w, 5).exact).toBe(true);
    expect(() => clippedIpwTerms(logA, w, 0)).toThrow(RangeError);
  });

  it('ESS = (Σw)² / Σw² = 12.96 / 4.96', () => {
    expect(effectiveSampleSize(w)).toBeCloseTo(12.96 / 4.96, 12);
    expect(effectiveSampleSize([1, 1, 1, 1])).toBe(4);
  });

  it('DM and DR with an in-sample, unshrunk reward model', () => {
    // q̂ pos 0: seen (0): 1/1, (2): 1/1, unseen → position mean 1; pos 1: (1): 1/2, unseen → 0.5.
    const model = fitItemPositionCtr(logA, { folds: 1, priorStrength: 0 });
    expect(Array.from(model.q)).toEqual([1, 0.5, 1, 0.5, 1, 0.5]);
    // DM per slot: pos 0 → Σ π q̂ = 1, pos 1 → 0.5; slots at 0,1,0,1 → 3 / 4.
    expect(ratioValue(dmTerms(logA, distA(), model))).toBeCloseTo(0.75, 12);
    // DR adds w (r − q̂): 0.4·0 + 0.8·(0 − 0.5) + 2·0 + 0.4·(1 − 0.5) = −0.2 → 0.75 − 0.05.
    expect(ratioValue(drTerms(logA, distA(), model, w))).toBeCloseTo(0.7, 12);
  });

  it('cross-fits the reward model: fold f is predicted by the other folds', () => {
    // folds = 2: slates 0, 2 in fold 0; slate 1 in fold 1. Fold 0's table is fitted on slate 1 only:
    // pos 0 has one click in one show → every item 1 (strength 3 towards mean 1); pos 1 no data → 0.
    const model = fitItemPositionCtr(logA, { folds: 2, priorStrength: 3 });
    expect(Array.from(model.q.subarray(0, 6))).toEqual([1, 0, 1, 0, 1, 0]);
    // Fold 1's table is fitted on slates 0, 2: pos 0 mean 1, pos 1 mean 0.5; (1, pos 1): (1 + 3·0.5)/(2 + 3) = 0.5,
    // (0, pos 0): (1 + 3)/(1 + 3) = 1.
    expect(model.q[6 + 0 * 2 + 0]).toBeCloseTo(1, 12);
    expect(model.q[6 + 1 * 2 + 1]).toBeCloseTo(0.5, 12);
  });
});

// Tiny log B under the uniform-without-replacement logger (m = 3, L = 2: μ(slot) = 1/3, μ(pair) = 1/6),
// evaluated for π over whole slates: (0,1) 0.5, (2,0) 0.3, (1,2) 0.2.
//   A: 0@0 r1, 1@1 r1   B: 2@0 r0, 1@1 r1   C: 1@1 r1 (partial)
const piB = new SlateTablePolicy(3, [
  { items: [0, 1], p: 0.5 },
  { items: [2, 0], p: 0.3 },
  { items: [1, 2], p: 0.2 },
]);
const third = 1 / 3;
const logB = slotLogFromSlates(3, 2, [
  {
    slots: [
      { item: 0, position: 0, reward: 1, pscore: third },
      { item: 1, position: 1, reward: 1, pscore: third },
    ],
  },
  {
    slots: [
      { item: 2, position: 0, reward: 0, pscore: third },
      { item: 1, position: 1, reward: 1, pscore: third },
    ],
  },
  { slots: [{ item: 1, position: 1, reward: 1, pscore: third }] },
]);

describe('slate estimators on a hand-worked log', () => {
  const cascade = cascadeWeights(logB, piB, [null], 'uniform');
  const w = marginalWeights(logB, piB.actionDistribution());

  it('cascade weights: prefix joint of π over prefix joint of the uniform logger', () => {
    // A: 0.5/(1/3), 0.5/(1/6); B: 0.3/(1/3), 0; C (one slot): π(1@1) = 0.5 over 1/3.
    expect(Array.from(cascade)).toEqual([1.5, 3, 0.9, 0, 1.5].map((x) => expect.closeTo(x, 12)));
  });

  it('SIPS = (3·2 + 0·1 + 1.5·1) / 5 slots', () => {
    expect(ratioValue(sipsTerms(logB, cascade, true))).toBeCloseTo(1.5, 12);
  });

  it('IIPS = (1.5 + 1.5 + 0.9·0 + 1.5 + 1.5) / 5', () => {
    expect(ratioValue(iipsTerms(logB, w))).toBeCloseTo(1.2, 12);
  });

  it('RIPS = (1.5·1 + 3·1 + 0.9·0 + 0·1 + 1.5·1) / 5', () => {
    expect(ratioValue(ripsTerms(logB, cascade, true))).toBeCloseTo(1.2, 12);
  });

  it('approximates the logger joint by a product of marginals when only marginals are known', () => {
    const c = cascadeWeights(logB, piB, [null], 'independent');
    // A's pair: 0.5 / (1/3 · 1/3) = 4.5 instead of 3.
    expect(c[1]).toBeCloseTo(4.5, 12);
  });

  it('PI with one observed slot equals IPS; the factorised form is Σw − (o − 1)', () => {
    const one = slotLogFromSlates(3, 2, [{ slots: [{ item: 1, position: 1, reward: 1, pscore: third }] }]);
    expect(
      ratioValue(
        piTerms(one, piB.actionDistribution(), 'uniform', marginalWeights(one, piB.actionDistribution())),
      ),
    ).toBeCloseTo(1.5, 12);
    const t = piTerms(logB, piB.actionDistribution(), 'independent', w);
    // A: 1.5 + 1.5 − 1 = 2 → 2·2; B: 0.9 + 1.5 − 1 = 1.4 → 1.4·1; C: 1.5 → 1.5·1; over 5 slots.
    expect(ratioValue(t)).toBeCloseTo((4 + 1.4 + 1.5) / 5, 12);
  });
});

/** Every slate of m items × L positions without repetition. */
function allSlates(m: number, L: number): number[][] {
  const out: number[][] = [];
  const rec = (prefix: number[]): void => {
    if (prefix.length === L) return void out.push(prefix);
    for (let a = 0; a < m; a++) if (!prefix.includes(a)) rec([...prefix, a]);
  };
  rec([]);
  return out;
}

describe('exact unbiasedness by enumeration under the uniform logger', () => {
  // E_μ[estimate of one slate] = V(π) holds exactly: sum over every slate with μ = 1/#slates.
  const m = 4;
  const L = 3;
  const slates = allSlates(m, L);
  const policy = new SlateTablePolicy(
    m,
    slates.map((items, i) => ({
      items,
      p: (1 + ((i * 7) % 5)) / slates.reduce((s, _, j) => s + 1 + ((j * 7) % 5), 0),
    })),
  );
  // Additive reward: r_k = φ(item, position); PI's assumption. For SIPS also a non-additive one.
  const phi = (a: number, k: number): number => 0.1 + 0.07 * a + 0.11 * k * (a % 2);
  const log = slotLogFromSlates(
    m,
    L,
    slates.map((items) => ({
      slots: items.map((item, position) => ({ item, position, reward: phi(item, position), pscore: 1 / m })),
    })),
  );
  const truth =
    slates.reduce(
      (s, items) =>
        s + policy.jointProbability(null, [0, 1, 2], items) * items.reduce((r, a, k) => r + phi(a, k), 0),
      0,
    ) / L;
  const dist = policy.actionDistribution();
  const w = marginalWeights(log, dist);

  it.each([
    ['ipw', () => ipwTerms(log, w)],
    ['sips', () => sipsTerms(log, cascadeWeights(log, policy, [null], 'uniform'), true)],
    ['rips', () => ripsTerms(log, cascadeWeights(log, policy, [null], 'uniform'), true)],
    ['pi (exact Γ⁺)', () => piTerms(log, dist, 'uniform', w)],
  ])('%s averages to V(π) over all slates', (_name, make) => {
    // Every slate once = the exact expectation under the uniform logger (all slates equally likely, full slates).
    expect(ratioValue(make())).toBeCloseTo(truth, 10);
  });

  it('the factorised PI form is not exact for a without-replacement logger (so we use Γ⁺)', () => {
    expect(Math.abs(ratioValue(piTerms(log, dist, 'independent', w)) - truth)).toBeGreaterThan(1e-4);
  });
});

describe('each slate estimator is exact under its own reward model, and only there', () => {
  // Cascade reward: the user scans top-down and clicks slot k with probability φ(a_k) only if no slot
  // above was clicked. The expected reward of slot k depends on the items above it, so the
  // item-position model (IIPS) and the additive model of PI are wrong; SIPS and RIPS stay exact.
  // m = 5, not 4: with 4 items in 3 slots the total cascade reward depends only on the missing item,
  // which is linear in the slate's indicators, and PI would be exact by accident.
  const m = 5;
  const L = 3;
  const slates = allSlates(m, L);
  // π prefers the high-click items, in both orders: where an item sits changes what the slots below earn.
  const policy = new SlateTablePolicy(m, [
    { items: [3, 1, 2], p: 0.4 },
    { items: [1, 3, 2], p: 0.3 },
    { items: [0, 4, 2], p: 0.2 },
    { items: [2, 0, 4], p: 0.1 },
  ]);
  const phi = [0.1, 0.5, 0.3, 0.8, 0.2];
  const cascadeRewards = (items: number[]): number[] => {
    let none = 1;
    return items.map((a) => {
      const r = none * phi[a];
      none *= 1 - phi[a];
      return r;
    });
  };
  const log = slotLogFromSlates(
    m,
    L,
    slates.map((items) => {
      const r = cascadeRewards(items);
      return {
        slots: items.map((item, position) => ({ item, position, reward: r[position], pscore: 1 / m })),
      };
    }),
  );
  const truth =
    slates.reduce(
      (s, items) =>
        s +
        policy.jointProbability(null, [0, 1, 2], items) * cascadeRewards(items).reduce((a, b) => a + b, 0),
      0,
    ) / L;
  const dist = policy.actionDistribution();
  const w = marginalWeights(log, dist);
  const cascade = cascadeWeights(log, policy, [null], 'uniform');

  it('SIPS and RIPS are exact', () => {
    expect(ratioValue(sipsTerms(log, cascade, true))).toBeCloseTo(truth, 10);
    expect(ratioValue(ripsTerms(log, cascade, true))).toBeCloseTo(truth, 10);
  });

  it('IIPS (item-position model) and PI (additive model) are biased', () => {
    expect(Math.abs(ratioValue(iipsTerms(log, w)) - truth)).toBeGreaterThan(0.01);
    expect(Math.abs(ratioValue(piTerms(log, dist, 'uniform', w)) - truth)).toBeGreaterThan(0.01);
  });
});

describe('replay (Li et al. 2011)', () => {
  it('keeps only slots where the policy agrees with the log', () => {
    const fixed = new SlateTablePolicy(3, [{ items: [0, 1], p: 1 }]);
    const log = slotLogFromSlates(3, 2, [
      {
        slots: [
          { item: 0, position: 0, reward: 1, pscore: third },
          { item: 2, position: 1, reward: 0, pscore: third },
        ],
      },
      { slots: [{ item: 1, position: 0, reward: 1, pscore: third }] },
      { slots: [{ item: 1, position: 1, reward: 0, pscore: third }] },
    ]);
    const r = replay(log, fixed, [null], { seed: 1, uniformLogger: true });
    expect(r.accepted).toBe(2);
    expect(ratioValue(r.terms)).toBeCloseTo(0.5, 12);
    expect(r.trace.policyMean[r.trace.policyMean.length - 1]).toBeCloseTo(0.5, 12);
    expect(r.trace.loggedMean[r.trace.loggedMean.length - 1]).toBeCloseTo(0.5, 12);
  });
});

describe('bootstrap', () => {
  const terms = [
    ipwTerms(logA, marginalWeights(logA, distA())),
    snipwTerms(logA, marginalWeights(logA, distA())),
  ];

  it('is deterministic under a seed and changes with the seed', () => {
    const a = bootstrapIntervals(terms, { resamples: 300, seed: 7 });
    const b = bootstrapIntervals(terms, { resamples: 300, seed: 7 });
    const c = bootstrapIntervals(terms, { resamples: 300, seed: 8 });
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('brackets the estimate with percentile bounds inside the range of slate means', () => {
    const [iv] = bootstrapIntervals(terms, { resamples: 2000, seed: 3 });
    expect(iv.low).toBeLessThanOrEqual(0.7);
    expect(iv.high).toBeGreaterThanOrEqual(0.7);
    expect(iv.low).toBeGreaterThanOrEqual(0);
    expect(iv.high).toBeLessThanOrEqual(2);
    expect(iv.se).toBeGreaterThan(0);
  });

  it('uses type-7 quantiles', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4], 0)).toBe(1);
    expect(quantile([1, 2, 3, 4], 1)).toBe(4);
    expect(quantile([0, 10], 0.25)).toBe(2.5);
  });
});

describe('evaluateOffPolicy', () => {
  it('runs every estimator, returns intervals, and rejects a mismatched policy', () => {
    const r = evaluateOffPolicy(logB, piB, [null], {
      estimators: ['ipw', 'snipw', 'ipw_clipped', 'dm', 'dr', 'sips', 'iips', 'rips', 'pi', 'replay'],
      bootstrap: 50,
      seed: 1,
    });
    expect(r.behaviour).toBe('uniform');
    expect(Object.keys(r.estimates)).toHaveLength(10);
    expect(r.estimates.sips?.value).toBeCloseTo(1.5, 12);
    expect(r.estimates.ipw?.ci95).toHaveLength(2);
    expect(r.onPolicyMean).toBeCloseTo(0.8, 12);
    expect(() =>
      evaluateOffPolicy(logB, new SlateTablePolicy(4, [{ items: [0, 1], p: 1 }]), [null], {
        estimators: ['ipw'],
        bootstrap: 0,
        seed: 1,
      }),
    ).toThrow(/4 items/);
  });
});
