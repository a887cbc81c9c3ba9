import { NormalStream, Rng } from '../random';
import { normalSfFast, normalSfPrecise } from './internal/gaussian';
import { classLayout } from './score-classes';
import { scoreCandidates, scoreClassLayout } from './score-kernel';
import { resolveSlateRequest } from './slate-request';
import { syntheticSnapshot } from './testing/synthetic-snapshot';
import { scanCandidates, scanSpec, ThompsonTopK, thompsonTopKReference } from './thompson-sampler';

/** Frequency of (candidate, rank) over many draws. */
function topKFrequencies(
  n: number,
  k: number,
  draws: number,
  draw: (idx: Int32Array, val: Float64Array) => void,
): Float64Array {
  const f = new Float64Array(n * k);
  const idx = new Int32Array(k);
  const val = new Float64Array(k);
  for (let t = 0; t < draws; t++) {
    draw(idx, val);
    for (let r = 0; r < k; r++) f[idx[r] * k + r] += 1 / draws;
  }
  return f;
}

function expectSameLaw(a: Float64Array, b: Float64Array, draws: number): void {
  for (let i = 0; i < a.length; i++) {
    const p = (a[i] + b[i]) / 2;
    // Two independent binomial estimates: 5σ of their difference.
    expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(5 * Math.sqrt((2 * p * (1 - p)) / draws) + 1e-9);
  }
}

/** Two samplers fed the same random stream give the same draws, bit for bit. */
function expectSameDraws(a: ThompsonTopK, b: ThompsonTopK, k: number, seed: number, draws: number): void {
  const ia = new Int32Array(k);
  const va = new Float64Array(k);
  const ib = new Int32Array(k);
  const vb = new Float64Array(k);
  const ra = new NormalStream(new Rng(seed));
  const rb = new NormalStream(new Rng(seed));
  for (let t = 0; t < draws; t++) {
    a.draw(ra, ia, va);
    b.draw(rb, ib, vb);
    expect(ia).toEqual(ib);
    expect(va).toEqual(vb);
  }
}

/**
 * Candidates whose `classMembers` (listed, or counted only: by runs in threshold mode) is not exactly every
 * candidate with bit-equal (m, sd), found by brute force.
 */
function wrongClassMembers(s: ThompsonTopK, mean: Float64Array, sd: Float64Array): number {
  const n = mean.length;
  const out = new Int32Array(n);
  let wrong = 0;
  for (let c = 0; c < n; c++) {
    const got = Array.from(out.subarray(0, s.classMembers(c, out))).sort((a, b) => a - b);
    const want: number[] = [];
    for (let x = 0; x < n; x++) if (mean[x] === mean[c] && sd[x] === sd[c]) want.push(x);
    if (got.join() !== want.join()) wrong++;
    if (s.classMembers(c) !== want.length) wrong++;
  }
  return wrong;
}

