import type { ActionDistribution } from './action-distribution';
import { foldOf, type RewardTable } from './reward-model';
import type { SlotLog } from './slot-log';
import type { EstimatorTerms } from './terms';

/** Σ_a π(a at k | c) q̂_f(a, k) for every (fold, context, position): DM's prediction per slot. */
function expectedModelReward(dist: ActionDistribution, model: RewardTable): Float64Array {
  const { nItems: m, slateSize: L, nContexts: G } = dist;
  if (model.nItems !== m || model.slateSize !== L)
    throw new RangeError('reward model and action distribution disagree on nItems/slateSize');
  const out = new Float64Array(model.folds * G * L);
  for (let f = 0; f < model.folds; f++)
    for (let c = 0; c < G; c++)
      for (let k = 0; k < L; k++) {
        let v = 0;
        for (let a = 0; a < m; a++) v += dist.probs[(c * m + a) * L + k] * model.q[(f * m + a) * L + k];
        out[(f * G + c) * L + k] = v;
      }
  return out;
}

/**
 * Direct method: V̂ = (1/N) Σ_i Σ_a π(a at k_i | x_i) q̂(a, k_i). No weights, low variance, biased
 * exactly as much as q̂ is wrong.
 */
export function dmTerms(log: SlotLog, dist: ActionDistribution, model: RewardTable): EstimatorTerms {
  const table = expectedModelReward(dist, model);
  const G = dist.nContexts;
  const L = dist.slateSize;
  const num = new Float64Array(log.nSlates);
  const den = new Float64Array(log.nSlates);
  for (let s = 0; s < log.nSlates; s++) {
    const base = (foldOf(s, model.folds) * G + (G === 1 ? 0 : log.context[s])) * L;
    let n = 0;
    for (let i = log.slateStart[s]; i < log.slateStart[s + 1]; i++) n += table[base + log.position[i]];
    num[s] = n;
    den[s] = log.slateStart[s + 1] - log.slateStart[s];
  }
  return {
    name: 'dm',
    num,
    den,
    weights: new Float64Array(0),
    exact: false,
    note: 'biased by the reward model q̂(item, position); its interval ignores the refit of q̂',
  };
}

/**
 * Doubly robust (Dudík et al. 2011): DM plus the IPS-weighted residual,
 *   V̂ = (1/N) Σ_i [ Σ_a π(a at k_i) q̂(a, k_i) + w_i (r_i − q̂(a_i, k_i)) ].
 * Unbiased if either the weights or q̂ are right; here the weights are exact when the propensities are.
 */
export function drTerms(
  log: SlotLog,
  dist: ActionDistribution,
  model: RewardTable,
  w: Float64Array,
): EstimatorTerms {
  const table = expectedModelReward(dist, model);
  const G = dist.nContexts;
  const L = dist.slateSize;
  const m = dist.nItems;
  const num = new Float64Array(log.nSlates);
  const den = new Float64Array(log.nSlates);
  for (let s = 0; s < log.nSlates; s++) {
    const f = foldOf(s, model.folds);
    const base = (f * G + (G === 1 ? 0 : log.context[s])) * L;
    let n = 0;
    for (let i = log.slateStart[s]; i < log.slateStart[s + 1]; i++) {
      const k = log.position[i];
      const qhat = model.q[(f * m + log.item[i]) * L + k];
      n += table[base + k] + w[i] * (log.reward[i] - qhat);
    }
    num[s] = n;
    den[s] = log.slateStart[s + 1] - log.slateStart[s];
  }
  return {
    name: 'dr',
    num,
    den,
    weights: w,
    exact: true,
    note: 'unbiased if the propensities are right (q̂ cross-fitted)',
  };
}
