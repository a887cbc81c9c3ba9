import { Rng } from './rng';
import { fillZigguratNormal, normalTailAbove, zigguratNormal } from './ziggurat';

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

describe('zigguratNormal', () => {
  it('is reproducible from a seed', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const xs = Array.from({ length: 100 }, () => zigguratNormal(a));
    expect(Array.from({ length: 100 }, () => zigguratNormal(b))).toEqual(xs);
  });

  it('passes a Kolmogorov–Smirnov test against Φ and has the right moments', () => {
    const n = 200_000;
    const xs = new Float64Array(n);
    fillZigguratNormal(new Rng(11), xs);
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

  it('puts the right mass in the tails beyond the base strip (|z| > 3.44)', () => {
    const r = new Rng(12);
    const n = 2_000_000;
    let tail = 0;
    for (let i = 0; i < n; i++) if (Math.abs(zigguratNormal(r)) > 3.5) tail++;
    const p = 2 * (1 - phi(3.5)); // ≈ 4.65e-4
    expect(Math.abs(tail - n * p)).toBeLessThan(5 * Math.sqrt(n * p));
  });
});

describe('normalTailAbove', () => {
  it('samples N(0,1) conditioned on z > a', () => {
    const r = new Rng(13);
    const a = 4;
    const n = 100_000;
    let mean = 0;
    let min = Infinity;
    for (let i = 0; i < n; i++) {
      const z = normalTailAbove(r, a);
      mean += z;
      min = Math.min(min, z);
    }
    mean /= n;
    // E[z | z > a] = φ(a) / (1 − Φ(a)) ≈ 4.2256 for a = 4 (Mills ratio).
    const phiA = Math.exp(-8) / Math.sqrt(2 * Math.PI);
    const sf = 3.167124183311992e-5;
    expect(min).toBeGreaterThan(a);
    expect(Math.abs(mean - phiA / sf)).toBeLessThan(0.005);
  });
});
