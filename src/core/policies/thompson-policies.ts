import { NormalStream, type Rng } from '../random';
import { clearedInt32, scratchFloat64, scratchInt32, zeroedInt32, zeroedUint8 } from './internal/scratch';
import { randomPropensities } from './random-policy';
import { makePropensities, type PropensityClasses, type SlatePropensities } from './slate-propensities';
import {
  candidateItems,
  type InSlateDraws,
  type ScoredCandidates,
  type Selection,
  type SlateDraw,
} from './policy-types';
import { type ThompsonTopK } from './thompson-sampler';
import { conditionalServedPropensities, conditionalSlateTsPropensities } from './conditional-propensities';

/**
 * In-slate Thompson sampling (Eide, Leslie & Frigessi, FINN.no): k independent posterior draws, each
 * ranked; the slate is the first k distinct candidates of the priority list
 *   top-1 of draw 1, top-1 of draw 2, …, top-1 of draw k, top-2 of draw 1, …, top-2 of draw k, …
 * (their `recommend_inslate` flattens a [rank × draw] tensor and skips items already in the slate).
 * So slot j gets the top item of draw j while no two draws agree; a repeated top item falls through
 * to the next entry of that list. With k = 1 this is ordinary Thompson sampling.
 * The slate's k draws are first, first + 1, …, first + k − 1 (mod D) of D draws; draw d's top-k is
 * `tops[d·k + r]`, sample `vals[...]`; writes the slate to `outCand`/`outScore`.
 * Candidates are < n (a byte per candidate marks the slate's, cleared after). With `lazy`, draw d knows
 * only its first `lazy.known[d]` ranks, and `lazy.extend(d)` completes it (see `ThompsonTopK.drawTop`).
 */
export function assembleInSlate(
  tops: Int32Array,
  vals: Float64Array | null,
  first: number,
  D: number,
  k: number,
  n: number,
  outCand: Int32Array,
  outScore: Float64Array | null,
  lazy?: LazyDraws,
): void {
  const seen = zeroedUint8('inslate.seen', n); // a slate's dedupe: one byte read per entry
  let filled = 0;
  try {
    for (let r = 0; r < k && filled < k; r++) {
      for (let t = 0, d = first; t < k && filled < k; t++, d = d + 1 === D ? 0 : d + 1) {
        if (lazy && r >= lazy.known[d]) lazy.extend(d);
        const at = d * k + r;
        const c = tops[at];
        if (seen[c] !== 0) continue;
        seen[c] = 1;
        outCand[filled] = c;
        if (outScore && vals) outScore[filled] = vals[at];
        filled++;
      }
    }
    // The first draw alone holds k distinct candidates, so `filled` always reaches k.
  } finally {
    for (let i = 0; i < filled; i++) seen[outCand[i]] = 0;
  }
}

/** Draws whose ranks past `known[d]` are drawn when first read (see `assembleInSlate`). */
export interface LazyDraws {
  readonly known: Int32Array;
  extend(d: number): void;
}

/**
 * D posterior draws into tops/vals (k entries per draw), each knowing only its first ranks until a slate
 * reads further (`ThompsonTopK.drawTop`/`extendTop`: the same law as k full draws, far fewer proposals,
 * since in-slate slates mostly read a draw's first 2–4 ranks). The extensions use the same stream, in the
 * order the slates ask for them: deterministic given the seed.
 */
export function lazyDraws(
  sampler: ThompsonTopK,
  stream: NormalStream,
  D: number,
  k: number,
  tops: Int32Array,
  vals: Float64Array,
  tag: string,
): LazyDraws {
  const known = scratchInt32(tag, D); // every entry < D written here: only those are read
  for (let d = 0; d < D; d++) known[d] = sampler.drawTop(stream, tops, vals, d * k);
  return {
    known,
    extend(d: number): void {
      sampler.extendTop(stream, tops, vals, d * k, known[d]);
      known[d] = k;
    },
  };
}

/** Draw k posterior samples and serve the in-slate TS slate. */
export function selectInSlateTs(sampler: ThompsonTopK, k: number, rng: Rng): Selection {
  // Scratch (only read below, each entry after it is drawn): an array over 64 bytes is allocated outside V8's
  // heap, ≈ 1–2.5 µs each here.
  const tops = scratchInt32('inslate.tops', k * k);
  const vals = scratchFloat64('inslate.vals', k * k);
  const lazy = lazyDraws(sampler, new NormalStream(rng), k, k, tops, vals, 'inslate.known');
  const cand = new Int32Array(k);
  const score = new Float64Array(k);
  assembleInSlate(tops, vals, 0, k, k, sampler.n, cand, score, lazy);
  return { cand, score, draws: { tops, vals, known: lazy.known, extend: lazy.extend } };
}

