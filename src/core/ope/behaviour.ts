import type { SlotLog } from './slot-log';

/**
 * What we know about the *logging* policy beyond the per-slot marginal propensities, which decides
 * whether the slate estimators are exact:
 * - `uniform`: items drawn uniformly without replacement (OBD `random`). The joint probability of
 *   o observed slots is 1 / (m (m-1) … (m-o+1)) in closed form, and Γ = E[1_s 1_sᵀ] is known, so
 *   SIPS, RIPS and the pseudo-inverse are exact.
 * - `logged`: the log carries the cascade (prefix-joint) propensity of each slot (reco logs can).
 * - `independent`: only marginals are known (OBD `bts`); joints are approximated by the product of the
 *   marginals, i.e. as if positions were drawn independently. BTS draws a ranking, so this is an
 *   approximation; SIPS and RIPS are then biased and PI uses its factorised form Σ w_j − (o − 1).
 */
export type BehaviourModel = 'uniform' | 'logged' | 'independent';

/** `uniform` if every propensity is 1/m (relative tolerance), `logged` if cascades are present, else `independent`. */
export function detectBehaviour(log: SlotLog, relTol = 1e-6): BehaviourModel {
  const u = 1 / log.nItems;
  let uniform = log.nSlots > 0;
  for (let i = 0; i < log.nSlots && uniform; i++)
    if (Math.abs(log.pscore[i] - u) > relTol * u) uniform = false;
  if (uniform) return 'uniform';
  if (log.cascadePscore && log.cascadePscore.every((p) => p > 0 && p <= 1)) return 'logged';
  return 'independent';
}

/**
 * Behaviour's joint probability of the first `count` observed slots of slate s (slots a .. a+count-1):
 * the denominator of the cascade weight (count < size) or of the slate weight (count = size).
 */
export function behaviourPrefixJoint(
  log: SlotLog,
  model: BehaviourModel,
  slateFirst: number,
  count: number,
): number {
  switch (model) {
    case 'uniform': {
      let p = 1;
      for (let j = 0; j < count; j++) p /= log.nItems - j;
      return p;
    }
    case 'logged':
      return log.cascadePscore![slateFirst + count - 1];
    case 'independent': {
      let p = 1;
      for (let j = 0; j < count; j++) p *= log.pscore[slateFirst + j];
      return p;
    }
  }
}

/** Whether SIPS/RIPS/PI weights are exact under this behaviour model (for the report). */
export function slateWeightsExact(model: BehaviourModel): boolean {
  return model !== 'independent';
}