describe('ThompsonTopK (exact pruned top-k of a posterior draw)', () => {
  it('returns k distinct candidates in descending sample order, deterministically', () => {
    const rng = new Rng(1);
    const n = 2000;
    const mean = Float64Array.from({ length: n }, () => rng.normal());
    const sd = Float64Array.from({ length: n }, () => 0.05 + rng.next());
    const s = new ThompsonTopK(mean, sd, 10);
    const idx = new Int32Array(10);
    const val = new Float64Array(10);
    s.draw(new NormalStream(new Rng(5)), idx, val);
    expect(new Set(idx).size).toBe(10);
    for (let r = 1; r < 10; r++) expect(val[r]).toBeLessThanOrEqual(val[r - 1]);
    for (let r = 0; r < 10; r++) expect(Math.abs(val[r] - mean[idx[r]])).toBeLessThan(12 * sd[idx[r]]);
    const idx2 = new Int32Array(10);
    const val2 = new Float64Array(10);
    new ThompsonTopK(mean, sd, 10).draw(new NormalStream(new Rng(5)), idx2, val2);
    expect(idx2).toEqual(idx);
    expect(val2).toEqual(val);
    // Pruning samples far fewer than n candidates per draw.
    expect(s.sampled).toBeLessThan(n / 4);
  });

  it('draws the same with its per-request arrays in shared scratch as with arrays of its own, request after request', () => {
    // Requests of different sizes in turn, so that each finds the scratch arrays holding a larger request's values.
    const rng = new Rng(4);
    const catalogue = (n: number, cold: number): [Float64Array, Float64Array] => {
      const mean = Float64Array.from({ length: n }, (_, i) => (i < cold ? 0.1 : rng.normal()));
      const sd = Float64Array.from({ length: n }, (_, i) => (i < cold ? 0.7 : 0.05 + rng.next()));
      return [mean, sd];
    };
    const cases: [Float64Array, Float64Array, number][] = [
      [...catalogue(5000, 2000), 25],
      [...catalogue(300, 0), 3],
      [...catalogue(3000, 10), 10],
      [...catalogue(800, 400), 1],
      [...catalogue(5000, 0), 50],
    ];
    const run = (
      mean: Float64Array,
      sd: Float64Array,
      k: number,
      shared: boolean,
      seed: number,
    ): number[] => {
      const s = new ThompsonTopK(mean, sd, k, { shared });
      const stream = new NormalStream(new Rng(seed));
      const idx = new Int32Array(k);
      const val = new Float64Array(k);
      const out: number[] = [];
      for (let d = 0; d < 40; d++) {
        const known = s.drawTop(stream, idx, val);
        if (d % 3 === 0 && known < k) s.extendTop(stream, idx, val, 0, known);
        out.push(
          known,
          ...idx.subarray(0, d % 3 === 0 ? k : known),
          ...val.subarray(0, d % 3 === 0 ? k : known),
        );
        s.draw(stream, idx, val);
        out.push(...idx, ...val);
      }
      return out;
    };
    for (let round = 0; round < 2; round++)
      for (let c = 0; c < cases.length; c++) {
        const [mean, sd, k] = cases[c];
        expect(run(mean, sd, k, true, 10 * c + round)).toEqual(run(mean, sd, k, false, 10 * c + round));
      }
  });

  // Mixed widths, ties in the means, and a small n (cut b at its floor of 2: many exceedances).
  const cases: Array<[string, number[], number[], number]> = [
    ['narrow vs wide', [1, 0.9, 0.8, 0, -0.5, -3, 0.95, 0.2], [0.05, 0.3, 0.1, 1.5, 2, 3, 0.01, 0.4], 3],
    ['equal means', [0, 0, 0, 0, 0], [1, 1, 1, 1, 1], 2],
    ['k = n', [0.3, -0.2, 0.1, 0.5], [0.2, 0.2, 0.9, 0.01], 4],
    ['k = 1', [0.5, 0.4, 0.0, -1], [0.1, 0.3, 1, 2], 1],
  ];
  for (const [name, m, s, k] of cases) {
    it(`walk mode has the law of sampling every candidate (${name})`, () => {
      const mean = Float64Array.from(m);
      const sd = Float64Array.from(s);
      const draws = 50_000;
      const fast = new ThompsonTopK(mean, sd, k, { mode: 'walk' });
      const r1 = new NormalStream(new Rng(101));
      const r2 = new Rng(202);
      const normal = (): number => r2.normal();
      const a = topKFrequencies(m.length, k, draws, (i, v) => fast.draw(r1, i, v));
      const b = topKFrequencies(m.length, k, draws, (i, v) =>
        thompsonTopKReference(mean, sd, k, normal, i, v),
      );
      expectSameLaw(a, b, draws);
    });
  }

  // Threshold mode on catalogues large enough to use it; a small target makes the O(n) fallback common.
  const thresholdCases: Array<[string, number, number, number | undefined]> = [
    ['default target', 200, 3, undefined],
    ['fallback common', 200, 3, 3],
    ['k = 2, more zero-variance items', 200, 2, 6],
  ];
  for (const [name, n, k, target] of thresholdCases) {
    it(`threshold mode has the law of sampling every candidate (${name})`, () => {
      const rng = new Rng(n + k);
      const mean = Float64Array.from({ length: n }, () => 0.5 * rng.normal());
      const sd = Float64Array.from({ length: n }, (_, i) =>
        i % 40 === 0 ? 0 : i % 7 === 0 ? 1.5 : 0.05 + 0.3 * rng.next(),
      );
      mean[0] = 1.2; // a zero-variance item that is always in E
      const fast = new ThompsonTopK(mean, sd, k, { targetExceedances: target });
      expect(Number.isNaN(fast.threshold)).toBe(false);
      const draws = 15_000;
      const r1 = new NormalStream(new Rng(1));
      const r2 = new NormalStream(new Rng(2));
      const normal = (): number => r2.normal();
      const a = topKFrequencies(n, k, draws, (i, v) => fast.draw(r1, i, v));
      const b = topKFrequencies(n, k, draws, (i, v) => thompsonTopKReference(mean, sd, k, normal, i, v));
      expectSameLaw(a, b, draws);
      if (target === 3) expect(fast.fallbacks).toBeGreaterThan(draws / 20);
      if (target === undefined) expect(fast.fallbacks).toBeLessThan(draws / 100);
    });
  }

  it('threshold mode carries the leftover exponential across bands exactly (in-top-k law, sparse bands)', () => {
    // Means spread widely and narrow sds: most bands hold a few candidates and get no proposal, so the
    // hazard left over after a band (one exponential per draw, not per band) decides most of them. A
    // deep top k (k = 40 of n = 300, μ ≈ 69) makes P(c in top k) depend on weak candidates' exceedances.
    const n = 300;
    const k = 40;
    const rng = new Rng(303);
    const mean = Float64Array.from({ length: n }, () => 1.5 * rng.normal());
    const sd = Float64Array.from({ length: n }, (_, i) => (i % 10 === 0 ? 1.2 : 0.05 + 0.4 * rng.next()));
    const fast = new ThompsonTopK(mean, sd, k);
    expect(Number.isNaN(fast.threshold)).toBe(false);
    const draws = 20_000;
    const r1 = new NormalStream(new Rng(304));
    const r2 = new NormalStream(new Rng(305));
    const inTop = (draw: (i: Int32Array, v: Float64Array) => void): Float64Array => {
      const f = new Float64Array(n);
      const idx = new Int32Array(k);
      const val = new Float64Array(k);
      for (let t = 0; t < draws; t++) {
        draw(idx, val);
        for (let r = 0; r < k; r++) f[idx[r]] += 1 / draws;
      }
      return f;
    };
    const a = inTop((i, v) => fast.draw(r1, i, v));
    const b = inTop((i, v) => thompsonTopKReference(mean, sd, k, () => r2.normal(), i, v));
    expectSameLaw(a, b, draws);
    expect(fast.fallbacks).toBeLessThan(draws / 100);
  });

  // A cold catalogue: every candidate at one prior (all U equal: the threshold search used to find
  // nothing there and fell back to a walk that sampled everything), or at one of a few group priors.
  const coldCases: Array<[string, number, number]> = [
    ['one prior', 1, 3],
    ['4 group priors', 4, 2],
  ];
  for (const [name, groups, k] of coldCases) {
    it(`threshold mode applies to a cold catalogue and has the law of sampling every candidate (${name})`, () => {
      const n = 120;
      const mean = Float64Array.from({ length: n }, (_, i) => 0.2 * (i % groups));
      const sd = Float64Array.from({ length: n }, (_, i) => 1 + 0.1 * (i % groups));
      const fast = new ThompsonTopK(mean, sd, k);
      expect(Number.isNaN(fast.threshold)).toBe(false);
      expect(fast.exchangeable).toBe(groups === 1); // one prior: the exchangeable threshold mode
      const draws = 15_000;
      const r1 = new NormalStream(new Rng(11));
      const r2 = new NormalStream(new Rng(12));
      const normal = (): number => r2.normal();
      const a = topKFrequencies(n, k, draws, (i, v) => fast.draw(r1, i, v));
      const b = topKFrequencies(n, k, draws, (i, v) => thompsonTopKReference(mean, sd, k, normal, i, v));
      expectSameLaw(a, b, draws);
      expect(fast.fallbacks).toBeLessThan(draws / 100);
    });
  }

  it('samples only a few candidates per draw on a large cold catalogue', () => {
    const n = 20_000;
    const s = new ThompsonTopK(new Float64Array(n), new Float64Array(n).fill(1.1), 10);
    expect(Number.isNaN(s.threshold)).toBe(false);
    const idx = new Int32Array(10);
    const val = new Float64Array(10);
    const r = new NormalStream(new Rng(3));
    for (let t = 0; t < 50; t++) s.draw(r, idx, val);
    expect(s.fallbacks).toBe(0);
    expect(new Set(idx).size).toBe(10);
  });

  it('stays exact on a large catalogue where the walk and the exceedances both matter', () => {
    const rng = new Rng(3);
    const n = 1000;
    const mean = Float64Array.from({ length: n }, () => rng.normal());
    const sd = Float64Array.from({ length: n }, (_, i) => (i % 50 === 0 ? 2 : 0.1 + 0.2 * rng.next()));
    const k = 3;
    const draws = 4_000;
    // Compare the law of the top-1 and of membership in the top 3, summed over the wide items.
    const stat = (draw: (i: Int32Array, v: Float64Array) => void): number[] => {
      const idx = new Int32Array(k);
      const val = new Float64Array(k);
      let wideTop = 0;
      let wideIn = 0;
      let sumTop = 0;
      for (let t = 0; t < draws; t++) {
        draw(idx, val);
        if (idx[0] % 50 === 0) wideTop++;
        for (let r = 0; r < k; r++) if (idx[r] % 50 === 0) wideIn++;
        sumTop += val[0];
      }
      return [wideTop / draws, wideIn / draws, sumTop / draws];
    };
    // The reference uses another ziggurat stream here (Box–Muller from Rng is slow under jest).
    const r2 = new NormalStream(new Rng(8));
    const [b1, b2, b3] = stat((i, v) => thompsonTopKReference(mean, sd, k, () => r2.normal(), i, v));
    for (const mode of ['walk', 'auto'] as const) {
      const fast = new ThompsonTopK(mean, sd, k, { mode });
      const r1 = new NormalStream(new Rng(7));
      const [a1, a2, a3] = stat((i, v) => fast.draw(r1, i, v));
      expect(Math.abs(a1 - b1)).toBeLessThan(5 * Math.sqrt((2 * b1 * (1 - b1)) / draws) + 1e-3);
      expect(Math.abs(a2 - b2)).toBeLessThan(5 * Math.sqrt((2 * 3 * b2) / draws) + 1e-3);
      expect(Math.abs(a3 - b3)).toBeLessThan(0.05);
      if (mode === 'walk') expect(fast.sampled / draws).toBeLessThan(n / 5);
      else expect(Number.isNaN(fast.threshold)).toBe(false);
    }
  });
});

