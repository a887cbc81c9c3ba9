import type { NormalStream } from '../random';
import { normalSf } from './internal/gaussian';
import { nextStamp, scratchFloat64, scratchInt32 } from './internal/scratch';
import { candidateItems, type InSlateDraws, type ScoredCandidates, type SlateDraw } from './policy-types';
import { makePropensities, type SlatePropensities } from './slate-propensities';
import { assembleInSlate, lazyDraws, oneDrawRanks, type LazyDraws } from './thompson-policies';
import type { ThompsonTopK } from './thompson-sampler';

/**
 * The served items' propensities under in-slate Thompson sampling by conditional Monte Carlo
 * (Rao–Blackwellisation): for each simulated slate and each served item i, the probability that i lands
 * at each position *given every other candidate's sampled scores* X₋ᵢ, computed exactly over i's own
 * scores, instead of the 0 or 1 of where i happened to land. E[P(i at j | X₋ᵢ)] = P(i at j), so the
 * average over the simulated slates is unbiased, and (Rao–Blackwell) its variance is never larger than
 * the count's. docs/serving.md has the measured errors; in short, 64 slates this way err less than 256
 * counted ones, at about the same cost, and a small propensity gets a smooth estimate instead of 0 or
 * 1/(S + 1). The served slate's own draws are one more of the slates (below).
 *
 * Why it is exact. Scores are independent across candidates and draws, and i's score in draw d is
 * N(mᵢ, sdᵢ²). Given X₋ᵢ, let o(d, r) be the r-th best score of the *other* candidates in draw d (0-based)
 * and F(d, r) = P(xᵢ > o(d, r)) = Q((o(d, r) − mᵢ)/sdᵢ): i's rank in draw d is r with probability
 * F(d, r) − F(d, r − 1) (F(d, −1) = 0), independently across draws. The slate reads the rank-major list
 * top-1 of draw 1, …, top-1 of draw k, top-2 of draw 1, … and skips repeats. Let (r, d) be the first
 * entry of that list that is i. Every entry before it is another candidate's, and unshifted by i (i ranks
 * ≥ r in every draw, > r in the draws before d), so i's position is the number of distinct others in the
 * others' own rank-major list before (r, d): a function of X₋ᵢ alone, found by walking that list. And
 *   P(i first at (r, d) | X₋ᵢ) = (F(d, r) − F(d, r − 1)) · Π_{d′ < d} (1 − F(d′, r)) · Π_{d′ > d} (1 − F(d′, r − 1)).
 * The walk ends when the others alone fill the slate. It reads o(d, r) for r ≤ k − 2 only: the sampler
 * draws a draw's top k, so the others' (k − 1)-th is unknown when i is among them. A slate whose others
 * do not fill it within ranks 0 … k − 2 (an event of X₋ᵢ alone, so the mixture stays unbiased; it needs
 * draws that nearly agree, as with tight posteriors) counts where i actually landed instead.
 *
 * The served slate's own draws are one more window (`servedDraws`; weight `SERVED_WINDOW_WEIGHT` = 1 against a
 * simulated slate's): p̂ = (Σ_s q_s + q*)/(S + 1), q* = P(i at j | X₋ᵢ of the served draws). Why. The simulated
 * slates alone are independent of the served one, so their average c̄ is unbiased given that the pair was served;
 * but its law is skewed where i's own posterior is narrow: given X₋ᵢ, i's position is then nearly decided, q is
 * ≈ 0 in most slates and large in a few, and S slates can miss the few. On a learned catalogue one served pair in
 * 600 came out at 1/400,000 of its truth at S = 64 (bench:propensities): an IPS weight as much too large, and the
 * mean of p/p̂ over served pairs, by which IPS is inflated, at 693. The served draws are exactly a configuration
 * that put i at j, so there q* is large where it matters: with them that mean is 1.02 and p̂/p's 1% quantile 0.63
 * (docs/serving.md). The served slate is a sample of the policy like the simulated ones, so p̂ is unbiased over
 * the policy's randomness; given the pair was served, E[q* | served] = E[q²]/p, a lift of p·CV²(q)/(S + 1): small
 * where q is smooth (wide posteriors, cold items: where a fixed mixture weight would swamp their small p) and up
 * to the counting estimator's (1 − p)/(S + 1) where q is ≈ an indicator (the narrow posteriors above, whose weight
 * it thereby bounds). Only if p̂ comes out 0 (Q underflowing far in the tail) does it get 1/(S + 1): a logged
 * propensity is never 0. Without `servedDraws` (measurements) the simulated slates alone.
 *
 * Only what serving reads is computed: each served item's probability at its own position, and in the slate.
 * The latter needs no walk of i's own: i is in the slate unless it first enters after the others fill it, at
 * (rank r*, draw d*), so P(in | X₋ᵢ) = 1 − Π_{d ≤ d*} (1 − F(d, r*)) · Π_{d > d*} (1 − F(d, r* − 1)). The
 * result's rows hold those two numbers (the row's own position, and `marginal`); its other positions read 0.
 *
 * The draws and windows are those of `thompsonPropensities` (D = max(S, k) lazy draws, slate s from
 * draws s … s + k − 1 mod D); ranks past a draw's known ones are completed when the walk first reads
 * them. Deterministic given the stream. Cost: k walks a slate, usually of one or two ranks (k steps
 * each); the tail probabilities of a draw's first ranks are cached (each draw is in k slates).
 * Requires k ≥ 2 (with k = 1 the others' best is unknown whenever i is a draw's best).
 */
