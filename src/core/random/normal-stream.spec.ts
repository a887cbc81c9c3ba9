import { NormalStream } from './normal-stream';
import { Rng } from './rng';

// Φ by Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7): enough for a KS test at n = 200k.
function phi(x: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(x) / Math.SQRT2));
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-(x * x) / 2);
  return x >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

describe('NormalStream', () => {
  it('is reproducible from the seeding Rng and differs across seeds', () => {
    const a = new NormalStream(new Rng(7));
    const b = new NormalStream(new Rng(7));
    const c = new NormalStream(new Rng(8));
    const xs = Array.from({ length: 100 }, () => a.normal());
    expect(Array.from({ length: 100 }, () => b.normal())).toEqual(xs);
    expect(Array.from({ length: 100 }, () => c.normal())).not.toEqual(xs);
  });

  it('draws uniform 32-bit integers (chi-square over 64 cells, every bit balanced)', () => {
    const s = new NormalStream(new Rng(1));
    const n = 640_000;
    const cells = new Array<number>(64).fill(0);
    const ones = new Array<number>(32).fill(0);
    for (let i = 0; i < n; i++) {
      const u = s.nextInt32() >>> 0;
      cells[u >>> 26]++;
      for (let b = 0; b < 32; b++) ones[b] += (u >>> b) & 1;
    }
    const chi = cells.reduce((acc, c) => acc + (c - n / 64) ** 2 / (n / 64), 0);
    expect(chi).toBeLessThan(111); // 99.99% quantile of χ²(63) ≈ 110.6
    for (const o of ones) expect(Math.abs(o - n / 2)).toBeLessThan(5 * Math.sqrt(n / 4));
    const u = Array.from({ length: 1000 }, () => s.nextOpen());
    expect(Math.min(...u)).toBeGreaterThan(0);
    expect(Math.max(...u)).toBeLessThan(1);
  });

  it('passes a Kolmogorov–Smirnov test against Φ and has the right moments', () => {
    const s = new NormalStream(new Rng(11));
    const n = 200_000;
    const xs = new Float64Array(n);
    for (let i = 0; i < n; i++) xs[i] = s.normal();
    let m = 0;
    let v = 0;
    let k4 = 0;
    for (const x of xs) m += x;
    m /= n;
    for (const x of xs) {
      v += (x - m) ** 2;
      k4 += (x - m) ** 4;
    }
    v /= n - 1;
    k4 /= n;
    expect(Math.abs(m)).toBeLessThan(4 / Math.sqrt(n));
    expect(Math.abs(v - 1)).toBeLessThan(0.015);
    expect(Math.abs(k4 / (v * v) - 3)).toBeLessThan(0.06);
    xs.sort();
    let d = 0;
    for (let i = 0; i < n; i++) {
      const f = phi(xs[i]);
      d = Math.max(d, Math.abs(f - i / n), Math.abs((i + 1) / n - f));
    }
    // KS critical value at α = 0.001: 1.95 / √n.
    expect(d).toBeLessThan(1.95 / Math.sqrt(n));
  });

  it('puts the right mass in the tails beyond the base strip (|z| > 3.5)', () => {
    const s = new NormalStream(new Rng(12));
    const n = 2_000_000;
    let tail = 0;
    for (let i = 0; i < n; i++) if (Math.abs(s.normal()) > 3.5) tail++;
    const p = 2 * (1 - phi(3.5)); // ≈ 4.65e-4
    expect(Math.abs(tail - n * p)).toBeLessThan(5 * Math.sqrt(n * p));
  });

  for (const a of [-1.5, 0, 0.39, 0.41, 1.2, 4]) {
    it(`samples N(0,1) conditioned on z > ${a} (and on z ≤ −${a})`, () => {
      const s = new NormalStream(new Rng(13));
      const n = 100_000;
      let mean = 0;
      let mean2 = 0;
      let min = Infinity;
      let maxBelow = -Infinity;
      let meanBelow = 0;
      for (let i = 0; i < n; i++) {
        const z = s.normalAbove(a);
        mean += z / n;
        mean2 += (z * z) / n;
        min = Math.min(min, z);
        const w = s.normalBelow(-a);
        maxBelow = Math.max(maxBelow, w);
        meanBelow += w / n;
      }
      // Truncated normal moments: E = φ(a)/Q(a) = λ, E[z²] = 1 + aλ.
      const pdf = Math.exp(-0.5 * a * a) / Math.sqrt(2 * Math.PI);
      const lambda = pdf / (1 - phi(a));
      const sd = Math.sqrt(1 + a * lambda - lambda * lambda);
      expect(min).toBeGreaterThan(a);
      expect(maxBelow).toBeLessThanOrEqual(-a);
      expect(Math.abs(mean - lambda)).toBeLessThan((5 * sd) / Math.sqrt(n));
      expect(Math.abs(-meanBelow - lambda)).toBeLessThan((5 * sd) / Math.sqrt(n));
      expect(Math.abs(mean2 - (1 + a * lambda))).toBeLessThan(0.02 * (1 + a * lambda));
    });
  }

  it('draws Exp(1) by its ziggurat: Kolmogorov–Smirnov, moments, and the mass beyond the base strip', () => {
    const s = new NormalStream(new Rng(21));
    const n = 200_000;
    const xs = new Float64Array(n);
    for (let i = 0; i < n; i++) xs[i] = s.exponential();
    let m = 0;
    let m2 = 0;
    for (const x of xs) {
      m += x / n;
      m2 += (x * x) / n;
    }
    expect(Math.abs(m - 1)).toBeLessThan(5 / Math.sqrt(n)); // Var = 1
    expect(Math.abs(m2 - 2)).toBeLessThan(5 * Math.sqrt(20 / n)); // Var(x²) = 24 − 4
    xs.sort();
    let d = 0;
    for (let i = 0; i < n; i++) {
      const f = 1 - Math.exp(-xs[i]);
      d = Math.max(d, Math.abs(f - i / n), Math.abs((i + 1) / n - f));
    }
    expect(d).toBeLessThan(1.95 / Math.sqrt(n)); // KS at α = 0.001
    expect(xs[0]).toBeGreaterThanOrEqual(0);
    // Beyond the base strip's edge (7.697): the tail branch, P = e^−x.
    const big = 4_000_000;
    let tail = 0;
    for (let i = 0; i < big; i++) if (s.exponential() > 7.8) tail++;
    const p = Math.exp(-7.8);
    expect(Math.abs(tail - big * p)).toBeLessThan(5 * Math.sqrt(big * p));
  });
});
