import { Rng } from '../random';
import { parsePolicyConfig } from './policy-config.schema';
import { scoreWithSampler, serveSlate } from './serve-slate';
import { resolveSlateRequest } from './slate-request';
import { inSlateProbability, propensityAt } from './slate-propensities';
import { oneDrawRanks, selectSlateTs, thompsonPropensities } from './thompson-policies';
import { bruteForceProbabilities } from './testing/brute-force';
import { estimateAsServed, GivenServed } from './testing/given-served';
import { snapshotFromScores, syntheticSnapshot } from './testing/synthetic-snapshot';

/**
 * slate_ts's served propensities, and in_slate_ts's of one item, by one-draw conditional Monte Carlo
 * (`conditionalSlateTsPropensities`): unbiased against brute force; given the slate that was served, the simulated
 * draws' part unbiased and the served draw lifting it less than a counted sample does; less variance than counting
 * four times as many draws; and the slates served with the sampler of k + 1 ranks still the policy's. (A narrow
 * posterior's estimate kept from collapsing by the served draw: conditional-propensities.spec.ts, for both policies.)
 */

describe('slate_ts one-draw conditional propensities agree with brute force', () => {
  const r = new Rng(171);
  const mixedMeans = [
    ...Array.from({ length: 18 }, () => 0.5 * r.normal()),
    ...new Array<number>(20).fill(-0.3),
    0.4,
    -2,
  ];
  const mixedVars = [
    ...Array.from({ length: 18 }, () => 0.02 + 0.3 * r.next()),
    ...new Array<number>(20).fill(0.6),
    0,
    0,
  ];
  const sixMeans = [1.0, 0.9, 0.6, 0.2, 0.0, -0.4];
  const sixVars = [0.04, 0.25, 0.5, 1.5, 0.01, 2.0];
  const cases = [
    { label: '6 learned items, k 3', means: sixMeans, vars: sixVars, k: 3, policy: 'slate_ts' as const },
    {
      label: '18 learned, 20 identical, 2 with sd 0, k 5',
      means: mixedMeans,
      vars: mixedVars,
      k: 5,
      policy: 'slate_ts' as const,
      S: 5_000,
    },
    {
      label: 'tight posteriors, k 4',
      means: [1.0, 0.99, 0.97, 0.9, 0.5, 0.49, 0.2, 0.0],
      vars: [1e-4, 4e-4, 1e-4, 1e-3, 1e-4, 1e-4, 0, 1e-2],
      k: 4,
      policy: 'slate_ts' as const,
    },
    // Every candidate in the slate: the others' (k − 1)-th does not exist (−∞), the in-slate probability is 1.
    {
      label: 'k = n = 4',
      means: sixMeans.slice(0, 4),
      vars: sixVars.slice(0, 4),
      k: 4,
      policy: 'slate_ts' as const,
    },
    // One item: plain Thompson sampling, the same policy under either name.
    {
      label: 'in_slate_ts of one item',
      means: sixMeans,
      vars: sixVars,
      k: 1,
      policy: 'in_slate_ts' as const,
    },
    {
      label: 'in_slate_ts of one item, 40 mixed',
      means: mixedMeans,
      vars: mixedVars,
      k: 1,
      policy: 'in_slate_ts' as const,
      S: 5_000,
    },
  ];
  const B = 200_000;
  for (const { label, means, vars, k, policy, S = 20_000 } of cases)
    it(`${label}: ${S} conditional draws vs ${B} brute-force slates, within 5σ`, () => {
      const n = means.length;
      const snap = snapshotFromScores(means, vars);
      const truth = bruteForceProbabilities(means, vars, k, 1, B, 172);
      const z = (est: number, p0: number): number => {
        const p = (p0 + est) / 2;
        // The counts' σ: conditioning only lowers the variance.
        return Math.abs(est - p0) / Math.sqrt(Math.max(p * (1 - p), 1e-9) * (1 / S + 1 / B));
      };
      let worst = 0;
      let checked = 0;
      // Every item at every position, k at a time in k rotations (serving estimates an item's own position and its
      // in-slate probability only).
      for (let g = 0; g * k < n; g++)
        for (let q = 0; q < k; q++) {
          const items = Array.from({ length: k }, (_, j) => (g * k + ((j + q) % k)) % n);
          const m = estimateAsServed(snap, policy, k, items, S, 173 + g * k + q);
          expect(m.kind).toBe('monte_carlo');
          expect(m.simulatedSlates).toBe(S);
          items.forEach((i, j) => {
            let inSlate = 0;
            for (let j2 = 0; j2 < k; j2++) inSlate += truth[i * k + j2];
            worst = Math.max(worst, z(propensityAt(m, i, j), truth[i * k + j]));
            worst = Math.max(worst, z(inSlateProbability(m, i), inSlate));
            if (k === n) expect(inSlateProbability(m, i)).toBe(1);
            checked++;
          });
        }
      expect(checked).toBeGreaterThanOrEqual(n * k);
      expect(worst).toBeLessThan(5);
    });

  it('serves the policy: slates drawn with the sampler of k + 1 ranks agree with brute force (4·10^4 each, 5σ)', () => {
    const k = 5;
    const snap = snapshotFromScores(mixedMeans, mixedVars);
    const truth = bruteForceProbabilities(mixedMeans, mixedVars, k, 1, 40_000, 174);
    const counts = new Float64Array(mixedMeans.length * k);
    const req = resolveSlateRequest(snap, { size: k });
    const N = 40_000;
    for (let seed = 0; seed < N; seed++) {
      const { sc, sampler } = scoreWithSampler(snap, req, true, oneDrawRanks(k, req.rows.length));
      expect(sampler.k).toBe(k + 1);
      const sel = selectSlateTs(sampler, k, new Rng(seed));
      for (let j = 0; j < k; j++) counts[sc.rows[sel.cand[j]] * k + j]++;
    }
    let worst = 0;
    for (let at = 0; at < counts.length; at++) {
      const p = (truth[at] + counts[at] / N) / 2;
      worst = Math.max(
        worst,
        Math.abs(counts[at] / N - truth[at]) / Math.sqrt(Math.max(p * (1 - p), 1e-9) * (2 / N)),
      );
    }
    expect(worst).toBeLessThan(5);
    // serveSlate serves the draw's first k and logs the one-draw estimate (S = 64 by default), deterministically.
    const policy = parsePolicyConfig({ name: 'slate_ts' });
    const a = serveSlate(snap, policy, { size: k }, new Rng(175));
    expect(a.simulatedSlates).toBe(64);
    expect(new Set(a.items.map((i) => i.index)).size).toBe(k);
    for (let j = 1; j < k; j++) expect(a.items[j].score).toBeLessThanOrEqual(a.items[j - 1].score);
    expect(serveSlate(snap, policy, { size: k }, new Rng(175))).toEqual(a);
  });
});

