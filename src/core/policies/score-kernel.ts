import type { ServingSnapshot } from '../model/serving-snapshot';
import { withSd, type ScoredCandidates } from './policy-types';
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