/**
 * Slate TS: one posterior draw, its k best in order; the score is the sampled score. The sampler may draw more
 * ranks than k (`sampler.k`, min(k + 1, n) for the one-draw conditional propensities): the slate is the draw's first
 * k, and the whole draw is returned (`Selection.draw`).
 */
export function selectSlateTs(sampler: ThompsonTopK, k: number, rng: Rng): Selection {
  const kd = sampler.k;
  if (kd < k) throw new RangeError(`selectSlateTs: the sampler draws ${kd} ranks, fewer than k = ${k}`);
  const tops = new Int32Array(kd);
  const vals = new Float64Array(kd);
  sampler.draw(new NormalStream(rng), tops, vals, 0);
  return { cand: tops.subarray(0, k), score: vals.subarray(0, k), draw: { tops, vals } };
}

/**
 * True when a served slate of this policy and size gets the one-draw conditional propensities
 * (`conditionalSlateTsPropensities`): slate_ts, and in_slate_ts of one item (the same policy: one draw, its best).
 * Its sampler must then draw min(k + 1, n) ranks (`oneDrawRanks`).
 */
export function usesOneDrawConditional(policy: 'in_slate_ts' | 'slate_ts', k: number): boolean {
  return policy === 'slate_ts' || k === 1;
}

/** The ranks a draw needs for the one-draw conditional propensities of k items from n candidates. */
export function oneDrawRanks(k: number, n: number): number {
  return Math.min(k + 1, n);
}

/**
 * Served slates of in_slate_ts with 2 … `CONDITIONAL_MAX_K` items get conditional Monte Carlo propensities
 * (conditional-propensities.ts). Its cost grows as k² a simulated slate (k walks of ≈ k steps) against the
 * counts' k, so the default number of simulated slates falls with k (`conditionalSlates`), keeping the estimate's
 * cost near the counts' at 256 slates; past 32 items even 16 cost several times that (at 100 items 24 ms a slate
 * against the counts' 4 and the slate's own 2.3, bench:propensities), so larger slates count. At 13–32 items 32
 * or 16 conditional slates are still far more precise than 256 counted ones, whose upper tail is the served
 * slate's lift (docs/serving.md).
 */
export const CONDITIONAL_MAX_K = 32;
/** Default simulated slates (a policy's `propensitySlates` unset): for the conditional estimates up to 12 items, and for counts. */
export const CONDITIONAL_SLATES = 64;
export const COUNTED_SLATES = 256;

/**
 * The conditional estimate's default simulated slates for a served in_slate_ts slate of k items: 64 up to 12 items,
 * 32 up to 20, 16 up to `CONDITIONAL_MAX_K` (the schema's minimum).
 */
export function conditionalSlates(k: number): number {
  return k <= 12 ? CONDITIONAL_SLATES : k <= 20 ? 32 : 16;
}

/** True when a served in_slate_ts slate of this size gets the walk's conditional propensities. */
function usesInSlateConditional(policy: 'in_slate_ts' | 'slate_ts', k: number): boolean {
  return policy === 'in_slate_ts' && k >= 2 && k <= CONDITIONAL_MAX_K;
}