describe('slate_ts served propensities, conditional against counted', () => {
  it('given the served slate: unbiased from the simulation alone, lifted less than (1 − p)/(S + 1) with the served draw; the counted ones by ≈ (1 − p)/(S + 1)', () => {
    const means = [1.0, 0.9, 0.6, 0.2, 0.0, -0.4];
    const vars = [0.04, 0.25, 0.5, 1.5, 0.01, 2.0];
    const k = 3;
    const S = 16;
    const snap = snapshotFromScores(means, vars);
    const truth = bruteForceProbabilities(means, vars, k, 1, 200_000, 176);
    const req = resolveSlateRequest(snap, { size: k });
    const modes = ['simulation', 'served draw', 'counted'] as const;
    const given = new GivenServed(modes.length, truth, 200_000);
    for (let seed = 0; seed < 6000; seed++) {
      const { sc, sampler } = scoreWithSampler(snap, req, true, oneDrawRanks(k, req.rows.length));
      const sel = selectSlateTs(sampler, k, new Rng(seed));
      modes.forEach((mode, e) => {
        // Counting needs a sampler of k ranks: scored again, last (a shared sampler is valid until the next one).
        const at = mode === 'counted' ? scoreWithSampler(snap, req) : { sc, sampler };
        const m = thompsonPropensities(
          at.sc,
          at.sampler,
          k,
          'slate_ts',
          S,
          new Rng(100_000 + seed),
          sel.cand,
          {
            servedOnly: true,
            conditional: mode !== 'counted',
            servedDraw: mode === 'served draw' ? sel.draw : undefined,
          },
        );
        for (let j = 0; j < k; j++) {
          const item = sc.rows[sel.cand[j]];
          given.add(e, item * k + j, propensityAt(m, item, j));
        }
      });
      for (let j = 0; j < k; j++) given.served(sc.rows[sel.cand[j]] * k + j);
    }
    const countedLift = (p: number): number => (1 - p) / (S + 1);
    expect(given.z(0, () => 0).length).toBeGreaterThanOrEqual(8);
    expect(Math.max(...given.z(0, () => 0).map(Math.abs))).toBeLessThan(5);
    expect(Math.min(...given.z(1, () => 0))).toBeGreaterThan(-5);
    expect(Math.max(...given.z(1, countedLift))).toBeLessThan(-3);
    expect(Math.max(...given.z(2, countedLift).map(Math.abs))).toBeLessThan(5);
    expect(Math.max(...given.z(2, () => 0))).toBeGreaterThan(10); // the check has the power to see the counted lift
  });

  it('64 conditional draws vary less than 256 counted ones, for the logged pairs', () => {
    const snap = syntheticSnapshot({ items: 2000, dim: 8, seed: 177, coldFraction: 0.3 });
    const k = 10;
    const runs = 40;
    // Across `runs` seeds, over the served items: the logged propensity's relative variance (variance / mean²),
    // summed (what IPS divides by), and the in-slate probabilities' variance, summed.
    const spread = (
      items: number[],
      slates: number,
      conditional: boolean,
    ): { logged: number; inSlate: number } => {
      const sum = new Float64Array(2 * k);
      const sq = new Float64Array(2 * k);
      for (let seed = 0; seed < runs; seed++) {
        const m = estimateAsServed(snap, 'slate_ts', k, items, slates, 2000 + seed, conditional);
        items.forEach((item, j) => {
          const v = [propensityAt(m, item, j), inSlateProbability(m, item)];
          for (let e = 0; e < 2; e++) {
            sum[2 * j + e] += v[e];
            sq[2 * j + e] += v[e] * v[e];
          }
        });
      }
      let logged = 0;
      let inSlate = 0;
      for (let e = 0; e < 2 * k; e++) {
        const mean = sum[e] / runs;
        const variance = sq[e] / runs - mean * mean;
        if (e % 2 === 0) logged += variance / (mean * mean);
        else inSlate += variance;
      }
      return { logged, inSlate };
    };
    let c64 = 0;
    let counted256 = 0;
    let in64 = 0;
    let inCounted256 = 0;
    for (const seed of [178, 179, 180]) {
      const served = serveSlate(snap, parsePolicyConfig({ name: 'slate_ts' }), { size: k }, new Rng(seed));
      const items = served.items.map((i) => i.index);
      const c = spread(items, 64, true);
      const counted = spread(items, 256, false);
      expect(c.logged).toBeGreaterThan(0);
      c64 += c.logged;
      counted256 += counted.logged;
      in64 += c.inSlate;
      inCounted256 += counted.inSlate;
    }
    expect(c64).toBeLessThan(counted256);
    expect(in64).toBeLessThan(inCounted256);
  });
});
