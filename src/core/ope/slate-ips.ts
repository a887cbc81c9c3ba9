import { weightedSlotSums } from './ipw';
import type { SlotLog } from './slot-log';
import type { EstimatorTerms } from './terms';

/**
 * Slate estimators (McInerney et al. 2020; Li et al. 2018; as in OBP's estimators_slate.py), reported
 * per observed slot (OBP's per-slate value divided by the slate length) so that every estimator is on
 * the CTR scale of the per-position ones and of the on-policy truth.
 */

/**
 * Standard slate IPS: every slot of slate s gets the whole-slate weight W_s = π(slate) / μ(slate).
 * Unbiased for any reward structure; its variance grows with the number of possible slates.
 * `cascade` comes from `cascadeWeights`; the slate weight is the cascade weight of its last slot.
 */
export function sipsTerms(log: SlotLog, cascade: Float64Array, exact: boolean): EstimatorTerms {
  const num = new Float64Array(log.nSlates);
  const den = new Float64Array(log.nSlates);
  const weights = new Float64Array(log.nSlates);
  for (let s = 0; s < log.nSlates; s++) {
    const a = log.slateStart[s];
    const b = log.slateStart[s + 1];
    const W = cascade[b - 1];
    let r = 0;
    for (let i = a; i < b; i++) r += log.reward[i];
    num[s] = W * r;
    den[s] = b - a;
    weights[s] = W;
  }
  return {
    name: 'sips',
    num,
    den,
    weights,
    exact,
    note: exact
      ? 'no reward assumption; slate propensities exact'
      : 'slate propensity of the log approximated by the product of marginals',
  };
}

/**
 * Independent IPS: slot weight π(a at k)/μ(a at k); unbiased under the item-position click model
 * (a slot's reward depends only on its own item and position). Identical to per-position IPS.
 */
export function iipsTerms(log: SlotLog, w: Float64Array): EstimatorTerms {
  return {
    name: 'iips',
    ...weightedSlotSums(log, w),
    weights: w,
    exact: true,
    note: 'assumes the item-position click model',
  };
}

/**
 * Reward-interaction IPS: slot k weighted by π(slots 1..k) / μ(slots 1..k); unbiased under the cascade
 * model (a slot's reward depends on the items above it, not below).
 */
export function ripsTerms(log: SlotLog, cascade: Float64Array, exact: boolean): EstimatorTerms {
  return {
    name: 'rips',
    ...weightedSlotSums(log, cascade),
    weights: cascade,
    exact,
    note: exact
      ? 'assumes the cascade click model'
      : 'cascade model; prefix propensities approximated by products of marginals',
  };
}
