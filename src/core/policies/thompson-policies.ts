import { NormalStream, type Rng } from '../random';
import { nextStamp, scratchInt32 } from './internal/scratch';
import { randomPropensities } from './random-policy';
import { makePropensities, type SlatePropensities } from './slate-propensities';
import type { ScoredCandidates, Selection } from './policy-types';
import { type ThompsonTopK } from './thompson-sampler';

/**
 * In-slate Thompson sampling (Eide, Leslie & Frigessi, FINN.no): k independent posterior draws, each
 * ranked; the slate is the first k distinct candidates of the priority list
 *   top-1 of draw 1, top-1 of draw 2, …, top-1 of draw k, top-2 of draw 1, …, top-2 of draw k, …
 * (their `recommend_inslate` flattens a [rank × draw] tensor and skips items already in the slate).
 * So slot j gets the top item of draw j while no two draws agree; a repeated top item falls through
 * to the next entry of that list. With k = 1 this is ordinary Thompson sampling.
 * Draw d's top-k is `tops[(d)·k + r]`, sample `vals[...]`; writes the slate to `outCand`/`outScore`.
 * `mark`/`markId` is an n-sized scratch stamp array (avoids a Set per slate).
 */
export function assembleInSlate(
  tops: Int32Array,
  vals: Float64Array | null,
  draws: ArrayLike<number>,
  k: number,
  mark: Int32Array,
  markId: number,
  outCand: Int32Array,
  outScore: Float64Array | null,
): void {
  let filled = 0;
  for (let r = 0; r < k && filled < k; r++) {
    for (let t = 0; t < k && filled < k; t++) {
      const at = draws[t] * k + r;
      const c = tops[at];
      if (mark[c] === markId) continue;
      mark[c] = markId;
      outCand[filled] = c;
      if (outScore && vals) outScore[filled] = vals[at];
      filled++;
    }
  }
  // Draw 0 alone holds k distinct candidates, so `filled` always reaches k.
}

/** Draw k posterior samples and serve the in-slate TS slate; returns the draws' top-k lists too. */
export function selectInSlateTs(
  sampler: ThompsonTopK,
  k: number,
  rng: Rng,
): Selection & { tops: Int32Array; vals: Float64Array } {
  const tops = new Int32Array(k * k);
  const vals = new Float64Array(k * k);
  const stream = new NormalStream(rng);
  for (let d = 0; d < k; d++) sampler.draw(stream, tops, vals, d * k);
  const cand = new Int32Array(k);
  const score = new Float64Array(k);
  const draws = Int32Array.from({ length: k }, (_, d) => d);
  assembleInSlate(tops, vals, draws, k, scratchInt32('inslate.mark', sampler.n), nextStamp(), cand, score);
  return { cand, score, tops, vals };
}

/** Slate TS: one posterior draw, its k best in order; the score is the sampled score. */
export function selectSlateTs(sampler: ThompsonTopK, k: number, rng: Rng): Selection {
  const cand = new Int32Array(k);
  const score = new Float64Array(k);
  sampler.draw(new NormalStream(rng), cand, score, 0);
  return { cand, score };
}

/**
 * Monte Carlo propensities of a Thompson policy from `slates` simulated slates (plus the served one,
 * when given, as one more sample: all S + 1 are iid draws of the policy, so the estimate stays
 * unbiased over the randomness and a served (item, position) never gets 0).
 *
 * in_slate_ts: D = max(slates, k) draws; simulated slate t uses draws t, t+1, …, t+k−1 (mod D). Each
 * slate is built from k distinct iid draws, so each is an exact sample of the policy and the average is
 * unbiased; overlapping slates make D draws give D slates instead of D/k (a U-statistic: correlated
 * terms, but never more variance than D/k independent slates).
 * slate_ts: one draw per slate.
 * Counts are exact integers per slate, so every position's column sums to 1 and the marginals to k.
 *
 * Exact instead when the candidates are exchangeable (`sampler.exchangeable`: every candidate has the
 * same score distribution, sd > 0, e.g. a cold catalogue at one prior): then both policies put every
 * candidate at every position with probability exactly 1/n. Proof: the k draws' joint law is invariant
 * under any relabelling π of the candidates, ties have probability 0, and both slates depend only on
 * the draws' rankings (in-slate TS's rank-major list only looks at ranks and at which items are
 * taken), so slate(π·X) = π(slate(X)) and P(i at j) = P(π(i) at j) for every π; the n values of
 * position j's column are equal and sum to 1. (Tested against brute-force simulation.)
 */
export function thompsonPropensities(
  sc: ScoredCandidates,
  sampler: ThompsonTopK,
  k: number,
  policy: 'in_slate_ts' | 'slate_ts',
  slates: number,
  rng: Rng,
  served?: Int32Array,
): SlatePropensities {
  const n = sc.n;
  if (sampler.exchangeable) return randomPropensities(sc, k); // the uniform policy's: 1/n everywhere
  const stream = new NormalStream(rng);
  // rowOf[c] is c's row when rowStamp[c] === gen (scratch arrays: no allocation, no clearing).
  const rowStamp = scratchInt32('propensity.rowStamp', n);
  const rowOf = scratchInt32('propensity.rowOf', n);
  const gen = nextStamp();
  const items: number[] = [];
  let counts = new Float64Array(16 * k);
  const add = (c: number, j: number): void => {
    let r = rowStamp[c] === gen ? rowOf[c] : -1;
    if (r < 0) {
      r = items.length;
      rowStamp[c] = gen;
      rowOf[c] = r;
      items.push(c);
      if ((r + 1) * k > counts.length) {
        const grown = new Float64Array(counts.length * 2);
        grown.set(counts);
        counts = grown;
      }
    }
    counts[r * k + j] += 1;
  };

  if (policy === 'slate_ts') {
    const top = new Int32Array(k);
    const val = new Float64Array(k);
    for (let s = 0; s < slates; s++) {
      sampler.draw(stream, top, val, 0);
      for (let j = 0; j < k; j++) add(top[j], j);
    }
  } else {
    const D = Math.max(slates, k);
    const tops = new Int32Array(D * k);
    const vals = new Float64Array(D * k);
    for (let d = 0; d < D; d++) sampler.draw(stream, tops, vals, d * k);
    const mark = scratchInt32('inslate.mark', n);
    const draws = new Int32Array(k);
    const slate = new Int32Array(k);
    for (let s = 0; s < slates; s++) {
      for (let t = 0; t < k; t++) draws[t] = (s + t) % D;
      assembleInSlate(tops, null, draws, k, mark, nextStamp(), slate, null);
      for (let j = 0; j < k; j++) add(slate[j], j);
    }
  }
  let total = slates;
  if (served) {
    for (let j = 0; j < k; j++) add(served[j], j);
    total += 1;
  }
  const rows = items.length;
  const p = new Float64Array(rows * k);
  for (let i = 0; i < rows * k; i++) p[i] = counts[i] / total;
  return makePropensities({
    k,
    kind: 'monte_carlo',
    simulatedSlates: total,
    candidates: sc.rows,
    items: Int32Array.from(items, (c) => sc.rows[c]),
    p,
    otherProbability: new Float64Array(k),
    otherCount: n - rows,
  });
}
