import type { ScoreMoments } from './score-moments';

/** A request's candidates with their score distributions (means, variances and standard deviations). */
export interface ScoredCandidates extends ScoreMoments {
  /** sd_c = √s_c. */
  readonly sd: Float64Array;
  /**
   * The candidates' item indices ascending, when `rows` is not (class-compressed serving lays candidates
   * out by class, see score-classes.ts); absent when `rows` is ascending. See `candidateItems`.
   */
  readonly candidateSet?: Int32Array;
}

/** The candidates' item indices, ascending (what `SlatePropensities.candidates` holds). */
export function candidateItems(sc: ScoredCandidates): Int32Array {
  return sc.candidateSet ?? sc.rows;
}

/** What a policy chose: candidate positions (into `ScoredCandidates`) in slot order, and their scores. */
export interface Selection {
  /** cand[j] = candidate at position j. */
  readonly cand: Int32Array;
  /** The score the policy ranked by (see docs/serving.md): sample, mean or upper bound. */
  readonly score: Float64Array;
}

export function withSd(m: ScoreMoments): ScoredCandidates {
  const sd = new Float64Array(m.n);
  for (let c = 0; c < m.n; c++) sd[c] = Math.sqrt(m.variance[c]);
  return { ...m, sd };
}
