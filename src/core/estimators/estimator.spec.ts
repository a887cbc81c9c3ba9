import { Rng } from '../random';
import {
  applyEstimator,
  estimatorTarget,
  idealPairLoss,
  ipsPairLoss,
  parseEstimatorConfig,
} from './estimator';

describe('IPS / Rel-MF estimator', () => {
  // a small population of pairs: true relevance, exposure propensity, a model's score
  const rng = new Rng(17);
  const pairs = Array.from({ length: 50 }, () => ({
    r: rng.next() < 0.4 ? 1 : 0,
    theta: 0.05 + 0.9 * rng.next(),
    s: rng.next(),
  }));
  const ideal = pairs.reduce((a, p) => a + idealPairLoss(p.r, p.s), 0) / pairs.length;

  function simulate(
    loss: (y: number, p: (typeof pairs)[number]) => number,
    draws: number,
  ): { mean: number; se: number } {
    const r = new Rng(99);
    const xs: number[] = [];
    for (let t = 0; t < draws; t++) {
      let total = 0;
      for (const p of pairs) {
        const y = r.next() < p.theta * p.r ? 1 : 0; // click = exposed and relevant
        total += loss(y, p);
      }
      xs.push(total / pairs.length);
    }
    const mean = xs.reduce((a, b) => a + b, 0) / draws;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (draws - 1));
    return { mean, se: sd / Math.sqrt(draws) };
  }

  it('is unbiased for the ideal loss on relevance, within its standard error', () => {
    const { mean, se } = simulate((y, p) => ipsPairLoss(y, p.theta, p.s), 20000);
    expect(Math.abs(mean - ideal)).toBeLessThan(4 * se);
  });

  it('while the naive loss is biased by many standard errors (the test can tell)', () => {
    const { mean, se } = simulate((y, p) => idealPairLoss(y, p.s), 20000);
    expect(Math.abs(mean - ideal)).toBeGreaterThan(10 * se);
  });

  it('equals least squares toward Y/θ with weight 1 plus a constant (the negative weight cancels)', () => {
    for (const [y, theta, s] of [
      [1, 0.2, 0.3],
      [0, 0.5, 0.8],
      [1, 1, -0.4],
    ] as const) {
      const a = y / theta;
      expect(ipsPairLoss(y, theta, s)).toBeCloseTo((s - a) ** 2 + a - a * a, 12);
    }
  });

  it('maps clicks to targets per estimator and checks inputs once', () => {
    const naive = parseEstimatorConfig({ kind: 'naive' });
    const ips = parseEstimatorConfig({ kind: 'ips' });
    const clipped = parseEstimatorConfig({ kind: 'ips_clipped', clip: 0.1 });
    expect(estimatorTarget(naive, 1, 0.02)).toBe(1);
    expect(estimatorTarget(ips, 1, 0.02)).toBeCloseTo(50, 12);
    expect(estimatorTarget(clipped, 1, 0.02)).toBeCloseTo(10, 12);
    expect(estimatorTarget(clipped, 1, 0.5)).toBeCloseTo(2, 12);
    const r = applyEstimator(ips, [1, 0, 1], [0.5, 0.1, 0.25]);
    expect(Array.from(r.target)).toEqual([2, 0, 4]);
    expect(Array.from(r.weight)).toEqual([1, 1, 1]);
    expect(() => applyEstimator(ips, [1, 2], [0.5, 0.5])).toThrow(/clicks\[1\]: must be 0 or 1/);
    expect(() => applyEstimator(ips, [1], [0])).toThrow(/propensities\[0\]: must be in \(0, 1\]/);
    expect(() => parseEstimatorConfig({ kind: 'snips' })).toThrow();
    expect(() => parseEstimatorConfig({ kind: 'ips_clipped', clip: 0 })).toThrow();
  });

  it('clipping trades bias for variance', () => {
    const cfg = parseEstimatorConfig({ kind: 'ips_clipped', clip: 0.5 });
    const ipsRun = simulate((y, p) => ipsPairLoss(y, p.theta, p.s), 4000);
    const clipRun = simulate((y, p) => ipsPairLoss(y, Math.max(p.theta, cfg.clip), p.s), 4000);
    expect(clipRun.se).toBeLessThan(ipsRun.se);
    expect(Math.abs(clipRun.mean - ideal)).toBeGreaterThan(4 * clipRun.se);
  });
});
