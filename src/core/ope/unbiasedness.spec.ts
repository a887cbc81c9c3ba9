import { Rng } from '../random';
import { actionDistribution } from './action-distribution';
import { ipwTerms } from './ipw';
import { slotLogFromSlates, onPolicyMean, type SlateRecord } from './slot-log';
import { ratioValue } from './terms';
import { marginalWeights } from './weights';

// IPS is unbiased: the mean of the estimate over many independent synthetic logs must sit within a few
// standard errors of the true value of π. The logger draws each position's item from its own skewed
// categorical (so μ is far from π and the weights vary); clicks are Bernoulli(ctr(item, position)).
describe('IPS unbiasedness by simulation', () => {
  const m = 5;
  const L = 2;
  const mu = [
    [0.5, 0.2, 0.15, 0.1, 0.05],
    [0.05, 0.1, 0.15, 0.2, 0.5],
  ];
  const pi = [
    [0.05, 0.05, 0.1, 0.3, 0.5],
    [0.1, 0.1, 0.1, 0.2, 0.5],
  ];
  const ctr = (a: number, k: number): number => 0.05 + 0.1 * a + 0.05 * k;
  const truth = pi.reduce((s, row, k) => s + row.reduce((t, p, a) => t + p * ctr(a, k), 0), 0) / L;
  const dist = actionDistribution(1, m, L);
  pi.forEach((row, k) => row.forEach((p, a) => (dist.probs[a * L + k] = p)));
  const draw = (rng: Rng, p: number[]): number => {
    let u = rng.next();
    for (let a = 0; a < p.length; a++) if ((u -= p[a]) < 0) return a;
    return p.length - 1;
  };
  const runs = 400;
  const estimates: number[] = [];
  const naive: number[] = [];
  const rng = new Rng(2024);
  for (let r = 0; r < runs; r++) {
    const slates: SlateRecord[] = [];
    for (let s = 0; s < 200; s++)
      slates.push({
        slots: [0, 1].map((k) => {
          const a = draw(rng, mu[k]);
          return { item: a, position: k, reward: rng.next() < ctr(a, k) ? 1 : 0, pscore: mu[k][a] };
        }),
      });
    const log = slotLogFromSlates(m, L, slates);
    estimates.push(ratioValue(ipwTerms(log, marginalWeights(log, dist))));
    naive.push(onPolicyMean(log));
  }
  const meanSe = (xs: number[]): [number, number] => {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
    return [mean, Math.sqrt(v / xs.length)];
  };

  it('the mean IPS estimate is within 3 standard errors of V(π)', () => {
    const [mean, se] = meanSe(estimates);
    expect(Math.abs(mean - truth)).toBeLessThan(3 * se);
  });

  it('has the power to fail: the unweighted log mean (the logger’s value) is far outside that band', () => {
    const [mean, se] = meanSe(estimates);
    const [naiveMean] = meanSe(naive);
    expect(Math.abs(naiveMean - truth)).toBeGreaterThan(10 * se);
    expect(Math.abs(mean - truth)).toBeLessThan(Math.abs(naiveMean - truth));
  });
});