export function conditionalServedPropensities(
  sc: ScoredCandidates,
  sampler: ThompsonTopK,
  k: number,
  slates: number,
  stream: NormalStream,
  served: Int32Array,
  servedDraws?: InSlateDraws,
  servedWeight = servedDraws ? SERVED_WINDOW_WEIGHT : 0,
): SlatePropensities {
  if (k < 2) throw new RangeError('conditional propensities need k ≥ 2');
  const at = scratchFloat64('conditional.at', k).fill(0, 0, k); // Σ P(served item ρ at position ρ)
  const inSlate = scratchFloat64('conditional.inSlate', k).fill(0, 0, k); // Σ P(served item ρ in the slate)
  const D = Math.max(slates, k);
  const tops = scratchInt32('propensity.tops', D * k);
  const vals = scratchFloat64('propensity.vals', D * k);
  const lazy = lazyDraws(sampler, stream, D, k, tops, vals, 'propensity.known');
  walkSlates(sc, k, slates, D, tops, vals, lazy, served, at, inSlate);
  let w = 0;
  if (servedDraws && servedWeight > 0) {
    // The served slate's own draws as one more (weighted) window: D = k draws, one window.
    const atServed = scratchFloat64('conditional.atServed', k).fill(0, 0, k);
    const inServed = scratchFloat64('conditional.inServed', k).fill(0, 0, k);
    walkSlates(sc, k, 1, k, servedDraws.tops, servedDraws.vals, servedDraws, served, atServed, inServed);
    w = servedWeight;
    for (let j = 0; j < k; j++) {
      at[j] += w * atServed[j];
      inSlate[j] += w * inServed[j];
    }
  }
  return servedResult(sc, k, served, slates, w, at, inSlate);
}

/**
 * The served items' rows from the sums of their conditional probabilities over `slates` simulated slates and the
 * served one at weight w: each item's own position and its in-slate probability (its other positions read 0).
 * Only a p̂ of exactly 0 (a normal tail underflowing) becomes 1/(S + 1): a logged propensity is never 0.
 */
function servedResult(
  sc: ScoredCandidates,
  k: number,
  served: Int32Array,
  slates: number,
  w: number,
  at: Float64Array,
  inSlate: Float64Array,
): SlatePropensities {
  const total = slates + w;
  const p = new Float64Array(k * k);
  const marginal = new Float64Array(k);
  const itemOf = new Int32Array(k);
  const floor = 1 / (slates + 1);
  for (let j = 0; j < k; j++) {
    itemOf[j] = sc.rows[served[j]];
    // Sums of probabilities, each ≤ 1, can round a hair above it: clamped, as every logged probability is ≤ 1.
    const pj = Math.min(1, at[j] / total);
    p[j * k + j] = pj > 0 ? pj : floor;
    marginal[j] = Math.min(1, Math.max(inSlate[j] / total, p[j * k + j]));
  }
  return makePropensities({
    k,
    kind: 'monte_carlo',
    simulatedSlates: slates,
    candidates: candidateItems(sc),
    items: itemOf,
    p,
    marginal,
    otherProbability: new Float64Array(k),
    otherCount: sc.n - k,
  });
}

/**
 * The served slate's own window's weight against one simulated slate's (see `conditionalServedPropensities`): 1,
 * one more sample. bench:propensities compares 0, 1/16 and 4.
 */
export const SERVED_WINDOW_WEIGHT = 1;

/** P(X > o) for X ~ N(m, s²) (s = 0: a point mass at m). */
function above(o: number, m: number, s: number): number {
  return s > 0 ? normalSf((o - m) / s) : o < m ? 1 : 0;
}

