import { Rng } from './rng';

function meanVar(xs: number[]): [number, number] {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - m) * (b - m), 0) / (xs.length - 1);
  return [m, v];
}

describe('Rng', () => {
  it('is reproducible from a seed and differs across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(sa);
    expect(new Rng('user-1').next()).toBe(new Rng('user-1').next());
  });

  it('draws uniforms in [0,1) with the right moments', () => {
    const r = new Rng(1);
    const xs = Array.from({ length: 200_000 }, () => r.next());
    expect(xs.reduce((a, b) => Math.min(a, b), 1)).toBeGreaterThanOrEqual(0);
    expect(xs.reduce((a, b) => Math.max(a, b), 0)).toBeLessThan(1);
    const [m, v] = meanVar(xs);
    expect(Math.abs(m - 0.5)).toBeLessThan(4 * Math.sqrt(1 / 12 / xs.length));
    expect(Math.abs(v - 1 / 12)).toBeLessThan(0.002);
  });

  it('draws nextInt uniformly over its range', () => {
    const r = new Rng(2);
    const counts = new Array<number>(7).fill(0);
    const n = 70_000;
    for (let i = 0; i < n; i++) counts[r.nextInt(7)]++;
    // chi-square with 6 dof: 99.9% quantile ≈ 22.46
    const chi = counts.reduce((a, c) => a + (c - n / 7) ** 2 / (n / 7), 0);
    expect(chi).toBeLessThan(22.46);
    expect(() => r.nextInt(0)).toThrow(/n must be/);
  });

  it('draws standard normals, gammas and betas with the right mean and variance', () => {
    const r = new Rng(3);
    const n = 100_000;
    const [nm, nv] = meanVar(Array.from({ length: n }, () => r.normal()));
    expect(Math.abs(nm)).toBeLessThan(4 / Math.sqrt(n));
    expect(Math.abs(nv - 1)).toBeLessThan(0.02);
    for (const k of [0.3, 1, 2.5, 40]) {
      const [gm, gv] = meanVar(Array.from({ length: n }, () => r.gamma(k)));
      expect(Math.abs(gm - k)).toBeLessThan(5 * Math.sqrt(k / n));
      expect(Math.abs(gv / k - 1)).toBeLessThan(0.05);
    }
    const [bm, bv] = meanVar(Array.from({ length: n }, () => r.beta(2, 5)));
    expect(Math.abs(bm - 2 / 7)).toBeLessThan(0.003);
    expect(Math.abs(bv - (2 * 5) / (49 * 8))).toBeLessThan(0.001);
  });

  it('shuffles into a permutation', () => {
    const r = new Rng(4);
    const a = Array.from({ length: 50 }, (_, i) => i);
    r.shuffle(a);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(a).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
