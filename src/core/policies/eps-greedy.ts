import type { Rng } from '../random';
import { topKByValue } from './ranking';
import { makePropensities, type SlatePropensities } from './slate-propensities';
import type { ScoredCandidates, Selection } from './policy-types';

/**
 * ε-greedy per slot: for each position, with probability ε a uniformly random not-yet-chosen candidate,
 * otherwise the best remaining candidate by posterior mean (ties to the lower item index).
 * The reported score is the posterior mean.
 */
export function selectEpsGreedy(sc: ScoredCandidates, k: number, epsilon: number, rng: Rng): Selection {
  const n = sc.n;
  // The best remaining is always among the k best by mean (at most k − 1 are taken).
  const ranking = topKByValue(sc.mean, sc.rows, k);
  const chosen = new Set<number>();
  const cand = new Int32Array(k);
  for (let j = 0; j < k; j++) {
    let c: number;
    if (rng.next() < epsilon) {
      if (n >= 2 * k) {
        // Rejection: at most half the candidates are taken, so ≤ 2 tries on average.
        do c = rng.nextInt(n);
        while (chosen.has(c));
      } else {
        const free: number[] = [];
        for (let x = 0; x < n; x++) if (!chosen.has(x)) free.push(x);
        c = free[rng.nextInt(free.length)];
      }
    } else {
      let r = 0;
      while (chosen.has(ranking[r])) r++;
      c = ranking[r];
    }
    chosen.add(c);
    cand[j] = c;
  }
  return { cand, score: Float64Array.from(cand, (c) => sc.mean[c]) };
}

/**
 * Exact marginal propensities P(rank-r candidate at position j) of per-slot ε-greedy, by a dynamic
 * programme over O(k²) states.
 *
 * State before slot j: p = length of the fully-taken prefix of the mean ranking (ranks 1..p taken,
 * rank p+1 free) and m = j − p other taken candidates. Conditional on (p, m) those m are a uniformly
 * random m-subset of ranks p+2..n (uniform picks are exchangeable, greedy picks only take rank p+1),
 * so the chain on (p, m) is Markov:
 *  - rank p+1 is picked with probability (1−ε) + ε/(n−j); the prefix then grows by 1 + L, where L is
 *    the run of taken ranks after it: P(L = l) = (m)_l/(N)_l · (N−m)/(N−l), N = n − p − 1;
 *  - any other free candidate (each free with probability (N−m)/N) with probability ε/(n−j) each.
 * Ranks above j+1 are symmetric at slot j, so every candidate outside the top k shares one value per
 * position. Returns p[r·k + j] for ranks r = 0..k−1 (0-based) and `other[j]` for each lower-ranked one.
 */
export function epsGreedyRankPropensities(
  n: number,
  k: number,
  eps: number,
): { p: Float64Array; other: Float64Array } {
  const p = new Float64Array(k * k);
  const other = new Float64Array(k);
  let cur = new Float64Array(k + 2);
  cur[0] = 1;
  for (let j = 0; j < k; j++) {
    const rem = n - j;
    const next = new Float64Array(k + 2);
    for (let pre = 0; pre <= j; pre++) {
      const w = cur[pre];
      if (w === 0) continue;
      const m = j - pre;
      const N = n - pre - 1;
      const pHead = 1 - eps + eps / rem;
      p[pre * k + j] += w * pHead;
      if (N > 0) {
        const each = ((w * eps) / rem) * ((N - m) / N);
        for (let r = pre + 1; r < k; r++) p[r * k + j] += each;
        other[j] += each;
      }
      if (j + 1 === k) continue;
      // Taking rank pre+1: the prefix extends over the run of L already-taken ranks after it.
      let allTaken = 1; // P(the first l ranks after the head are all taken) = (m)_l / (N)_l
      for (let l = 0; l <= m; l++) {
        const pl = l < N ? (allTaken * (N - m)) / (N - l) : allTaken;
        next[pre + 1 + l] += w * pHead * pl;
        if (l < N) allTaken *= (m - l) / (N - l);
      }
      next[pre] += (w * eps * (N - m)) / rem;
    }
    cur = next;
  }
  return { p, other };
}

/** Exact propensity matrix of ε-greedy for a request. */
export function epsGreedyPropensities(sc: ScoredCandidates, k: number, epsilon: number): SlatePropensities {
  const ranking = topKByValue(sc.mean, sc.rows, k);
  const { p, other } = epsGreedyRankPropensities(sc.n, k, epsilon);
  return makePropensities({
    k,
    kind: 'exact',
    simulatedSlates: 0,
    candidates: sc.rows,
    items: Int32Array.from(ranking, (c) => sc.rows[c]),
    p,
    otherProbability: other,
    otherCount: sc.n - k,
  });
}
