/**
 * Ranking metrics for one user's list, given relevances in the order the model ranked them (best first).
 *
 * Binary protocol (Saito et al. WSDM 2020, relevance = rating ≥ 4):
 *   DCG@K  = Σ_{k ≤ K} rel_k / log2(k + 1)        (standard discount; not normalised)
 *   Recall@K = Σ_{k ≤ K} rel_k / Σ rel
 *   MAP@K  = Σ_{k ≤ K, rel_k > 0} Precision@k / min(K, Σ rel)
 * Graded protocol (Saito, ICTIR 2020: relevance (2^(r−1) − 1)/15), every metric normalised by Σ rel:
 *   DCG@K / Σrel,  Σ_{k ≤ K} rel_k / Σrel,  Σ_{k ≤ K, rel_k > 0} (Σ_{j ≤ k} rel_j / k) / Σrel.
 * Saito's code uses the discount 1 for both of the first two ranks; we keep the standard 1/log2(k + 1).
 * Lists with Σ rel = 0 give NaN here; callers decide (binary: skip the user; graded: count 0, as ICTIR does).
 */
export function dcgAtK(rels: ArrayLike<number>, k: number): number {
  let s = 0;
  for (let j = 0; j < Math.min(k, rels.length); j++) s += rels[j] / Math.log2(j + 2);
  return s;
}

function total(rels: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < rels.length; j++) s += rels[j];
  return s;
}

export function recallAtK(rels: ArrayLike<number>, k: number): number {
  const t = total(rels);
  if (t === 0) return NaN;
  let s = 0;
  for (let j = 0; j < Math.min(k, rels.length); j++) s += rels[j];
  return s / t;
}

/** Binary average precision at K (rels in {0, 1}). */
export function apAtK(rels: ArrayLike<number>, k: number): number {
  const t = total(rels);
  if (t === 0) return NaN;
  let hits = 0;
  let s = 0;
  for (let j = 0; j < Math.min(k, rels.length); j++) {
    if (rels[j] > 0) {
      hits++;
      s += hits / (j + 1);
    }
  }
  return s / Math.min(k, t);
}

/** ICTIR 2020's graded metrics, each normalised by Σ rel. */
export function gradedMetricsAtK(
  rels: ArrayLike<number>,
  k: number,
): { dcg: number; recall: number; map: number } {
  const t = total(rels);
  if (t === 0) return { dcg: NaN, recall: NaN, map: NaN };
  let cum = 0;
  let map = 0;
  for (let j = 0; j < Math.min(k, rels.length); j++) {
    cum += rels[j];
    if (rels[j] > 0) map += cum / (j + 1);
  }
  return { dcg: dcgAtK(rels, k) / t, recall: cum / t, map: map / t };
}

/** Indices of `scores` from highest to lowest (ties: lower index first, so results are deterministic). */
export function argsortDesc(scores: ArrayLike<number>): number[] {
  return Array.from({ length: scores.length }, (_, j) => j).sort((a, b) => scores[b] - scores[a] || a - b);
}
