import type { ServingSnapshot } from '../model/serving-snapshot';
import { NormalStream, Rng } from '../random';
import { normalCdf } from './internal/gaussian';
import { parsePolicyConfig, type PolicyConfig, type PolicyConfigInput } from './policy-config.schema';
import { NoCandidatesError, PolicyInputError } from './policy-errors';
import { resolveSlateRequest } from './slate-request';
import { classLayout } from './score-classes';
import { scoreRequest, serveSlate, slatePropensities } from './serve-slate';
import { thompsonPropensities } from './thompson-policies';
import { ThompsonTopK } from './thompson-sampler';
import {
  inSlateProbability,
  propensityAt,
  toDensePropensities,
  type SlatePropensities,
} from './slate-propensities';
import { bruteForceCounts } from './testing/brute-force';
import { snapshotFromScores, syntheticSnapshot } from './testing/synthetic-snapshot';

const ALL: PolicyConfigInput[] = [
  { name: 'in_slate_ts', propensitySlates: 500 },
  { name: 'slate_ts', propensitySlates: 500 },
  { name: 'greedy' },
  { name: 'eps_greedy', epsilon: 0.2 },
  { name: 'ucb', beta: 1.5 },
  { name: 'random' },
];

function expectStochasticMatrix(m: SlatePropensities, nItems: number, tol = 1e-9): Float64Array {
  const dense = toDensePropensities(m, nItems);
  const k = m.k;
  // Plain loops, one expect per property (jest's expect is slow in inner loops).
  let negative = 0;
  let worstCol = 0;
  let worstRow = 0;
  let total = 0;
  for (let j = 0; j < k; j++) {
    let col = 0;
    for (let i = 0; i < nItems; i++) {
      const p = dense[i * k + j];
      if (!(p >= 0)) negative++;
      col += p;
    }
    worstCol = Math.max(worstCol, Math.abs(col - 1));
  }
  for (let i = 0; i < nItems; i++) {
    let row = 0;
    for (let j = 0; j < k; j++) row += dense[i * k + j];
    worstRow = Math.max(worstRow, row);
    total += row;
  }
  expect(negative).toBe(0);
  expect(worstCol).toBeLessThan(tol);
  expect(worstRow).toBeLessThanOrEqual(1 + tol);
  expect(Math.abs(total - k)).toBeLessThan(k * tol);
  return dense;
}