/**
 * Monte Carlo propensities of a Thompson policy from `slatesOrDefault` simulated slates (unset: 64 for the
 * conditional estimates below, 32 or 16 for in_slate_ts slates of 13–32 items, 256 for counts), plus the served one, when given, as one more sample (all S + 1
 * are iid draws of the policy, so the estimate stays
 * unbiased over the randomness and a served (item, position) never gets 0).
 *
 * in_slate_ts: D = max(slates, k) draws; simulated slate t uses draws t, t+1, …, t+k−1 (mod D). Each
 * slate is built from k distinct iid draws, so each is an exact sample of the policy and the average is
 * unbiased; overlapping slates make D draws give D slates instead of D/k (a U-statistic: correlated
 * terms, but never more variance than D/k independent slates).
 * slate_ts: one draw per slate.
 * Counts are exact integers per slate, so every position's column sums to 1 and the marginals to k.
 *
 * Pooled per exchangeability class (`options.pool`, default on; off only to measure what it buys).
 * Candidates with the same score distribution (bit-equal m and sd, sd > 0: e.g. cold items still at
 * their group's prior) are exchangeable: by the relabelling argument below, restricted to permutations π inside the
 * class, every member is at position j with the same probability, P(class at j)/|class|. So every
 * member gets Σ_{c ∈ class} count(c, j) / (|class| · total), members never produced included (a class
 * row in `SlatePropensities`): the average of |class| unbiased estimates of one value, hence unbiased,
 * with far less variance than one member's count (with S = 256 and 500 members a class, a raw count is
 * almost always 0, or ≥ 1/257 when served, against a true value ~P(class)/500). The class of a counted
 * candidate comes from `ThompsonTopK.classMembers` (exact (m, sd) equality within the candidate's U
 * bucket: no hash, no pass over n), a function of the request alone, so which members are pooled never
 * depends on the draws. A column's total over a class is unchanged (|class| × the pooled value = the
 * class's counts / total), so columns still sum to 1 and marginals to k; singletons (learned items)
 * keep their own counts.
 *
 * `options.servedOnly` (serving: only the served items' entries are read) counts only what those
 * entries need: a simulated (c, j) is tallied when c is served or in a served item's class (bit-equal
 * (m, sd), sd > 0, the same test as `classMembers`), into that served item's row. The served items'
 * values are the very numbers of the full matrix (the same integer counts, divided the same way), but
 * the result has explicit rows for the served items only: not a full matrix (no class rows, and every
 * other candidate reads 0).
 *
 * Serving in_slate_ts with 2 … 32 items (`servedOnly`, unless `options.conditional` is false) estimates the served
 * items' rows by conditional Monte Carlo instead (`conditionalServedPropensities`): from the same draws, each
 * simulated slate contributes the exact probability of each position given the other candidates' scores,
 * and so do the served slate's own draws (`options.servedDraws`, the selection's; `options.servedWeight` their
 * weight, for measurements). Far less variance than the counts at the same S; no longer the full matrix's numbers.
 * Serving slate_ts, and in_slate_ts of one item, does the same with one draw a slate
 * (`conditionalSlateTsPropensities`; the served draw `options.servedDraw`); `sampler` must then draw
 * min(k + 1, n) ranks (`oneDrawRanks`), and every other path needs exactly k.
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
  slatesOrDefault: number | undefined,
  rng: Rng,
  served?: Int32Array,
  options: {
    pool?: boolean;
    servedOnly?: boolean;
    conditional?: boolean;
    servedDraws?: InSlateDraws;
    servedDraw?: SlateDraw;
    servedWeight?: number;
  } = {},
): SlatePropensities {
  const pool = options.pool !== false;
  const n = sc.n;
  if (sampler.exchangeable) return randomPropensities(sc, k); // the uniform policy's: 1/n everywhere
  // A served slate's own propensities, unless counting is asked for: conditional where an estimator applies.
  const servedConditional =
    options.servedOnly === true && served !== undefined && options.conditional !== false;
  if (servedConditional && usesOneDrawConditional(policy, k))
    return conditionalSlateTsPropensities(
      sc,
      sampler,
      k,
      slatesOrDefault ?? CONDITIONAL_SLATES,
      new NormalStream(rng),
      served!,
      options.servedDraw,
      options.servedWeight,
    );
  if (sampler.k !== k)
    throw new RangeError(
      `thompsonPropensities: counting needs a sampler of k = ${k} ranks, got ${sampler.k}`,
    );
  const conditional = servedConditional && usesInSlateConditional(policy, k);
  // Unset (a policy's `propensitySlates` left out): the default of the estimator that applies.
  const slates = slatesOrDefault ?? (conditional ? conditionalSlates(k) : COUNTED_SLATES);
  if (conditional)
    return conditionalServedPropensities(
      sc,
      sampler,
      k,
      slates,
      new NormalStream(rng),
      served!,
      options.servedDraws,
      options.servedWeight,
    );
  if (options.servedOnly && served && pool) {
    return servedPropensities(sc, sampler, k, policy, slates, new NormalStream(rng), served);
  }
  const stream = new NormalStream(rng);
  // rowOf[c] = 1 + c's row of counts, else 0 (zeroed again below).
  const rowOf = zeroedInt32('propensity.rowOf', n);
  const items: number[] = [];
  let counts = new Float64Array(16 * k);
  const add = (c: number, j: number): void => {
    let r = rowOf[c] - 1;
    if (r < 0) {
      r = items.length;
      rowOf[c] = r + 1;
      items.push(c);
      if ((r + 1) * k > counts.length) {
        const grown = new Float64Array(counts.length * 2);
        grown.set(counts);
        counts = grown;
      }
    }
    counts[r * k + j] += 1;
  };

  try {
    simulateSlates(sampler, k, policy, slates, stream, n, add);
    if (served) for (let j = 0; j < k; j++) add(served[j], j);
  } finally {
    for (let r = 0; r < items.length; r++) rowOf[items[r]] = 0;
  }
  const total = served ? slates + 1 : slates;
  const rows = items.length;
  const p = new Float64Array(rows * k);
  const itemOf = new Int32Array(rows); // a loop: Int32Array.from(items, map) cost ~25% of this function
  for (let r = 0; r < rows; r++) itemOf[r] = sc.rows[items[r]];
  const result = (otherCount: number, classes?: PropensityClasses): SlatePropensities =>
    makePropensities({
      k,
      kind: 'monte_carlo',
      simulatedSlates: total,
      candidates: candidateItems(sc),
      items: itemOf,
      p,
      otherProbability: new Float64Array(k),
      otherCount,
      ...(classes ? { classes } : {}),
    });
  if (!pool) {
    for (let i = 0; i < rows * k; i++) p[i] = counts[i] / total;
    return result(n - rows);
  }
  // Pool each exchangeability class (see above). Only classes with a counted member are looked up (a
  // class never produced keeps 0 either way), through the sampler's buckets, never a hash over n; the
  // counted members of a class are found among the rows (a few hundred) by comparing their (m, sd),
  // copied here contiguously.
  const rowM = new Float64Array(rows);
  const rowSd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    rowM[r] = sc.mean[items[r]];
    rowSd[r] = sc.sd[items[r]];
  }
  const members = scratchInt32('propensity.classMembers', n);
  const listed = scratchInt32('propensity.classListed', n); // every member, class by class
  const done = new Uint8Array(rows); // row already pooled with an earlier one of its class
  const same = scratchInt32('propensity.classRows', rows); // rows of the current class
  const start: number[] = [0];
  const classP: number[] = [];
  const sum = new Float64Array(k);
  let nListed = 0;
  let withoutRow = 0;
  for (let r = 0; r < rows; r++) {
    if (done[r]) continue;
    const c = items[r];
    const size = sampler.classMembers(c, members);
    if (size <= 1) {
      for (let j = 0; j < k; j++) p[r * k + j] = counts[r * k + j] / total;
      continue;
    }
    const m = rowM[r];
    const s = rowSd[r];
    let nSame = 0;
    for (let r2 = r; r2 < rows; r2++) {
      if (rowM[r2] === m && rowSd[r2] === s) {
        done[r2] = 1;
        same[nSame++] = r2;
      }
    }
    sum.fill(0);
    for (let t = 0; t < nSame; t++) for (let j = 0, o = same[t] * k; j < k; j++) sum[j] += counts[o + j];
    for (let j = 0; j < k; j++) sum[j] /= size * total;
    for (let t = 0; t < nSame; t++) p.set(sum, same[t] * k);
    for (let j = 0; j < k; j++) classP.push(sum[j]);
    const candRows = sc.rows;
    for (let t = 0; t < size; t++) listed[nListed + t] = candRows[members[t]];
    nListed += size;
    withoutRow += size - nSame;
    start.push(nListed);
  }
  return result(
    n - rows - withoutRow,
    start.length > 1
      ? { start: Int32Array.from(start), members: listed.slice(0, nListed), p: Float64Array.from(classP) }
      : undefined,
  );
}

/**
 * The simulated slates of a Thompson policy, each (candidate, position) of each handed to `tally`
 * (in_slate_ts: D = max(slates, k) lazy draws, slate t from draws t … t+k−1 mod D; slate_ts: a draw
 * a slate). The stream is consumed the same way whatever `tally` does.
 */
