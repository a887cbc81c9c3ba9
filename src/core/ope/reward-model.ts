import type { SlotLog } from './slot-log';

/**
 * A reward model q̂(item, position) for the direct method and doubly robust, one table per fold.
 * Predictions for a slate in fold f come from the table fitted on the *other* folds (cross-fitting,
 * as in Chernozhukov et al.'s double ML and OBP's `n_folds`), so DR's correction term is not fitted
 * on the very rows it corrects. folds = 1 fits and predicts in-sample.
 */
export interface RewardTable {
  readonly folds: number;
  readonly nItems: number;
  readonly slateSize: number;
  /** q[(f * nItems + item) * slateSize + position]. */
  readonly q: Float64Array;
}

export interface RewardModelOptions {
  /** Number of cross-fitting folds (slate s is in fold s mod folds). Default 2. */
  folds?: number;
  /** Pseudo-count of the shrinkage towards the position's mean reward. Default 100. */
  priorStrength?: number;
}

export function foldOf(slate: number, folds: number): number {
  return slate % folds;
}

/**
 * Per (item, position) mean reward shrunk towards the position mean:
 *   q̂(a, k) = (clicks(a,k) + s · r̄_k) / (shows(a,k) + s).
 * Why shrink: OBD shows each (item, position) ~100 times at a 0.5 % CTR, so raw means are mostly 0
 * or 1/100; the pseudo-count s keeps unseen pairs at the position's CTR instead of 0.
 * Context-free on purpose: OBD's user features barely predict clicks at this sample size, and a
 * context-free q̂ is enough to show what DM's bias and DR's correction do.
 */
export function fitItemPositionCtr(log: SlotLog, opts: RewardModelOptions = {}): RewardTable {
  const folds = opts.folds ?? 2;
  const strength = opts.priorStrength ?? 100;
  if (!(Number.isInteger(folds) && folds >= 1))
    throw new RangeError(`fitItemPositionCtr: folds must be an integer ≥ 1, got ${folds}`);
  if (!(strength >= 0))
    throw new RangeError(`fitItemPositionCtr: priorStrength must be ≥ 0, got ${strength}`);
  const { nItems: m, slateSize: L } = log;
  const clicks = new Float64Array(folds * m * L);
  const shows = new Float64Array(folds * m * L);
  for (let s = 0; s < log.nSlates; s++) {
    const f = foldOf(s, folds);
    for (let i = log.slateStart[s]; i < log.slateStart[s + 1]; i++) {
      const j = (f * m + log.item[i]) * L + log.position[i];
      clicks[j] += log.reward[i];
      shows[j] += 1;
    }
  }
  const q = new Float64Array(folds * m * L);
  for (let f = 0; f < folds; f++) {
    // Training data for fold f: every other fold, or all of it when folds = 1.
    const c = new Float64Array(m * L);
    const n = new Float64Array(m * L);
    for (let g = 0; g < folds; g++) {
      if (folds > 1 && g === f) continue;
      for (let j = 0; j < m * L; j++) {
        c[j] += clicks[g * m * L + j];
        n[j] += shows[g * m * L + j];
      }
    }
    for (let k = 0; k < L; k++) {
      let ck = 0;
      let nk = 0;
      for (let a = 0; a < m; a++) {
        ck += c[a * L + k];
        nk += n[a * L + k];
      }
      const mean = nk > 0 ? ck / nk : 0;
      for (let a = 0; a < m; a++) {
        const denom = n[a * L + k] + strength;
        q[(f * m + a) * L + k] = denom > 0 ? (c[a * L + k] + strength * mean) / denom : mean;
      }
    }
  }
  return { folds, nItems: m, slateSize: L, q };
}
