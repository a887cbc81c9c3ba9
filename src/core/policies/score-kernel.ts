import type { ServingSnapshot } from '../model/serving-snapshot';
import { withSd, type ScoredCandidates } from './policy-types';
import { scoreMomentsJs } from './score-moments';
import { scoreMomentsWasm } from './score-moments.wasm';

/**
 * The scorer serving uses: the WebAssembly SIMD kernel when the runtime has it (Node ≥ 16 does),
 * else the unrolled JS kernel. Both are tested against `scoreMomentsReference`.
 * `inPlace`: see `scoreMomentsWasm` (serving passes true; the arrays are then only valid until the
 * next call for the same snapshot).
 */
export function scoreCandidates(
  snapshot: ServingSnapshot,
  x: ArrayLike<number>,
  rows: Int32Array,
  inPlace = false,
): ScoredCandidates {
  return scoreMomentsWasm(snapshot, x, rows, inPlace) ?? withSd(scoreMomentsJs(snapshot, x, rows));
}
