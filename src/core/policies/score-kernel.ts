import type { ServingSnapshot } from '../model/serving-snapshot';
import { withSd, type ScoredCandidates } from './policy-types';
import type { ClassLayout } from './score-classes';
import { scoreMomentsJs } from './score-moments';
import { scoreMomentsWasm, type FusedScanSpec } from './score-moments.wasm';
import type { CandidateScan } from './thompson-sampler';

/**
 * The scorer serving uses: the WebAssembly SIMD kernel when the runtime has it (Node ≥ 16 does),
 * else the unrolled JS kernel. Both are tested against `scoreMomentsReference`.
 * `inPlace`: see `scoreMomentsWasm` (serving passes true; the arrays are then only valid until the
 * next call for the same snapshot). `scan`: also compute the Thompson sampler's scan in the same pass
 * (SIMD kernel with `inPlace` only; otherwise `scan` is absent from the result and the sampler does it).
 */
export function scoreCandidates(
  snapshot: ServingSnapshot,
  x: ArrayLike<number>,
  rows: Int32Array,
  inPlace = false,
  scan?: FusedScanSpec,
): ScoredCandidates & { scan?: CandidateScan } {
  return scoreMomentsWasm(snapshot, x, rows, inPlace, scan) ?? withSd(scoreMomentsJs(snapshot, x, rows));
}

/**
 * Score a class layout (score-classes.ts): the kernel scores the singles and one member per class, then
 * every member of a class gets that member's mean, variance and sd (bit-identical rows score
 * bit-identically anyway). `rows` of the result is the layout's order; `candidateSet` the ascending
 * candidates. With `scan`, the scan is over the scored entries (see `ThompsonTopK`'s `classes`).
 */
export function scoreClassLayout(
  snapshot: ServingSnapshot,
  x: ArrayLike<number>,
  layout: ClassLayout,
  candidateSet: Int32Array,
  scan?: FusedScanSpec,
): ScoredCandidates & { scan?: CandidateScan } {
  const n = layout.rows.length;
  const scored: ScoredCandidates & { scan?: CandidateScan } =
    scoreMomentsWasm(snapshot, x, layout.scoreRows, true, scan, n) ??
    withSd(scoreMomentsJs(snapshot, x, layout.scoreRows));
  let { mean, variance, sd } = scored;
  if (mean.length < n) {
    // The JS kernel's arrays have one entry per scored row: widen them.
    mean = widen(mean, n);
    variance = widen(variance, n);
    sd = widen(sd, n);
  }
  const { nSingles, start } = layout;
  // From the last class down: class g's members start at or after nSingles + g, so filling them never
  // overwrites a scored entry not yet read.
  for (let g = start.length - 2; g >= 0; g--) {
    const at = nSingles + g;
    const m = mean[at];
    const v = variance[at];
    const s = sd[at];
    mean.fill(m, start[g], start[g + 1]);
    variance.fill(v, start[g], start[g + 1]);
    sd.fill(s, start[g], start[g + 1]);
  }
  return {
    n,
    rows: layout.rows,
    mean,
    variance,
    sd,
    candidateSet,
    ...(scored.scan ? { scan: scored.scan } : {}),
  };
}

function widen(a: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n);
  out.set(a);
  return out;
}