function simulateSlates(
  sampler: ThompsonTopK,
  k: number,
  policy: 'in_slate_ts' | 'slate_ts',
  slates: number,
  stream: NormalStream,
  n: number,
  tally: (c: number, j: number) => void,
): void {
  if (policy === 'slate_ts') {
    const top = new Int32Array(k);
    const val = new Float64Array(k);
    for (let s = 0; s < slates; s++) {
      sampler.draw(stream, top, val, 0);
      for (let j = 0; j < k; j++) tally(top[j], j);
    }
    return;
  }
  const D = Math.max(slates, k);
  // Scratch (~30 KB a request at S = 256, k = 10, otherwise garbage): only read below.
  const tops = scratchInt32('propensity.tops', D * k);
  const vals = scratchFloat64('propensity.vals', D * k);
  const lazy = lazyDraws(sampler, stream, D, k, tops, vals, 'propensity.known');
  const slate = new Int32Array(k);
  for (let s = 0; s < slates; s++) {
    assembleInSlate(tops, null, s, D, k, n, slate, null, lazy); // draws s, s + 1, … (mod D)
    for (let j = 0; j < k; j++) tally(slate[j], j);
  }
}

/**
 * The counts of `simulateSlates` for in_slate_ts with `slates` ≥ k (so D = slates draws, and draw d is the
 * (j + 1)-th draw of exactly one slate, (d − j) mod D, for every position j), added into `counts[row·k + j]` for
 * the candidates `rowOf` gives a row (−1: not counted). The same integers, from the same draws in the same order:
 * - a slate whose k draws have k distinct top-1 items takes the top-1 of its (j + 1)-th draw at position j (the
 *   rank-major list's first pass fills it), so it is never assembled: a window over the top-1s of draws
 *   s … s + k − 1 (a count per candidate and the number of repeats in it) tells which slates have a repeat;
 * - those slates alone are assembled (in slate order, at their turn, so a draw's ranks past the first are
 *   completed exactly when and in the order `simulateSlates` completes them, and the stream is consumed the
 *   same way) and tallied as there;
 * - then every draw's top-1 is counted at position j for each slate without a repeat that reads it there: one
 *   `rowOf` per draw instead of one per (slate, position), and most top-1s have no row.
 * A learned catalogue serves mostly slates without repeats (a repeat needs two of k draws to agree on their
 * best item), where this replaced ≈ a quarter of the Monte Carlo's time (k lookups and an assembly a slate).
 */
