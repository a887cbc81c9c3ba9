import { Rng } from '../../random';
import { checkActionDistribution } from '../action-distribution';
import { BernoulliTsPolicy, drawTopK } from './bts.policy';
import { MonteCarloSlates } from './monte-carlo-slates';
import { UniformRandomPolicy } from './random.policy';
import { SlateTablePolicy } from './slate-table.policy';

describe('UniformRandomPolicy', () => {
  const p = new UniformRandomPolicy(5, 3);
  it('has marginals 1/m and joints 1/(m(m−1)…)', () => {
    const d = p.actionDistribution();
    checkActionDistribution(d);
    expect(d.probs[7]).toBeCloseTo(0.2, 15);
    expect(p.jointProbability(null, [0, 2], [1, 4])).toBeCloseTo(1 / 20, 15);
    expect(p.jointProbability(null, [0, 1, 2], [1, 4, 0])).toBeCloseTo(1 / 60, 15);
    expect(p.jointProbability(null, [0, 1], [3, 3])).toBe(0);
  });
  it('samples distinct items, uniformly at each position', () => {
    const rng = new Rng(5);
    const out = new Int32Array(3);
    const counts = new Float64Array(15);
    const n = 50_000;
    for (let t = 0; t < n; t++) {
      p.sampleSlate(null, rng, out);
      expect(new Set(out).size).toBe(3);
      out.forEach((a, k) => counts[a * 3 + k]++);
    }
    // Binomial sd of a 0.2 frequency over 50k draws ≈ 0.0018; allow 5 sd.
    for (const c of counts) expect(Math.abs(c / n - 0.2)).toBeLessThan(0.009);
  });
});

describe('BernoulliTsPolicy', () => {
  it('draws the top-k of the sampled θ in decreasing order', () => {
    // θ of item 2 ≈ 0.999, item 0 ≈ 0.5, item 1 ≈ 0.001: always [2, 0, 1].
    const out = new Int32Array(3);
    drawTopK(new Rng(1), [5000, 1e5, 1e6], [5000, 1e8, 1e3], out);
    expect(Array.from(out)).toEqual([2, 0, 1]);
  });

  it('gives a normalised, seed-deterministic action distribution that follows the priors', () => {
    const config = { alpha: [50, 5, 5, 5], beta: [50, 95, 95, 95], slateSize: 2, nSim: 5000, seed: 11 };
    const a = new BernoulliTsPolicy(config).actionDistribution();
    const b = new BernoulliTsPolicy(config).actionDistribution();
    const c = new BernoulliTsPolicy({ ...config, seed: 12 }).actionDistribution();
    checkActionDistribution(a);
    expect(Array.from(b.probs)).toEqual(Array.from(a.probs));
    expect(Array.from(c.probs)).not.toEqual(Array.from(a.probs));
    // Item 0 (mean 0.5 vs 0.05) is first essentially always.
    expect(a.probs[0 * 2 + 0]).toBeGreaterThan(0.99);
  });

  it('its joint probabilities marginalise to its action distribution', () => {
    const p = new BernoulliTsPolicy({
      alpha: [3, 4, 5, 6, 7],
      beta: [50, 50, 50, 50, 50],
      slateSize: 3,
      nSim: 20_000,
      seed: 3,
    });
    const d = p.actionDistribution();
    for (let a = 0; a < 5; a++) {
      let s = 0;
      for (let b = 0; b < 5; b++) s += p.jointProbability(null, [0, 2], [a, b]);
      expect(s).toBeCloseTo(d.probs[a * 3 + 0], 12);
    }
    expect(p.jointProbability(null, [1, 2], [4, 4])).toBe(0);
  });

  it('learns in replay: a learner with clicks on item 3 ranks it first', () => {
    const p = new BernoulliTsPolicy({
      alpha: [1, 1, 1, 1],
      beta: [1, 1, 1, 1],
      slateSize: 1,
      nSim: 10,
      seed: 1,
    });
    const l = p.learner();
    for (let t = 0; t < 500; t++) l.update(null, 3, 0, 1);
    const out = new Int32Array(1);
    const rng = new Rng(9);
    let first = 0;
    for (let t = 0; t < 200; t++) {
      l.sampleSlate(null, rng, out);
      if (out[0] === 3) first++;
    }
    expect(first).toBeGreaterThan(190);
    expect(p.config.alpha[3]).toBe(1); // the config is not mutated
  });

  it('rejects invalid priors', () => {
    expect(() => new BernoulliTsPolicy({ alpha: [1, 2], beta: [1], slateSize: 1, nSim: 1, seed: 1 })).toThrow(
      RangeError,
    );
    expect(
      () => new BernoulliTsPolicy({ alpha: [1, 0], beta: [1, 1], slateSize: 1, nSim: 1, seed: 1 }),
    ).toThrow(RangeError);
  });
});

describe('MonteCarloSlates', () => {
  it('recovers a known slate distribution', () => {
    const table = new SlateTablePolicy(3, [
      { items: [0, 1], p: 0.7 },
      { items: [2, 0], p: 0.3 },
    ]);
    const rng = new Rng(4);
    const mc = MonteCarloSlates.simulate(3, 2, 40_000, (out) => table.sampleSlate(null, rng, out));
    expect(mc.joint([0, 1], [0, 1])).toBeCloseTo(0.7, 1);
    expect(mc.joint([1], [0])).toBeCloseTo(0.3, 1);
    expect(mc.joint([0, 1], [1, 0])).toBe(0);
  });
});

describe('SlateTablePolicy', () => {
  it('validates and sums marginals', () => {
    const t = new SlateTablePolicy(3, [
      { items: [0, 1], p: 0.5 },
      { items: [1, 0], p: 0.5 },
    ]);
    checkActionDistribution(t.actionDistribution());
    expect(() => new SlateTablePolicy(3, [{ items: [0, 1], p: 0.5 }])).toThrow(/sum/);
    expect(() => new SlateTablePolicy(3, [{ items: [0, 0], p: 1 }])).toThrow(/repeats/);
    expect(() => new SlateTablePolicy(3, [{ items: [0, 5], p: 1 }])).toThrow(/outside/);
  });
});
