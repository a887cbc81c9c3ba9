import type { Rng } from '../random';
import { makePropensities, type SlatePropensities } from './slate-propensities';
import { candidateItems, type ScoredCandidates, type Selection } from './policy-types';

/**
 * Uniform random slate: k candidates without replacement, in random order (a partial Fisher–Yates on a
 * sparse swap map, O(k) whatever n). The reported score is the posterior mean (not used for ranking).
 */
export function selectRandom(sc: ScoredCandidates, k: number, rng: Rng): Selection {
  const n = sc.n;
  const swapped = new Map<number, number>();
  const cand = new Int32Array(k);
  for (let j = 0; j < k; j++) {
    const r = j + rng.nextInt(n - j);
    const vr = swapped.get(r) ?? r;
    const vj = swapped.get(j) ?? j;
    swapped.set(r, vj);
    cand[j] = vr;
  }
  return { cand, score: Float64Array.from(cand, (c) => sc.mean[c]) };
}

/** Exact: every candidate is at every position with probability 1/n (in the slate with k/n). */
export function randomPropensities(sc: ScoredCandidates, k: number): SlatePropensities {
  return makePropensities({
    k,
    kind: 'exact',
    simulatedSlates: 0,
    candidates: candidateItems(sc),
    items: new Int32Array(0),
    p: new Float64Array(0),
    otherProbability: new Float64Array(k).fill(1 / sc.n),
    otherCount: sc.n,
  });
}