describe('serveSlate: every policy', () => {
  const snap = syntheticSnapshot({
    items: 3000,
    dim: 8,
    seed: 5,
    inactiveFraction: 0.05,
    coldFraction: 0.02,
  });
  const user = snap.users.get('u0')!;
  for (const input of ALL) {
    const policy = parsePolicyConfig(input);
    it(`${policy.name}: serves k distinct valid items with consistent propensities, deterministically`, () => {
      const exclude = [1, 2, 3, 50, 51];
      const req = { user, size: 10, exclude };
      const a = serveSlate(snap, policy, req, new Rng(42), { withMatrix: true });
      expect(serveSlate(snap, policy, req, new Rng(42), { withMatrix: true })).toEqual(a);
      expect(a.items.map((i) => i.position)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(new Set(a.items.map((i) => i.index)).size).toBe(10);
      expect(a.modelVersion).toBe(snap.version);
      expect(a.policy).toBe(policy);
      for (const it of a.items) {
        expect(snap.active[it.index]).toBe(1);
        expect(exclude).not.toContain(it.index);
        expect(it.itemId).toBe(snap.itemIds[it.index]);
        expect(it.propensity).toBeGreaterThan(0);
        expect(it.propensity).toBeLessThanOrEqual(it.inSlateProbability + 1e-12);
        expect(it.propensity).toBe(propensityAt(a.matrix!, it.index, it.position - 1));
        expect(it.inSlateProbability).toBe(inSlateProbability(a.matrix!, it.index));
      }
      const dense = expectStochasticMatrix(a.matrix!, snap.itemIds.length);
      let leaked = 0;
      for (let i = 0; i < snap.itemIds.length; i++)
        if (snap.active[i] === 0 || exclude.includes(i))
          for (let j = 0; j < 10; j++) leaked += dense[i * 10 + j];
      expect(leaked).toBe(0);
      if (policy.name !== 'greedy' && policy.name !== 'ucb') {
        const other = serveSlate(snap, policy, req, new Rng(43));
        expect(other.items.map((i) => i.index)).not.toEqual(a.items.map((i) => i.index));
      }
    });
  }

  it('reports the score each policy ranks by', () => {
    const req = { user, size: 5 };
    const g = serveSlate(snap, parsePolicyConfig({ name: 'greedy' }), req, new Rng(1));
    for (let j = 1; j < 5; j++) expect(g.items[j].score).toBeLessThanOrEqual(g.items[j - 1].score);
    const u = serveSlate(snap, parsePolicyConfig({ name: 'ucb', beta: 3 }), req, new Rng(1));
    expect(u.items[0].score).toBeGreaterThanOrEqual(g.items[0].score);
    const ts = serveSlate(snap, parsePolicyConfig({ name: 'slate_ts' }), req, new Rng(1));
    for (let j = 1; j < 5; j++) expect(ts.items[j].score).toBeLessThanOrEqual(ts.items[j - 1].score);
  });

  it('greedy and UCB propensities are exactly 1; random are exactly 1/n and k/n', () => {
    const req = { user, size: 7 };
    for (const name of ['greedy', 'ucb'] as const) {
      const s = serveSlate(snap, parsePolicyConfig({ name }), req, new Rng(2));
      for (const it of s.items) {
        expect(it.propensity).toBe(1);
        expect(it.inSlateProbability).toBe(1);
      }
      expect(s.propensityKind).toBe('exact');
    }
    const nActive = snap.active.reduce((a, b) => a + b, 0);
    const r = serveSlate(snap, parsePolicyConfig({ name: 'random' }), req, new Rng(2));
    for (const it of r.items) {
      expect(it.propensity).toBeCloseTo(1 / nActive, 15);
      expect(it.inSlateProbability).toBeCloseTo(7 / nActive, 15);
    }
  });
});

describe('serveSlate: requests', () => {
  const snap = syntheticSnapshot({ items: 200, dim: 4, seed: 8 });
  const policy = parsePolicyConfig({ name: 'in_slate_ts', propensitySlates: 64 });
  const err = (f: () => unknown): PolicyInputError => {
    try {
      f();
    } catch (e) {
      if (e instanceof PolicyInputError) return e;
      throw e;
    }
    throw new Error('expected PolicyInputError');
  };

  it('serves only from the candidates, skipping and reporting inactive ones', () => {
    const s = { ...snap, active: snap.active.slice() };
    s.active[7] = 0;
    const out = serveSlate(s, policy, { size: 3, candidates: [5, 7, 9, 11, 9], exclude: [11] }, new Rng(3));
    expect(out.inactiveCandidates).toEqual([7]);
    expect(out.items.map((i) => i.index).sort()).toEqual([5, 9]);
    expect(out.items).toHaveLength(2);
    expect(out.requestedSize).toBe(3);
    expect(out.items.map((i) => i.propensity).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('uses the default user when none is given', () => {
    const a = serveSlate(snap, policy, { size: 4 }, new Rng(4));
    const b = serveSlate(snap, policy, { size: 4, user: snap.defaultUser }, new Rng(4));
    expect(a).toEqual(b);
  });

  it('names the bad field and the rule', () => {
    expect(err(() => serveSlate(snap, policy, { size: 0 }, new Rng(1)))).toMatchObject({ field: 'size' });
    expect(err(() => serveSlate(snap, policy, { size: 101 }, new Rng(1))).rule).toBe(
      'must be an integer in [1, 100]',
    );
    expect(err(() => serveSlate(snap, policy, { size: 2.5 }, new Rng(1))).field).toBe('size');
    expect(err(() => serveSlate(snap, policy, { size: 2, user: [1, 2] }, new Rng(1))).field).toBe('user');
    expect(err(() => serveSlate(snap, policy, { size: 2, user: [1, NaN, 0, 0] }, new Rng(1))).field).toBe(
      'user[1]',
    );
    expect(err(() => serveSlate(snap, policy, { size: 2, candidates: [1, 200] }, new Rng(1))).field).toBe(
      'candidates[1]',
    );
    expect(err(() => serveSlate(snap, policy, { size: 2, exclude: [-1] }, new Rng(1))).field).toBe(
      'exclude[0]',
    );
  });

  it('refuses when nothing can be served', () => {
    expect(() =>
      serveSlate(snap, policy, { size: 2, candidates: [1, 2], exclude: [1, 2] }, new Rng(1)),
    ).toThrow(NoCandidatesError);
    const empty: ServingSnapshot = {
      ...snap,
      itemIds: [],
      mean: new Float32Array(0),
      variance: new Float32Array(0),
      active: new Uint8Array(0),
    };
    expect(() => serveSlate(empty, policy, { size: 2 }, new Rng(1))).toThrow(/catalogue is empty/);
  });
});

/** Plain in-slate TS on the full score vectors: k draws, rank-major fall-through, first k distinct. */
function bruteForceSlate(mean: number[], sd: number[], k: number, draws: number, z: NormalStream): number[] {
  const n = mean.length;
  const ranked: number[][] = [];
  for (let d = 0; d < draws; d++) {
    const x: number[] = [];
    for (let i = 0; i < n; i++) x.push(mean[i] + sd[i] * z.normal());
    // The k best of this draw by k passes of arg-max (deeper ranks are never reached: draw 0 alone
    // holds k distinct items).
    const order: number[] = [];
    for (let r = 0; r < k; r++) {
      let best = -1;
      for (let i = 0; i < n; i++) if (!order.includes(i) && (best < 0 || x[i] > x[best])) best = i;
      order.push(best);
    }
    ranked.push(order);
  }
  const slate: number[] = [];
  for (let r = 0; r < k && slate.length < k; r++)
    for (let d = 0; d < draws && slate.length < k; d++)
      if (!slate.includes(ranked[d][r])) slate.push(ranked[d][r]);
  return slate;
}

describe('Thompson propensities (Monte Carlo) agree with brute-force simulation', () => {
  const means = [1.0, 0.9, 0.6, 0.2, 0.0, -0.4];
  const vars = [0.04, 0.25, 0.5, 1.5, 0.01, 2.0];
  const sds = vars.map(Math.sqrt);
  const snap = snapshotFromScores(means, vars);
  const k = 3;
  const S = 100_000;
  const B = 300_000;

  for (const name of ['in_slate_ts', 'slate_ts'] as const) {
    it(`${name}: ${S} simulated slates vs ${B} brute-force slates (${name === 'in_slate_ts' ? 3 * B : B} draws), within 5σ`, () => {
      const m = slatePropensities(
        snap,
        parsePolicyConfig({ name, propensitySlates: S }),
        { size: k },
        new Rng(31),
      );
      expect(m.kind).toBe('monte_carlo');
      const est = expectStochasticMatrix(m, means.length);
      const z = new NormalStream(new Rng(32));
      const counts = new Float64Array(means.length * k);
      for (let b = 0; b < B; b++) {
        const slate = bruteForceSlate(means, sds, k, name === 'in_slate_ts' ? k : 1, z);
        slate.forEach((item, j) => counts[item * k + j]++);
      }
      let worst = 0;
      for (let i = 0; i < est.length; i++) {
        // Two-sample test on the pooled proportion; overlapping simulated slates count as S/k
        // independent slates (conservative).
        const p = (counts[i] / B + est[i]) / 2;
        const sigma = Math.sqrt(Math.max(p * (1 - p), 1e-9) * (k / S + 1 / B));
        worst = Math.max(worst, Math.abs(est[i] - counts[i] / B) / sigma);
      }
      expect(worst).toBeLessThan(5);
    });
  }

  it('in_slate_ts, k = 2, on a 60-item catalogue (threshold-mode sampler): 2·10^4 simulated vs 4·10^4 brute-force slates', () => {
    const r = new Rng(77);
    const m60 = Array.from({ length: 60 }, () => r.normal());
    const v60 = Array.from({ length: 60 }, (_, i) => (i % 9 === 0 ? 1.5 : 0.02 + 0.2 * r.next()));
    const snap60 = snapshotFromScores(m60, v60);
    // The scores the policy sees are float32-rounded: use the same for the sampler check and brute force.
    const mf = m60.map((x) => Math.fround(x));
    const sf = v60.map((x) => Math.sqrt(Math.fround(x)));
    expect(Number.isNaN(new ThompsonTopK(Float64Array.from(mf), Float64Array.from(sf), 2).threshold)).toBe(
      false,
    );
    const S60 = 20_000;
    const B60 = 40_000;
    const m = slatePropensities(
      snap60,
      parsePolicyConfig({ name: 'in_slate_ts', propensitySlates: S60 }),
      { size: 2 },
      new Rng(78),
    );
    const est = expectStochasticMatrix(m, 60);
    const z = new NormalStream(new Rng(79));
    const counts = new Float64Array(60 * 2);
    for (let b = 0; b < B60; b++)
      bruteForceSlate(mf, sf, 2, 2, z).forEach((item, j) => counts[item * 2 + j]++);
    let worst = 0;
    for (let i = 0; i < est.length; i++) {
      // Two-sample test on the pooled proportion.
      const p = (counts[i] / B60 + est[i]) / 2;
      const sigma = Math.sqrt(Math.max(p * (1 - p), 1e-9) * (2 / S60 + 1 / B60));
      worst = Math.max(worst, Math.abs(est[i] - counts[i] / B60) / sigma);
    }
    expect(worst).toBeLessThan(5);
  });

  it('k = 1 is plain Thompson sampling: P(item first) matches numerical integration of P(argmax)', () => {
    // P(i is the argmax) = ∫ φ((t − m_i)/s_i)/s_i · Π_{j≠i} Φ((t − m_j)/s_j) dt, Simpson's rule.
    const exact = means.map((mi, i) => {
      const lo = -12;
      const hi = 12;
      const steps = 24_000;
      const h = (hi - lo) / steps;
      let acc = 0;
      for (let s = 0; s <= steps; s++) {
        const t = lo + s * h;
        let f = Math.exp(-0.5 * ((t - mi) / sds[i]) ** 2) / (sds[i] * Math.sqrt(2 * Math.PI));
        for (let j = 0; j < means.length; j++) if (j !== i) f *= normalCdf((t - means[j]) / sds[j]);
        acc += f * (s === 0 || s === steps ? 1 : s % 2 === 1 ? 4 : 2);
      }
      return (acc * h) / 3;
    });
    expect(Math.abs(exact.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
    for (const name of ['in_slate_ts', 'slate_ts'] as const) {
      const m = slatePropensities(
        snap,
        parsePolicyConfig({ name, propensitySlates: S }),
        { size: 1 },
        new Rng(33),
      );
      for (let i = 0; i < means.length; i++) {
        const sigma = Math.sqrt((exact[i] * (1 - exact[i])) / S);
        expect(Math.abs(propensityAt(m, i, 0) - exact[i])).toBeLessThan(5 * sigma + 1e-6);
      }
    }
  });

  it('counted: the served slate is one of the samples, so its propensities are never below 1/(S + 1)', () => {
    for (const name of ['in_slate_ts', 'slate_ts'] as const) {
      const p: PolicyConfig = parsePolicyConfig({ name, propensitySlates: 16 });
      for (let seed = 0; seed < 50; seed++) {
        const s = serveSlate(snap, p, { size: k }, new Rng(seed), { countedPropensities: true });
        expect(s.simulatedSlates).toBe(17);
        for (const it of s.items) expect(it.propensity).toBeGreaterThanOrEqual(1 / 17 - 1e-12);
      }
    }
  });
});

describe('Thompson propensities pooled over exchangeability classes', () => {
  /** Items: classes of identical (mean, variance), then distinct ones; shuffled so classes interleave. */
  function classCatalogue(
    seed: number,
    classes: [number, number, number][],
    distinct: [number, number][],
  ): { means: number[]; vars: number[]; classOf: number[] } {
    const rows: [number, number, number][] = [];
    classes.forEach(([size, m, v], g) => {
      for (let i = 0; i < size; i++) rows.push([m, v, g]);
    });
    distinct.forEach(([m, v]) => rows.push([m, v, -1]));
    const r = new Rng(seed);
    for (let i = rows.length - 1; i > 0; i--) {
      const j = Math.floor(r.next() * (i + 1));
      [rows[i], rows[j]] = [rows[j], rows[i]];
    }
    return { means: rows.map((x) => x[0]), vars: rows.map((x) => x[1]), classOf: rows.map((x) => x[2]) };
  }

  // Two classes of 5 and 8 identical items plus 4 distinct ones, k = 3 (walk-mode sampler); and a
  // 120-item catalogue with classes of 40 and 60 plus 20 distinct items (threshold-mode sampler).
  const small = classCatalogue(
    61,
    [
      [5, 0.5, 0.3],
      [8, 0.1, 0.8],
    ],
    [
      [1.0, 0.05],
      [0.8, 0.3],
      [0.3, 1.2],
      [-0.2, 2.0],
    ],
  );
  const r120 = new Rng(62);
  const large = classCatalogue(
    63,
    [
      [40, 0.0, 0.5],
      [60, -0.5, 1.0],
    ],
    Array.from({ length: 20 }, () => [0.6 * r120.normal(), 0.05 + 0.5 * r120.next()] as [number, number]),
  );
  // Brute force samples every item of every draw: ~10^7 normals per case (jest's VM context runs such
  // loops ~10× slower than plain node), hence B = 2·10^5 slates (3·10^5 for slate_ts) on 17 items and
  // 4·10^4 on 120 (threshold mode; in_slate_ts only: slate_ts shares the pooling code).
  const cases = [
    {
      label: '5 + 8 identical + 4 distinct items, k 3',
      cat: small,
      k: 3,
      S: 100_000,
      B: 200_000,
      threshold: false,
      name: 'in_slate_ts' as const,
    },
    {
      label: '5 + 8 identical + 4 distinct items, k 3',
      cat: small,
      k: 3,
      S: 100_000,
      B: 300_000,
      threshold: false,
      name: 'slate_ts' as const,
    },
    {
      label: '40 + 60 identical + 20 distinct items, k 3',
      cat: large,
      k: 3,
      S: 40_000,
      B: 40_000,
      threshold: true,
      name: 'in_slate_ts' as const,
    },
  ];
  for (const { label, cat, k, S, B, threshold, name } of cases)
    it(`${name}, ${label}: ${S} pooled simulated slates vs ${B} brute-force slates, within 5σ; classes equal`, () => {
      const n = cat.means.length;
      // The scores the policy sees are float32-rounded: brute force uses the same.
      const mf = Float64Array.from(cat.means, (x) => Math.fround(x));
      const sf = Float64Array.from(cat.vars, (x) => Math.sqrt(Math.fround(x)));
      expect(Number.isNaN(new ThompsonTopK(mf, sf, k).threshold)).toBe(!threshold);
      const snap = snapshotFromScores(cat.means, cat.vars);
      // The 120-item catalogue is served through a class layout (one planning entry per class).
      expect(classLayout(snap, resolveSlateRequest(snap, { size: k }).rows) !== null).toBe(threshold);
      const m = slatePropensities(
        snap,
        parsePolicyConfig({ name, propensitySlates: S }),
        { size: k },
        new Rng(64),
      );
      expect(m.kind).toBe('monte_carlo');
      expect(m.classes).toBeDefined();
      const est = expectStochasticMatrix(m, n, 1e-12);
      // Members of a class get bit-equal propensities.
      let unequal = 0;
      for (let i = 0; i < n; i++)
        for (let i2 = 0; i2 < n; i2++)
          if (cat.classOf[i] >= 0 && cat.classOf[i] === cat.classOf[i2])
            for (let j = 0; j < k; j++) if (est[i * k + j] !== est[i2 * k + j]) unequal++;
      expect(unequal).toBe(0);
      // propensityAt / inSlateProbability read the class rows (members without an explicit row).
      for (let i = 0; i < n; i++) {
        let row = 0;
        for (let j = 0; j < k; j++) {
          expect(propensityAt(m, i, j)).toBe(est[i * k + j]);
          row += est[i * k + j];
        }
        expect(inSlateProbability(m, i)).toBeCloseTo(row, 14);
      }
      const counts = bruteForceCounts(
        mf,
        sf,
        k,
        name === 'in_slate_ts' ? k : 1,
        B,
        new NormalStream(new Rng(65)),
      );
      // Per item against its own brute-force frequency: a two-sample test where the simulated side
      // counts as S/k independent slates (overlapping in-slate slates; pooling only lowers its variance).
      let worst = 0;
      for (let i = 0; i < n * k; i++) {
        const p = (counts[i] / B + est[i]) / 2;
        const sigma = Math.sqrt(Math.max(p * (1 - p), 1e-9) * (k / S + 1 / B));
        worst = Math.max(worst, Math.abs(est[i] - counts[i] / B) / sigma);
      }
      expect(worst).toBeLessThan(5);
    });

  it('a never-produced class member: the pooled estimate errs far less than the unpooled one', () => {
    // 4 distinct items and a class of 400 identical ones that takes a fair share of the slots.
    const cat = classCatalogue(
      66,
      [[400, -1.0, 0.64]],
      [
        [1.0, 0.04],
        [0.8, 0.09],
        [0.5, 0.25],
        [0.3, 0.5],
      ],
    );
    const snap = snapshotFromScores(cat.means, cat.vars);
    const k = 3;
    const sc = scoreRequest(snap, resolveSlateRequest(snap, { size: k }));
    const sampler = new ThompsonTopK(Float64Array.from(sc.mean), Float64Array.from(sc.sd), k);
    const estimate = (slates: number, seed: number, pool: boolean): SlatePropensities =>
      thompsonPropensities(sc, sampler, k, 'in_slate_ts', slates, new Rng(seed), undefined, { pool });
    // The truth for a member: P(class at j) / 400, from 10^5 pooled slates (relative error ~2%,
    // small next to the errors compared below).
    const member = cat.classOf.indexOf(0);
    const truthM = estimate(100_000, 67, true);
    const truth = Array.from({ length: k }, (_, j) => propensityAt(truthM, member, j));
    expect(truth.reduce((x, y) => x + y, 0) * 400).toBeGreaterThan(0.2); // the class is often shown
    let pooledErr = 0;
    let rawErr = 0;
    let pooledSq = 0;
    let rawSq = 0;
    for (let seed = 0; seed < 40; seed++) {
      const pooled = estimate(256, 1000 + seed, true);
      const raw = estimate(256, 1000 + seed, false); // the same simulated slates, unpooled
      // A member the simulation never produced: the unpooled estimate gives it 0 everywhere.
      const unseen = cat.classOf.findIndex((g, i) => g === 0 && !raw.items.includes(i));
      for (let j = 0; j < k; j++) {
        expect(propensityAt(raw, unseen, j)).toBe(0);
        pooledErr += Math.abs(propensityAt(pooled, unseen, j) - truth[j]);
        rawErr += Math.abs(propensityAt(raw, unseen, j) - truth[j]);
        // And one fixed member, produced or not: squared errors.
        pooledSq += (propensityAt(pooled, member, j) - truth[j]) ** 2;
        rawSq += (propensityAt(raw, member, j) - truth[j]) ** 2;
      }
    }
    // Unpooled: the whole value is missing. Pooled: the class's relative Monte Carlo error (measured
    // 2.3% of the unpooled error; asked: < 10%).
    expect(pooledErr).toBeLessThan(0.1 * rawErr);
    // Mean squared error of one member: ~|class| = 400 times smaller in theory (measured 1/2200); asked:
    // < 1/200.
    expect(pooledSq).toBeLessThan(rawSq / 200);
  });
  it("serving's counts (counted) for the served items alone give the full matrix's numbers, bit for bit", () => {
    // Classes (cold items at 20 group priors; served items often share a class), learned items,
    // and a few with sd 0 (their own class even when another has the same mean).
    const synth = syntheticSnapshot({ items: 2000, dim: 8, seed: 9, coldFraction: 0.6 });
    const cat = classCatalogue(
      68,
      [
        [30, 0.4, 0.2],
        [50, 0.2, 0.5],
      ],
      [
        [1.0, 0],
        [1.0, 0],
        [0.9, 0.01],
        [0.5, 0.3],
      ],
    );
    const small = snapshotFromScores(cat.means, cat.vars);
    let compared = 0;
    let sharedClass = 0;
    let unequal = 0;
    for (const [snap, sizes] of [
      [synth, [1, 3, 10, 25]],
      [small, [1, 2, 5]],
    ] as const)
      for (const name of ['in_slate_ts', 'slate_ts'] as const)
        for (const size of sizes)
          for (let seed = 0; seed < 12; seed++) {
            const policy = parsePolicyConfig({ name, propensitySlates: 64 + seed });
            const req = { size };
            const served = serveSlate(snap, policy, req, new Rng(seed), { countedPropensities: true });
            const full = serveSlate(snap, policy, req, new Rng(seed), { withMatrix: true });
            expect(served.items.map((i) => i.index)).toEqual(full.items.map((i) => i.index));
            const m = full.matrix!;
            // Two served members of one class have bit-equal rows (each has p > 0 at its position).
            const row = (i: number): string =>
              Array.from({ length: size }, (_, j) => propensityAt(m, i, j)).join();
            const cls = new Set(served.items.map((i) => row(i.index)));
            if (cls.size < served.items.length) sharedClass++;
            for (const it of served.items) {
              compared++;
              if (it.propensity !== propensityAt(m, it.index, it.position - 1)) unequal++;
              if (it.inSlateProbability !== inSlateProbability(m, it.index)) unequal++;
              if (it.propensity !== full.items[it.position - 1].propensity) unequal++;
            }
          }
    expect(unequal).toBe(0);
    expect(compared).toBeGreaterThan(1000);
    expect(sharedClass).toBeGreaterThan(10); // slates with two members of one class were compared
  });
  it('in_slate_ts with as many simulated slates as slots (every window wraps), or one more: the same numbers', () => {
    // Serving counts slates without a repeat from their draws' top-1s (D = slates draws, slate s reads draws s … s +
    // k − 1 mod D); at slates = k every slate reads every draw. Compared bit for bit with the full matrix.
    const synth = syntheticSnapshot({ items: 2000, dim: 8, seed: 11, coldFraction: 0.6 });
    let unequal = 0;
    let compared = 0;
    for (const k of [16, 17, 30])
      for (const extra of [0, 1])
        for (let seed = 0; seed < 6; seed++) {
          const policy = parsePolicyConfig({ name: 'in_slate_ts', propensitySlates: k + extra });
          const served = serveSlate(synth, policy, { size: k }, new Rng(seed), { countedPropensities: true });
          const full = serveSlate(synth, policy, { size: k }, new Rng(seed), { withMatrix: true });
          for (const it of served.items) {
            compared++;
            if (it.propensity !== propensityAt(full.matrix!, it.index, it.position - 1)) unequal++;
            if (it.inSlateProbability !== inSlateProbability(full.matrix!, it.index)) unequal++;
          }
        }
    expect(compared).toBe(6 * 2 * (16 + 17 + 30));
    expect(unequal).toBe(0);
  });
});

describe('Thompson propensities on exchangeable candidates are exactly 1/n', () => {
  // Every candidate at one score distribution (a cold catalogue at one prior): both Thompson policies
  // then put each candidate at each position with probability exactly 1/n (see thompsonPropensities).
  const n = 7;
  const k = 3;
  const snap = snapshotFromScores(new Array<number>(n).fill(0.3), new Array<number>(n).fill(0.5));

  for (const name of ['in_slate_ts', 'slate_ts'] as const) {
    it(`${name}: reports exact 1/n, and 2·10^5 brute-force slates agree within 5σ`, () => {
      const policy = parsePolicyConfig({ name });
      const m = slatePropensities(snap, policy, { size: k }, new Rng(41));
      expect(m.kind).toBe('exact');
      expect(m.simulatedSlates).toBe(0);
      const dense = expectStochasticMatrix(m, n);
      for (const p of dense) expect(p).toBeCloseTo(1 / n, 15);

      const served = serveSlate(snap, policy, { size: k }, new Rng(42));
      expect(served.propensityKind).toBe('exact');
      for (const it of served.items) {
        expect(it.propensity).toBeCloseTo(1 / n, 15);
        expect(it.inSlateProbability).toBeCloseTo(k / n, 15);
      }

      // The claim itself, against the plain policy on the full score vectors (every item sampled).
      const B = 200_000;
      const z = new NormalStream(new Rng(43));
      const counts = new Float64Array(n * k);
      const mf = new Array<number>(n).fill(Math.fround(0.3));
      const sf = new Array<number>(n).fill(Math.sqrt(Math.fround(0.5)));
      for (let b = 0; b < B; b++)
        bruteForceSlate(mf, sf, k, name === 'in_slate_ts' ? k : 1, z).forEach(
          (item, j) => counts[item * k + j]++,
        );
      const sigma = Math.sqrt(((1 / n) * (1 - 1 / n)) / B);
      for (let i = 0; i < n * k; i++) expect(Math.abs(counts[i] / B - 1 / n)).toBeLessThan(5 * sigma);
    });
  }

  it('stays Monte Carlo as soon as one candidate differs', () => {
    const vars = new Array<number>(n).fill(0.5);
    vars[4] = 0.6;
    const near = snapshotFromScores(new Array<number>(n).fill(0.3), vars);
    for (const name of ['in_slate_ts', 'slate_ts'] as const) {
      const served = serveSlate(near, parsePolicyConfig({ name }), { size: k }, new Rng(44));
      expect(served.propensityKind).toBe('monte_carlo');
      // Both conditional: 64 simulated slates (the served one is not counted among them).
      expect(served.simulatedSlates).toBe(64);
    }
  });

  it('uses the exact form on a large cold catalogue too (threshold-mode sampler), deterministically', () => {
    const big = snapshotFromScores(new Array<number>(5000).fill(-0.2), new Array<number>(5000).fill(1.3));
    const policy = parsePolicyConfig({ name: 'in_slate_ts' });
    const a = serveSlate(big, policy, { size: 10 }, new Rng(45));
    expect(a.propensityKind).toBe('exact');
    expect(new Set(a.items.map((i) => i.index)).size).toBe(10);
    for (const it of a.items) expect(it.propensity).toBeCloseTo(1 / 5000, 15);
    expect(serveSlate(big, policy, { size: 10 }, new Rng(45))).toEqual(a);
  });
});

describe('cold start under Thompson sampling', () => {
  // 60 established items with narrow posteriors, means spread over [−1, 2]; two new items:
  // one wide (prior sd 1.5 at mean 0), one narrow and poor (mean −1.5, sd 0.02).
  const means: number[] = [];
  const vars: number[] = [];
  for (let i = 0; i < 60; i++) {
    means.push(-1 + (3 * i) / 59);
    vars.push(0.0025);
  }
  const WIDE = 60;
  const POOR = 61;
  means.push(0, -1.5);
  vars.push(2.25, 0.0004);
  const snap = snapshotFromScores(means, vars);
  const req = { size: 5 };

  it('shows a new item with a wide posterior, rarely one with a narrow poor posterior', () => {
    const p = parsePolicyConfig({ name: 'in_slate_ts', propensitySlates: 20_000 });
    const m = slatePropensities(snap, p, req, new Rng(5));
    expect(inSlateProbability(m, WIDE)).toBeGreaterThan(0.2);
    expect(inSlateProbability(m, POOR)).toBe(0);
    let shownWide = 0;
    let shownPoor = 0;
    for (let seed = 0; seed < 300; seed++) {
      const s = serveSlate(
        snap,
        parsePolicyConfig({ name: 'in_slate_ts', propensitySlates: 16 }),
        req,
        new Rng(seed),
      );
      if (s.items.some((i) => i.index === WIDE)) shownWide++;
      if (s.items.some((i) => i.index === POOR)) shownPoor++;
    }
    expect(shownWide).toBeGreaterThan(60);
    expect(shownPoor).toBe(0);
    // Greedy never explores it: its mean 0 is far from the top 5.
    const g = serveSlate(snap, parsePolicyConfig({ name: 'greedy' }), req, new Rng(0));
    expect(g.items.map((i) => i.index)).not.toContain(WIDE);
  });
});