describe("ThompsonTopK.drawTop / extendTop (a draw's first ranks from an upper layer, completed on demand)", () => {
  /** drawTop, then extendTop whenever fewer than k ranks are known: must be a full draw's law. */
  function topThenExtend(s: ThompsonTopK, rng: NormalStream, k: number) {
    return (idx: Int32Array, val: Float64Array): void => {
      const known = s.drawTop(rng, idx, val);
      expect(known).toBeGreaterThanOrEqual(0);
      if (known < k) s.extendTop(rng, idx, val, 0, known);
    };
  }

  // Strong candidates (means above the upper threshold, some wide) make values above T1 in the lower
  // layer common, so the redraw below T1 is exercised; a tiny μ1 makes extensions the rule; a tiny μ
  // makes the O(n) fallback below T common too.
  const cases: Array<[string, number, number, number | undefined, number]> = [
    ['default μ1', 300, 5, undefined, 6],
    ['μ1 = 1.5: extensions and redraws common', 300, 5, undefined, 1.5],
    ['μ = k, μ1 = 1: the fallback below T common too', 200, 4, 4, 1],
    ['k = 1', 1000, 1, undefined, 2],
  ];
  for (const [name, n, k, target, upper] of cases)
    it(`has the law of sampling every candidate (${name})`, () => {
      const rng = new Rng(n + k + 7);
      const mean = Float64Array.from({ length: n }, () => 0.5 * rng.normal());
      const sd = Float64Array.from({ length: n }, (_, i) =>
        i % 50 === 0 ? 0 : i % 37 === 0 ? 1.5 : 0.05 + 0.3 * rng.next(),
      );
      mean[0] = k > 1 ? 1.3 : 0; // sd 0, above T1 (k = 1: a high one would make it the walk's whole set)
      for (let i = 1; i <= 3; i++) {
        mean[i] = 1.2 + 0.1 * i; // above T1 with a wide sd: often redrawn below it
        sd[i] = 0.8;
      }
      const fast = new ThompsonTopK(mean, sd, k, { targetExceedances: target, upperExceedances: upper });
      expect(Number.isNaN(fast.threshold)).toBe(false);
      const draws = n > 500 ? 6000 : 15_000;
      const r1 = new NormalStream(new Rng(31));
      const r2 = new NormalStream(new Rng(32));
      const a = topKFrequencies(n, k, draws, topThenExtend(fast, r1, k));
      const b = topKFrequencies(n, k, draws, (i, v) =>
        thompsonTopKReference(mean, sd, k, () => r2.normal(), i, v),
      );
      expectSameLaw(a, b, draws);
      // The strong candidates' chance to be in the top k, summed over ranks (a sharper test of the
      // redraw below T1: dropping those values instead moves it by ~10 σ).
      for (let c = 1; c <= 3; c++) {
        let pa = 0;
        let pb = 0;
        for (let r = 0; r < k; r++) {
          pa += a[c * k + r];
          pb += b[c * k + r];
        }
        const p = (pa + pb) / 2;
        expect(Math.abs(pa - pb)).toBeLessThanOrEqual(5 * Math.sqrt((2 * p * (1 - p)) / draws) + 1e-9);
      }
      if (upper <= 2 && k > 1) {
        expect(fast.extensions).toBeGreaterThan(draws / 4);
        expect(fast.redraws).toBeGreaterThan(draws / 20);
      }
      if (target === 4) expect(fast.fallbacks).toBeGreaterThan(draws / 50);
    });

  it("knows a few ranks per draw (about μ1 candidates above T1), and those are the draw's first ranks", () => {
    const n = 5000;
    const k = 10;
    const rng = new Rng(41);
    const mean = Float64Array.from({ length: n }, () => rng.normal());
    const sd = Float64Array.from({ length: n }, () => 0.1 + 0.5 * rng.next());
    const s = new ThompsonTopK(mean, sd, k);
    const idx = new Int32Array(k);
    const val = new Float64Array(k);
    const full = new Int32Array(k);
    const fullVal = new Float64Array(k);
    let known = 0;
    const draws = 2000;
    for (let t = 0; t < draws; t++) {
      const got = s.drawTop(new NormalStream(new Rng(1000 + t)), idx, val);
      known += got;
      // The same stream, completed: the known ranks are kept, in order, and are above every other.
      const r = new NormalStream(new Rng(1000 + t));
      const again = s.drawTop(r, full, fullVal);
      expect(again).toBe(got);
      if (again < k) s.extendTop(r, full, fullVal, 0, again);
      expect(Array.from(full.subarray(0, got))).toEqual(Array.from(idx.subarray(0, got)));
      for (let j = 1; j < k; j++) expect(fullVal[j]).toBeLessThanOrEqual(fullVal[j - 1]);
    }
    expect(known / draws).toBeGreaterThan(3);
    expect(known / draws).toBeLessThan(9);
  });

  it('is a full draw where there is no threshold mode (walk mode, exchangeable candidates)', () => {
    const walk = new ThompsonTopK(Float64Array.from([1, 0.5, 0]), Float64Array.from([0.1, 0.2, 0.3]), 2, {
      mode: 'walk',
    });
    const cold = new ThompsonTopK(new Float64Array(500), new Float64Array(500).fill(1), 5);
    for (const [s, k] of [
      [walk, 2],
      [cold, 5],
    ] as const) {
      const idx = new Int32Array(k);
      const val = new Float64Array(k);
      expect(s.drawTop(new NormalStream(new Rng(3)), idx, val)).toBe(k);
      const idx2 = new Int32Array(k);
      const val2 = new Float64Array(k);
      s.draw(new NormalStream(new Rng(3)), idx2, val2);
      expect(idx).toEqual(idx2);
      expect(val).toEqual(val2);
    }
  });
});