/**
 * Entries (a draw's k served items × k − 1 ranks each) up to which the tail-probability cache has a slot per draw:
 * 4096 draws at k = 12, ≈ 6.5 MB of scratch whatever k (it is kept for the thread's life).
 */
const SLOT_PER_DRAW_ENTRIES = 4096 * 12 * 11;

function walkSlates(
  sc: ScoredCandidates,
  k: number,
  slates: number,
  D: number,
  tops: Int32Array,
  vals: Float64Array,
  lazy: LazyDraws,
  served: Int32Array,
  at: Float64Array,
  inSlate: Float64Array,
): void {
  const n = sc.n;
  const { mean, sd } = sc;
  const known = lazy.known;
  // F(d, ρ, r) and the others' entry (r, d) for served item ρ and every rank r a walk reads, NaN until computed: a slot per draw up
  // to SLOT_PER_DRAW_ENTRIES entries; past that a ring of 2k slots (slot d mod 2k: a draw is in the k windows from its own
  // back), so the cache does not grow with S. A window's draws are k consecutive ones, so their slots differ,
  // except in the k − 1 windows that wrap around D, which then compute without the cache.
  const R = k - 1; // every rank a walk reads (0 … k − 2)
  const M = D * k * R <= SLOT_PER_DRAW_ENTRIES ? D : 2 * k;
  const cacheF = scratchFloat64('conditional.F', M * k * R); // a slot is reset when a draw takes it (below)
  const cacheItem = scratchInt32('conditional.item', M * k * R);
  const slotDraw = scratchInt32('conditional.slotDraw', M).fill(-1, 0, M);
  const winDraw = scratchInt32('conditional.window', k);
  const seen = scratchInt32('conditional.seen', n); // stamps: a walk's distinct others
  const slate = new Int32Array(k);
  // The window's own rank-major walk over every candidate, up to where it fills the slate (or rank k − 2): its
  // steps' draw slot, rank and distinct entries before. For a served item the walk never visits, the others'
  // walk is exactly this one (the item ranks below every visited entry of every draw), so its pass needs no
  // dedupe and no search of its own: only its tail probabilities.
  const stepBefore = scratchInt32('conditional.stepBefore', k * k); // step i = rank ⌊i/k⌋, slot i mod k
  const newAt = scratchInt32('conditional.newAt', k); // the step of the window walk's (j + 1)-th distinct entry
  const ownF = scratchFloat64('conditional.ownF', k * k); // c's tail probability at each step of its walk
  const ownNewAt = scratchInt32('conditional.ownNewAt', k); // as newAt, for that walk
  const slotBase = scratchInt32('conditional.slotBase', k); // a window draw's first cache entry
  const visited = scratchInt32('conditional.visited', n); // stamps: the window walk's entries
  // F(d_t, r) of the window's own walk (c below every visited entry), cached when the window is.
  const sharedF = (t: number, r: number, rho: number, m: number, sdc: number, cached: boolean): number => {
    if (cached) {
      const a = slotBase[t] + rho * R + r;
      let f = cacheF[a];
      if (f !== f) {
        const d = winDraw[t];
        f = above(vals[d * k + r], m, sdc);
        cacheF[a] = f;
        cacheItem[a] = tops[d * k + r];
      }
      return f;
    }
    return above(vals[winDraw[t] * k + r], m, sdc);
  };
  for (let s = 0; s < slates; s++) {
    const cached = M === D || s % D <= D - k; // k distinct slots
    for (let t = 0, d = s % D; t < k; t++, d = d + 1 === D ? 0 : d + 1) {
      winDraw[t] = d;
      if (!cached) continue;
      const slot = d % M;
      slotBase[t] = slot * k * R;
      if (slotDraw[slot] !== d) {
        slotDraw[slot] = d;
        cacheF.fill(NaN, slot * k * R, (slot + 1) * k * R);
      }
    }
    const win = nextStamp();
    let steps = 0;
    let winFilled = 0;
    for (let r = 0; r <= k - 2 && winFilled < k; r++)
      for (let t = 0; t < k; t++) {
        const d = winDraw[t];
        if (known[d] <= r) lazy.extend(d);
        const e = tops[d * k + r];
        if (visited[e] !== win) {
          visited[e] = win;
          newAt[winFilled] = steps;
          stepBefore[steps++] = winFilled;
          if (++winFilled === k) break;
        } else stepBefore[steps++] = winFilled;
      }
    let assembled = false;
    for (let rho = 0; rho < k; rho++) {
      const c = served[rho];
      const m = mean[c];
      const sdc = sd[c];
      let filled = 0;
      if (visited[c] !== win) {
        // The shared walk: c is below every entry it visits, so the others' walk is the window's (o(d, r) the
        // draw's own r-th score): only c's tail probabilities at its steps.
        if (winFilled === k) {
          for (let i = 0, r = 0, t = 0; i < steps; i++, t++) {
            if (t === k) {
              t = 0;
              r++;
            }
            ownF[i] = sharedF(t, r, rho, m, sdc, cached);
          }
          servedNumbers(ownF, steps, newAt, rho, k, at, inSlate);
          continue;
        }
        filled = winFilled; // < k: the fallback below
      } else {
        // c is one of the window walk's entries: the others' walk is its own (the draw's (r + 1)-th where c is
        // above rank r), walked here through the same cache.
        const stamp = nextStamp();
        let ownSteps = 0;
        for (let r = 0; r <= k - 2 && filled < k; r++)
          for (let t = 0; t < k; t++) {
            const d = winDraw[t];
            let f: number;
            let e: number;
            const a = slotBase[t] + rho * R + r;
            if (cached && cacheF[a] === cacheF[a]) {
              f = cacheF[a];
              e = cacheItem[a];
            } else {
              if (known[d] <= r) lazy.extend(d);
              const o = d * k;
              let q = r;
              for (let x = 0; x <= r; x++)
                if (tops[o + x] === c) {
                  q = r + 1; // within the draw's k, since r ≤ k − 2
                  if (known[d] <= q) lazy.extend(d);
                  break;
                }
              e = tops[o + q];
              f = above(vals[o + q], m, sdc);
              if (cached) {
                cacheF[a] = f;
                cacheItem[a] = e;
              }
            }
            ownF[ownSteps] = f;
            if (seen[e] !== stamp) {
              seen[e] = stamp;
              ownNewAt[filled] = ownSteps++;
              if (++filled === k) break;
            } else ownSteps++;
          }
        if (filled === k) {
          servedNumbers(ownF, ownSteps, ownNewAt, rho, k, at, inSlate);
          continue;
        }
      }
      // The others do not fill the slate within ranks 0 … k − 2: count where c landed in this window's slate.
      if (!assembled) {
        assembleInSlate(tops, null, s % D, D, k, n, slate, null, lazy);
        assembled = true;
      }
      if (slate[rho] === c) at[rho] += 1;
      for (let j = 0; j < k; j++) if (slate[j] === c) inSlate[rho] += 1;
    }
  }
}

