import { Rng } from '../random';
import { popularityPropensity } from './popularity';
import { examinationFromRandomised, positionBiasEm, type PositionLog } from './position-bias';

describe('popularity propensity', () => {
  it('is (n_i / max n)^η, clipped below', () => {
    const p = popularityPropensity([100, 25, 0, 1], 0.5, 0.05);
    expect(Array.from(p)).toEqual([1, 0.5, 0.05, 0.1]);
    expect(Array.from(popularityPropensity([4, 1], 1, 0.01))).toEqual([1, 0.25]);
    expect(() => popularityPropensity([1, -1])).toThrow(/counts\[1\]/);
  });
});

function simulate(rng: Rng, n: number, randomised: boolean): { log: PositionLog; theta: number[] } {
  const theta = [1, 0.6, 0.4, 0.3, 0.2];
  const keys = 40;
  const gamma = Array.from({ length: keys }, () => 0.05 + 0.6 * rng.next());
  const log: PositionLog = { position: new Int32Array(n), key: new Int32Array(n), click: new Uint8Array(n) };
  for (let r = 0; r < n; r++) {
    const q = rng.nextInt(keys);
    // logged traffic puts relevant keys higher (confounding); randomised traffic does not
    const k = randomised
      ? rng.nextInt(5)
      : Math.min(4, Math.floor((1 - gamma[q]) * 5 * rng.next() + rng.next()));
    log.position[r] = k + 1;
    log.key[r] = q;
    log.click[r] = rng.next() < theta[k] * gamma[q] ? 1 : 0;
  }
  return { log, theta };
}

describe('position bias', () => {
  it('randomised traffic recovers the examination curve', () => {
    const { log, theta } = simulate(new Rng(1), 200_000, true);
    const est = examinationFromRandomised(log, 5);
    for (let k = 0; k < 5; k++) expect(est[k]).toBeCloseTo(theta[k], 1);
  });

  it('regression EM recovers it from confounded logged traffic, where raw CTR ratios do not', () => {
    const { log, theta } = simulate(new Rng(2), 200_000, false);
    const naive = examinationFromRandomised(log, 5); // wrong here: relevance depends on position
    const em = positionBiasEm(log, 5, 40, { iterations: 200, shrinkage: 0.1 });
    let emErr = 0;
    let naiveErr = 0;
    for (let k = 1; k < 5; k++) {
      emErr += Math.abs(em.examination[k] - theta[k]);
      naiveErr += Math.abs(naive[k] - theta[k]);
    }
    expect(emErr).toBeLessThan(0.15);
    expect(naiveErr).toBeGreaterThan(2 * emErr);
  });
});