describe('ThompsonTopK.classMembers (exchangeability classes for pooled propensities)', () => {
  /** Catalogue of `classes` classes of identical candidates (sizes), plus `distinct` learned ones. */
  function catalogue(seed: number, sizes: number[], distinct: number, sdScale = 1) {
    const r = new Rng(seed);
    const mean: number[] = [];
    const sd: number[] = [];
    for (const size of sizes) {
      const m = r.normal();
      const s = sdScale * (0.2 + r.next());
      for (let i = 0; i < size; i++) {
        mean.push(m);
        sd.push(s);
      }
    }
    for (let i = 0; i < distinct; i++) {
      mean.push(r.normal());
      sd.push(sdScale * (0.05 + r.next()));
    }
    // Shuffle, so a class is not one run of candidates.
    for (let i = mean.length - 1; i > 0; i--) {
      const j = Math.floor(r.next() * (i + 1));
      [mean[i], mean[j]] = [mean[j], mean[i]];
      [sd[i], sd[j]] = [sd[j], sd[i]];
    }
    return { mean: Float64Array.from(mean), sd: Float64Array.from(sd) };
  }

  const cases: [string, number[], number, number, 'walk' | 'auto'][] = [
    ['walk mode, 17 candidates', [5, 8], 4, 3, 'auto'],
    ['threshold mode, cold classes and learned items', [300, 150, 40, 40, 2], 400, 10, 'auto'],
    ['forced walk mode, 900 candidates', [300, 150, 40], 400, 10, 'walk'],
  ];
  for (const [name, sizes, distinct, k, mode] of cases)
    it(`returns (or counts) exactly the candidates with bit-equal (m, sd), for every candidate (${name})`, () => {
      const { mean, sd } = catalogue(11, sizes, distinct);
      const s = new ThompsonTopK(mean, sd, k, { mode });
      if (name.startsWith('threshold')) expect(Number.isNaN(s.threshold)).toBe(false);
      expect(wrongClassMembers(s, mean, sd)).toBe(0);
    });

  it('a candidate with sd 0 is its own class (ties would be broken by index)', () => {
    const mean = Float64Array.from([0.5, 0.5, 0.1, 0.2]);
    const sd = Float64Array.from([0, 0, 0.3, 0.3]);
    const s = new ThompsonTopK(mean, sd, 2);
    const out = new Int32Array(4);
    expect(s.classMembers(0, out)).toBe(1);
    expect(out[0]).toBe(0);
  });
});

