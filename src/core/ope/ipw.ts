import type { SlotLog } from './slot-log';
import type { EstimatorTerms } from './terms';

/**
 * Per-position inverse propensity weighting: V̂ = (1/N) Σ_i w_i r_i over the N observed slots,
 * w_i = π(a_i at k_i | x_i) / μ(a_i at k_i | x_i). Unbiased whenever μ > 0 wherever π > 0
 * (each slot is a bandit round with context (x, position), as in OBP's item-position estimators).
 */
export function ipwTerms(
  log: SlotLog,
  w: Float64Array,
  note = 'unbiased if μ > 0 wherever π > 0',
): EstimatorTerms {
  return { name: 'ipw', ...weightedSlotSums(log, w), weights: w, exact: true, note };
}

/**
 * Per slate: Σ w_i r_i over its slots (num) and its slot count (den); the shared core of every estimator
 * that weights each slot on its own (IPS, clipped IPS, IIPS, RIPS).
 */
export function weightedSlotSums(log: SlotLog, w: Float64Array): { num: Float64Array; den: Float64Array } {
  const num = new Float64Array(log.nSlates);
  const den = new Float64Array(log.nSlates);
  for (let s = 0; s < log.nSlates; s++) {
    let n = 0;
    for (let i = log.slateStart[s]; i < log.slateStart[s + 1]; i++) n += w[i] * log.reward[i];
    num[s] = n;
    den[s] = log.slateStart[s + 1] - log.slateStart[s];
  }
  return { num, den };
}

/** Self-normalised IPS: Σ w r / Σ w. Biased (consistent), bounded by the reward range, lower variance. */
export function snipwTerms(log: SlotLog, w: Float64Array): EstimatorTerms {
  const num = new Float64Array(log.nSlates);
  const den = new Float64Array(log.nSlates);
  for (let s = 0; s < log.nSlates; s++) {
    let n = 0;
    let d = 0;
    for (let i = log.slateStart[s]; i < log.slateStart[s + 1]; i++) {
      n += w[i] * log.reward[i];
      d += w[i];
    }
    num[s] = n;
    den[s] = d;
  }
  return {
    name: 'snipw',
    num,
    den,
    weights: w,
    exact: false,
    note: 'self-normalised: consistent, small bias',
  };
}

/** IPS with weights clipped at `maxWeight` (Strehl et al. 2010): trades bias (downward) for variance. */
export function clippedIpwTerms(log: SlotLog, w: Float64Array, maxWeight: number): EstimatorTerms {
  if (!(maxWeight > 0)) throw new RangeError(`clippedIpwTerms: maxWeight must be > 0, got ${maxWeight}`);
  const clipped = new Float64Array(w.length);
  let nClipped = 0;
  for (let i = 0; i < w.length; i++) {
    clipped[i] = w[i] > maxWeight ? maxWeight : w[i];
    if (w[i] > maxWeight) nClipped++;
  }
  const t = ipwTerms(log, clipped);
  return {
    ...t,
    name: 'ipw_clipped',
    exact: nClipped === 0,
    note: `weights clipped at ${maxWeight} (${nClipped} slots clipped)`,
  };
}