/**
 * The two numbers serving reads, for served item ρ, from a walk of the others' list that filled the slate in
 * `nSteps` steps (step i = rank ⌊i/k⌋, slot i mod k; F[i] = c's tail probability there; `newAtOf[j]`: the step of
 * the walk's (j + 1)-th distinct entry), added to at[ρ] and inSlate[ρ].
 * c is in the slate unless it first enters after the fill step (rank rLast, slot tFill):
 *   P(in) = 1 − Π_t (1 − F(t, r*_t)), r*_t = rLast up to tFill and rLast − 1 after it,
 * summed as Σ_t F(t, r*_t) · Π_{t′<t} (1 − F(t′, r*_t′)) so that a small one keeps its precision. And c is at
 * position ρ when it first enters at a step with ρ distinct others before it (after the ρ-th distinct entry, up
 * to the (ρ + 1)-th; usually one step), each with P(first at (r, t)) from the formula at the top of the file.
 */
function servedNumbers(
  F: Float64Array,
  nSteps: number,
  newAtOf: Int32Array,
  rho: number,
  k: number,
  at: Float64Array,
  inSlate: Float64Array,
): void {
  const rLast = ((nSteps - 1) / k) | 0;
  const tFill = nSteps - 1 - rLast * k;
  let none = 1;
  let some = 0;
  for (let t = 0; t < k; t++) {
    const r = t <= tFill ? rLast : rLast - 1;
    if (r < 0) continue;
    const f = F[r * k + t];
    some += f * none;
    none *= 1 - f;
  }
  let here = 0;
  for (let i = rho === 0 ? 0 : newAtOf[rho - 1] + 1; i <= newAtOf[rho]; i++) {
    const r = (i / k) | 0;
    const t = i - r * k;
    let term = F[i] - (r > 0 ? F[i - k] : 0);
    for (let u = 0; u < t; u++) term *= 1 - F[r * k + u];
    if (r > 0) for (let u = t + 1; u < k; u++) term *= 1 - F[(r - 1) * k + u];
    here += term;
  }
  at[rho] += here;
  inSlate[rho] += some;
}