describe('the candidate scan fused into the SIMD scoring pass', () => {
  for (const [n, dim, k, cold] of [
    [3000, 32, 10, 0.01],
    [500, 5, 3, 0.3],
    [2000, 8, 1, 1],
    [1200, 16, 50, 0.05],
  ] as const) {
    it(`equals the JS scan exactly, and so gives the same sampler (n ${n}, d ${dim}, k ${k})`, () => {
      const snap = syntheticSnapshot({ items: n, dim, seed: n + k, coldFraction: cold });
      const rows = Int32Array.from({ length: n }, (_, i) => i);
      const spec = scanSpec(n, k);
      expect(spec.collect).toBe(true);
      const sc = scoreCandidates(snap, snap.users.get('u2')!, rows, true, { ...spec, k });
      expect(sc.scan).toBeDefined(); // Node 20 has WebAssembly SIMD: the fused path must be the one tested
      const fused = sc.scan!;
      const js = scanCandidates(sc.mean, sc.sd, k, spec.topCount, true);
      expect(fused.uMax).toBe(js.uMax);
      expect(Array.from(fused.low)).toEqual(Array.from(js.low));
      expect(Array.from(fused.topMeans)).toEqual(Array.from(js.topMeans));
      expect(fused.count).toBe(js.count);
      expect(Array.from(fused.idx.subarray(0, fused.count))).toEqual(
        Array.from(js.idx.subarray(0, js.count)),
      );
      for (const key of ['u', 'm', 'sd'] as const)
        expect(Array.from(fused[key].subarray(0, fused.count))).toEqual(
          Array.from(js[key].subarray(0, js.count)),
        );
      // Copies: the sampler with the fused scan compacts its buffers in place.
      const mean = sc.mean.slice();
      const sd = sc.sd.slice();
      const a = new ThompsonTopK(mean, sd, k, { scan: fused });
      const b = new ThompsonTopK(mean, sd, k);
      expect(a.threshold).toBe(b.threshold);
      expect(a.walkSetSize).toBe(b.walkSetSize);
      expectSameDraws(a, b, k, 9, 20);
    });
  }
});

