import { Rng } from '../random';
import { epsGreedyRankPropensities, selectEpsGreedy } from './eps-greedy';
import type { ScoredCandidates } from './policy-types';

/** Exhaustive enumeration of every random path of per-slot ε-greedy over ranks 0..n−1 (small n). */
function enumerate(n: number, k: number, eps: number): Float64Array {
  const P = new Float64Array(n * k);
  const walk = (taken: boolean[], j: number, w: number): void => {
    if (j === k) return;
    const free = [];
    for (let r = 0; r < n; r++) if (!taken[r]) free.push(r);
    const best = free[0]; // ranks are in mean order
    for (const r of free) {
      const p = eps / free.length + (r === best ? 1 - eps : 0);
      P[r * k + j] += w * p;
      taken[r] = true;
      walk(taken, j + 1, w * p);
      taken[r] = false;
    }
  };
  walk(new Array<boolean>(n).fill(false), 0, 1);
  return P;
}

function scored(means: number[]): ScoredCandidates {
  const n = means.length;
  return {
    n,
    rows: Int32Array.from({ length: n }, (_, i) => i),
    mean: Float64Array.from(means),
    variance: new Float64Array(n).fill(1),
    sd: new Float64Array(n).fill(1),
  };
}

describe('ε-greedy propensities', () => {
  for (const [n, k, eps] of [
    [3, 2, 0.3],
    [5, 3, 0.5],
    [6, 6, 0.2],
    [7, 4, 1],
    [7, 4, 0],
    [8, 5, 0.05],
  ]) {
    it(`equal exhaustive enumeration exactly (n=${n}, k=${k}, ε=${eps})`, () => {
      const exact = enumerate(n, k, eps);
      const { p, other } = epsGreedyRankPropensities(n, k, eps);
      for (let j = 0; j < k; j++) {
        for (let r = 0; r < k; r++) expect(Math.abs(p[r * k + j] - exact[r * k + j])).toBeLessThan(1e-12);
        for (let r = k; r < n; r++) expect(Math.abs(other[j] - exact[r * k + j])).toBeLessThan(1e-12);
      }
    });
  }

  it('sum to one per position and to k over the slate on a large catalogue', () => {
    const n = 100_000;
    const k = 100;
    const { p, other } = epsGreedyRankPropensities(n, k, 0.2);
    let total = 0;
    for (let j = 0; j < k; j++) {
      let col = (n - k) * other[j];
      for (let r = 0; r < k; r++) col += p[r * k + j];
      expect(Math.abs(col - 1)).toBeLessThan(1e-9);
      total += col;
    }
    expect(Math.abs(total - k)).toBeLessThan(1e-7);
  });

  it('agree with 4·10^5 simulated slates (1.6·10^6 slot draws) of the policy itself', () => {
    const means = [0.9, 0.1, 0.5, 0.7, -1, 0.3, 0.2, 0.8, 0, 0.6];
    const sc = scored(means);
    const n = means.length;
    const k = 4;
    const eps = 0.35;
    const rank = [...means.keys()].sort((a, b) => means[b] - means[a]);
    const { p, other } = epsGreedyRankPropensities(n, k, eps);
    const rng = new Rng(21);
    const S = 400_000;
    const counts = new Float64Array(n * k);
    for (let s = 0; s < S; s++) {
      const sel = selectEpsGreedy(sc, k, eps, rng);
      for (let j = 0; j < k; j++) counts[sel.cand[j] * k + j]++;
    }
    for (let r = 0; r < n; r++)
      for (let j = 0; j < k; j++) {
        const want = r < k ? p[r * k + j] : other[j];
        const got = counts[rank[r] * k + j] / S;
        expect(Math.abs(got - want)).toBeLessThan(5 * Math.sqrt((want * (1 - want)) / S) + 1e-9);
      }
  });
});