/**
 * The served items' propensities under slate Thompson sampling (one posterior draw, its top k in order), and so
 * under in-slate TS of one item (the same policy), by conditional Monte Carlo as above. One draw decides the
 * slate, so no walk: given X₋ᵢ, i is at position j exactly when j others score above it, and in the slate when
 * fewer than k do:
 *   P(i at j | X₋ᵢ) = P(o(j) < xᵢ < o(j − 1)),   P(i in | X₋ᵢ) = P(xᵢ > o(k − 1)),
 * o(r) the others' r-th best score (0-based, o(−1) = +∞, o(r) = −∞ past the n − 1 others). When i is among a
 * draw's best, o(k − 1) is the draw's (k + 1)-th, so each draw needs its top min(k + 1, n): `sampler` must draw that
 * many (`sampler.k`; `selectSlateTs` with such a sampler serves its top k). Then nothing is unknown and nothing falls
 * back to counting: three normal tails a served item a draw (two when it is first).
 *
 * The served slate's own draw (`servedDraw`) is one more sample at weight `servedWeight`, for the reason given for
 * in_slate_ts above: unbiased over the policy's randomness, and a narrow posterior's estimate cannot collapse far
 * below the truth (the simulated draws alone would put it at ≈ 0 in most of them). Only a p̂ of 0 (a tail underflowing)
 * becomes 1/(S + 1). Deterministic given the stream.
 */
export function conditionalSlateTsPropensities(
  sc: ScoredCandidates,
  sampler: ThompsonTopK,
  k: number,
  slates: number,
  stream: NormalStream,
  served: Int32Array,
  servedDraw?: SlateDraw,
  servedWeight = servedDraw ? SERVED_WINDOW_WEIGHT : 0,
): SlatePropensities {
  const n = sc.n;
  const kd = sampler.k;
  if (kd < oneDrawRanks(k, n) || kd > n)
    throw new RangeError(
      `slate_ts conditional propensities need a sampler of min(k + 1, n) = ${oneDrawRanks(k, n)} ranks, got ${kd}`,
    );
  const at = new Float64Array(k); // Σ P(served item ρ at position ρ)
  const inSlate = new Float64Array(k); // Σ P(served item ρ in the slate)
  const { mean, sd } = sc;
  // Add weight w times the two numbers of each served item, given the others' scores in one draw.
  const add = (tops: Int32Array, vals: Float64Array, w: number): void => {
    for (let rho = 0; rho < k; rho++) {
      const c = served[rho];
      let q = -1; // c's rank in the draw, −1 below its known ranks
      for (let r = 0; r < kd; r++)
        if (tops[r] === c) {
          q = r;
          break;
        }
      // The others' r-th best is the draw's r-th, or its (r + 1)-th from c's rank on; −∞ past the n − 1 others.
      // Every r ≤ k − 1 read here is known: kd ≥ k + 1, or kd = n.
      const m = mean[c];
      const s = sd[c];
      const xLo = q >= 0 && rho >= q ? rho + 1 : rho;
      const xHi = q >= 0 && rho - 1 >= q ? rho : rho - 1;
      const xIn = q >= 0 && k - 1 >= q ? k : k - 1;
      const lo = xLo < kd ? vals[xLo] : -Infinity;
      const hi = rho === 0 ? Infinity : xHi < kd ? vals[xHi] : -Infinity;
      at[rho] += w * between(lo, hi, m, s);
      inSlate[rho] += w * above(xIn < kd ? vals[xIn] : -Infinity, m, s);
    }
  };
  const tops = scratchInt32('slatets.tops', kd);
  const vals = scratchFloat64('slatets.vals', kd);
  for (let s = 0; s < slates; s++) {
    sampler.draw(stream, tops, vals, 0);
    add(tops, vals, 1);
  }
  let w = 0;
  if (servedDraw && servedWeight > 0) {
    w = servedWeight;
    add(servedDraw.tops, servedDraw.vals, w);
  }
  return servedResult(sc, k, served, slates, w, at, inSlate);
}

/**
 * P(lo < X < hi) for X ~ N(m, s²) (s = 0: a point mass at m), as a difference of the two tails on the side where
 * both are small, so that a small probability keeps its relative precision.
 */
function between(lo: number, hi: number, m: number, s: number): number {
  if (!(s > 0)) return lo < m && m < hi ? 1 : 0;
  const a = (lo - m) / s;
  const b = (hi - m) / s;
  let v: number;
  if (a >= 0) v = normalSf(a) - normalSf(b);
  else if (b <= 0) v = normalSf(-b) - normalSf(-a);
  else v = 1 - normalSf(-a) - normalSf(b);
  return v > 0 ? v : 0;
}