function countInSlate(
  sampler: ThompsonTopK,
  k: number,
  slates: number,
  stream: NormalStream,
  n: number,
  rowOf: (c: number) => number,
  counts: Int32Array,
): void {
  const D = slates;
  const tops = scratchInt32('propensity.tops', D * k);
  const vals = scratchFloat64('propensity.vals', D * k);
  const lazy = lazyDraws(sampler, stream, D, k, tops, vals, 'propensity.known');
  const known = lazy.known;
  const slate = new Int32Array(k);
  const repeated = zeroedUint8('propensity.repeated', D); // slates with a repeat (cleared below)
  const inWindow = zeroedInt32('propensity.window', n); // the window's top-1 counts (cleared below)
  const entered = scratchInt32('propensity.entered', D + k); // every candidate counted into it, to clear
  let nEntered = 0;
  let repeats = 0; // Σ over candidates of (count in the window − 1)⁺
  // Draw d's top-1 comes into the window (its first rank completed first if the draw knows none, as the slate
  // reading it would); counts a repeat.
  const enter = (d: number): void => {
    if (known[d] === 0) lazy.extend(d);
    const c = tops[d * k];
    entered[nEntered++] = c;
    if (inWindow[c]++ > 0) repeats++;
  };
  try {
    for (let d = 0; d < k; d++) enter(d);
    for (let s = 0; s < slates; s++) {
      if (s > 0) {
        // Slide: draw s − 1 leaves, draw s + k − 1 (mod D) comes in.
        if (--inWindow[tops[(s - 1) * k]] > 0) repeats--;
        enter(s + k - 1 < D ? s + k - 1 : s + k - 1 - D);
      }
      if (repeats === 0) continue;
      repeated[s] = 1;
      assembleInSlate(tops, null, s, D, k, n, slate, null, lazy); // draws s, s + 1, … (mod D)
      for (let j = 0; j < k; j++) {
        const r = rowOf(slate[j]);
        if (r >= 0) counts[r * k + j] += 1;
      }
    }
    for (let d = 0; d < D; d++) {
      const r = rowOf(tops[d * k]);
      if (r < 0) continue;
      const o = r * k;
      for (let j = 0, s = d; j < k; j++, s = s === 0 ? D - 1 : s - 1)
        if (repeated[s] === 0) counts[o + j] += 1;
    }
  } finally {
    repeated.fill(0, 0, D);
    for (let t = 0; t < nEntered; t++) inWindow[entered[t]] = 0;
  }
}

