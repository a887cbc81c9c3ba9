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

/**
 * The k posterior draws an in_slate_ts slate was built from: draw d's top ranks at `tops[d·k + r]` (sampled scores in
 * `vals`), known up to rank `known[d]`, and `extend(d)` completing draw d's top k from its conditional law (the same
 * stream as the slate's). Scratch memory, valid until the next in_slate_ts selection.
 */
export interface InSlateDraws {
  readonly tops: Int32Array;
  readonly vals: Float64Array;
  readonly known: Int32Array;
  extend(d: number): void;
}

/** A slate_ts slate's one posterior draw: its top `sampler.k` candidates, best first, and their sampled scores. */
export interface SlateDraw {
  readonly tops: Int32Array;
  readonly vals: Float64Array;
}

/** What a policy chose: candidate positions (into `ScoredCandidates`) in slot order, and their scores. */
export interface Selection {
  /** cand[j] = candidate at position j. */
  readonly cand: Int32Array;
  /** The score the policy ranked by (see docs/serving.md): sample, mean or upper bound. */
  readonly score: Float64Array;
  /** in_slate_ts: the draws the slate came from (its propensities condition on them, conditional-propensities.ts). */
  readonly draws?: InSlateDraws;
  /** slate_ts: the draw the slate came from, all the ranks the sampler drew (its first k are the slate). */
  readonly draw?: SlateDraw;
}

export function withSd(m: ScoreMoments): ScoredCandidates {
  const sd = new Float64Array(m.n);
  for (let c = 0; c < m.n; c++) sd[c] = Math.sqrt(m.variance[c]);
  return { ...m, sd };
}
