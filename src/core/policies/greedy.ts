import { topKByValue } from './ranking';
import { makePropensities, type SlatePropensities } from './slate-propensities';
import type { ScoredCandidates, Selection } from './policy-types';

/**
 * Greedy: the k highest posterior means. Ties go to the lower item index, so the policy is
 * deterministic and its propensities are exactly 1 (served item at its position) or 0.
 */
export function selectGreedy(sc: ScoredCandidates, k: number): Selection {
  const cand = topKByValue(sc.mean, sc.rows, k);
  return { cand, score: Float64Array.from(cand, (c) => sc.mean[c]) };
}

/**
 * UCB: the k highest upper bounds m_c + β·sd_c (deterministic; ties to the lower item index).
 */
export function selectUcb(sc: ScoredCandidates, k: number, beta: number): Selection {
  const ub = new Float64Array(sc.n);
  for (let c = 0; c < sc.n; c++) ub[c] = sc.mean[c] + beta * sc.sd[c];
  const cand = topKByValue(ub, sc.rows, k);
  return { cand, score: Float64Array.from(cand, (c) => ub[c]) };
}

/** Propensities of a deterministic policy: 1 for each chosen (item, position), 0 elsewhere. Exact. */
export function deterministicPropensities(sc: ScoredCandidates, sel: Selection): SlatePropensities {
  const k = sel.cand.length;
  const p = new Float64Array(k * k);
  for (let j = 0; j < k; j++) p[j * k + j] = 1;
  return makePropensities({
    k,
    kind: 'exact',
    simulatedSlates: 0,
    candidates: sc.rows,
    items: Int32Array.from(sel.cand, (c) => sc.rows[c]),
    p,
    otherProbability: new Float64Array(k),
    otherCount: sc.n - k,
  });
}