/**
 * `thompsonPropensities` with `servedOnly` (see there): a k × k table of counts, row r for the served
 * item at position r or for the class it shares with an earlier served item. A candidate's row is
 * looked up the first time it is produced (at most one comparison per served class) and cached for the
 * request; a served item with sd 0 is its own class.
 */
function servedPropensities(
  sc: ScoredCandidates,
  sampler: ThompsonTopK,
  k: number,
  policy: 'in_slate_ts' | 'slate_ts',
  slates: number,
  stream: NormalStream,
  served: Int32Array,
): SlatePropensities {
  const n = sc.n;
  const { mean, sd } = sc;
  // Scratch where over 64 bytes (allocated outside V8's heap otherwise); each entry written before it is read.
  const rowOfServed = new Int32Array(k); // served position → its row
  const rowSize = scratchFloat64('propensity.rowSize', k); // a row's class size (1: its own counts)
  const keyM = scratchFloat64('propensity.keyM', k); // (m, sd) of the rows that are classes (sd > 0)
  const keySd = scratchFloat64('propensity.keySd', k);
  const keyRow = new Int32Array(k);
  let keys = 0;
  let rows = 0;
  // The row of the served class with score distribution (m, s), s > 0, or −1.
  const classRow = (m: number, s: number): number => {
    for (let q = 0; q < keys; q++) if (keyM[q] === m && keySd[q] === s) return keyRow[q];
    return -1;
  };
  // Cache: 0 unknown, 1 not tallied, r + 2 row r; cleared below.
  const target = zeroedInt32('propensity.target', n);
  const seen = scratchInt32('propensity.targetSeen', n);
  let nSeen = 0;
  try {
    for (let j = 0; j < k; j++) {
      const c = served[j];
      const m = mean[c];
      const s = sd[c];
      let r = s > 0 ? classRow(m, s) : -1;
      if (r < 0) {
        // The first served item of its class (or one with sd 0: its own class).
        r = rows++;
        rowSize[r] = s > 0 ? sampler.classMembers(c) : 1;
        if (s > 0) {
          keyM[keys] = m;
          keySd[keys] = s;
          keyRow[keys++] = r;
        }
      }
      rowOfServed[j] = r; // two served items of one class share its row
      target[c] = r + 2;
      seen[nSeen++] = c;
    }
    // Integer adds: a float add's latency chains on a hot cell.
    const counts = clearedInt32('propensity.counts', rows * k);
    // c's row of counts, or −1 (not tallied).
    const rowOf = (c: number): number => {
      let t = target[c];
      if (t === 0) {
        const s = sd[c];
        t = (s > 0 ? classRow(mean[c], s) : -1) + 2; // 1: not tallied
        target[c] = t;
        seen[nSeen++] = c;
      }
      return t - 2;
    };
    if (policy === 'in_slate_ts' && slates >= k) countInSlate(sampler, k, slates, stream, n, rowOf, counts);
    else
      simulateSlates(sampler, k, policy, slates, stream, n, (c, j) => {
        const r = rowOf(c);
        if (r >= 0) counts[r * k + j] += 1;
      });
    for (let j = 0; j < k; j++) counts[rowOfServed[j] * k + j] += 1; // the served slate: one more sample
    const total = slates + 1;
    const p = new Float64Array(k * k);
    const itemOf = new Int32Array(k);
    for (let j = 0; j < k; j++) {
      const r = rowOfServed[j];
      const size = rowSize[r];
      itemOf[j] = sc.rows[served[j]];
      // As the full matrix divides: a singleton's counts by total, a class's by size · total.
      for (let i = 0; i < k; i++)
        p[j * k + i] = size <= 1 ? counts[r * k + i] / total : counts[r * k + i] / (size * total);
    }
    return makePropensities({
      k,
      kind: 'monte_carlo',
      simulatedSlates: total,
      candidates: candidateItems(sc),
      items: itemOf,
      p,
      otherProbability: new Float64Array(k),
      otherCount: n - k,
    });
  } finally {
    for (let i = 0; i < nSeen; i++) target[seen[i]] = 0;
  }
}