describe('normalSfPrecise', () => {
  it('matches known values of the normal upper tail', () => {
    // Reference values of Q(x) (R: pnorm(x, lower.tail = FALSE)).
    const known: Array<[number, number]> = [
      [-1, 0.8413447460685429],
      [0, 0.5],
      [0.5, 0.3085375387259869],
      [1.96, 0.024997895148220435],
      [2.5, 0.006209665325776132],
      [3, 0.0013498980316300946],
      [4, 3.167124183311992e-5],
      [6, 9.865876450376946e-10],
      [10, 7.619853024160527e-24],
    ];
    for (const [x, q] of known) expect(Math.abs(normalSfPrecise(x) / q - 1)).toBeLessThan(1e-12);
  });
});

describe('normalSfFast', () => {
  it('stays within 2e-5 of normalSfPrecise', () => {
    let worst = 0;
    for (let z = -9; z <= 9; z += 0.001)
      worst = Math.max(worst, Math.abs(normalSfFast(z) - normalSfPrecise(z)));
    expect(worst).toBeLessThan(2e-5);
  });
});

describe('ThompsonTopK with classes of identical candidates (one planning entry per class)', () => {
  /** Singles first, then classes contiguously (the layout score-classes.ts builds); `twin`: one single
   * bit-equal to class 0 without being listed in it (a class must still count it). */
  function classed(seed: number, singles: number, sizes: number[], twin = false) {
    const r = new Rng(seed);
    const mean: number[] = [];
    const sd: number[] = [];
    for (let i = 0; i < singles; i++) {
      mean.push(0.5 * r.normal());
      sd.push(0.05 + 0.4 * r.next());
    }
    const cls = sizes.map(() => [0.3 * r.normal(), 0.6 + 0.6 * r.next()]);
    if (twin) {
      mean.push(cls[0][0]);
      sd.push(cls[0][1]);
    }
    const start = [mean.length];
    sizes.forEach((size, g) => {
      for (let i = 0; i < size; i++) {
        mean.push(cls[g][0]);
        sd.push(cls[g][1]);
      }
      start.push(mean.length);
    });
    return { mean: Float64Array.from(mean), sd: Float64Array.from(sd), start: Int32Array.from(start) };
  }

  for (const [name, singles, sizes, k, mode] of [
    ['threshold mode, 3 classes + 60 singles', 60, [150, 100, 30], 3, 'auto'],
    ['threshold mode, k 10', 40, [200, 120], 10, 'auto'],
    ['walk mode, 3 classes + 60 singles', 60, [150, 100, 30], 3, 'walk'],
  ] as const)
    it(`has the law of sampling every candidate (${name})`, () => {
      const { mean, sd, start } = classed(21, singles, [...sizes]);
      const n = mean.length;
      const fast = new ThompsonTopK(mean, sd, k, { mode, classes: { start } });
      expect(Number.isNaN(fast.threshold)).toBe(mode === 'walk');
      expect(fast.walkSetSize).toBeLessThanOrEqual(singles + sizes.length); // entries, not members
      const draws = 12_000;
      const r1 = new NormalStream(new Rng(22));
      const r2 = new NormalStream(new Rng(23));
      const a = topKFrequencies(n, k, draws, (i, v) => fast.draw(r1, i, v));
      const b = topKFrequencies(n, k, draws, (i, v) =>
        thompsonTopKReference(mean, sd, k, () => r2.normal(), i, v),
      );
      expectSameLaw(a, b, draws);
    });

  it("drawTop / extendTop keep the law with classes (a class's own band in both layers)", () => {
    const { mean, sd, start } = classed(24, 40, [200, 120, 60], false);
    const n = mean.length;
    const k = 6;
    const fast = new ThompsonTopK(mean, sd, k, { classes: { start }, upperExceedances: 2 });
    const draws = 12_000;
    const r1 = new NormalStream(new Rng(25));
    const r2 = new NormalStream(new Rng(26));
    const a = topKFrequencies(n, k, draws, (i, v) => {
      const known = fast.drawTop(r1, i, v);
      if (known < k) fast.extendTop(r1, i, v, 0, known);
    });
    const b = topKFrequencies(n, k, draws, (i, v) =>
      thompsonTopKReference(mean, sd, k, () => r2.normal(), i, v),
    );
    expectSameLaw(a, b, draws);
    expect(fast.extensions).toBeGreaterThan(draws / 4);
  });

  it('classMembers still returns every candidate with bit-equal (m, sd), listed in a class or not', () => {
    for (const mode of ['auto', 'walk'] as const) {
      const { mean, sd, start } = classed(24, 50, [120, 80, 3], true);
      const s = new ThompsonTopK(mean, sd, 5, { mode, classes: { start } });
      expect(wrongClassMembers(s, mean, sd)).toBe(0);
    }
  });

  it('plans from the SIMD kernel scan of the entries exactly as from the JS one (same draws)', () => {
    const snap = syntheticSnapshot({ items: 4000, dim: 16, seed: 25, coldFraction: 0.6 });
    const req = resolveSlateRequest(snap, { size: 10 });
    const k = req.k;
    const layout = classLayout(snap, req.rows)!;
    const spec = scanSpec(req.rows.length, k);
    const sc = scoreClassLayout(snap, req.user, layout, req.rows, { ...spec, k });
    expect(sc.scan).toBeDefined();
    const mean = sc.mean.slice();
    const sd = sc.sd.slice();
    const a = new ThompsonTopK(mean, sd, k, { scan: sc.scan, classes: { start: layout.start } });
    const b = new ThompsonTopK(mean, sd, k, { classes: { start: layout.start } });
    const c = new ThompsonTopK(mean, sd, k); // no classes: same law, another plan
    expect(a.threshold).toBe(b.threshold);
    expect(a.walkSetSize).toBe(b.walkSetSize);
    expect(a.walkSetSize).toBeLessThan(c.walkSetSize / 5);
    expectSameDraws(a, b, k, 26, 50);
  });
});
