/**
 * Hierarchical item priors (Eide, Leslie & Frigessi: items of a group share a prior mean and spread).
 *
 * Slot 0 holds the global prior (from the config: mean 0 for factors, `biasPriorMean` for the bias; variances
 * `itemPriorVar` / `biasPriorVar`); group g uses slot g + 1. A group's prior is estimated from its items'
 * posteriors by one empirical-Bayes M-step of the Gaussian hierarchy, shrunk toward the global prior with a
 * pseudo-count κ (`groupShrinkage`):
 *   μ_g = (Σ_{i∈g} m_i + κ μ₀) / (n_g + κ)
 *   s²_g = (Σ_{i∈g} [(m_i − μ_g)² + v_i] + κ s²₀) / (n_g + κ),  floored at `priorVarFloor`.
 * Including the posterior variances v_i (not only the spread of the means) is what keeps repeated
 * re-estimation from collapsing the prior to a point; the shrinkage keeps a two-item group from deciding
 * alone how a third item starts. Only items with evidence (count > 0) inform their group.
 */
export interface PriorSettings {
  dim: number;
  itemPriorVar: number;
  biasPriorVar: number;
  biasPriorMean: number;
  groupShrinkage: number;
  priorVarFloor: number;
}

/** The global prior in slot 0, and every group slot initialised to it. */
export function globalPriors(
  s: PriorSettings,
  groups: number,
): { mean: Float64Array; variance: Float64Array } {
  const n = s.dim + 1;
  const mean = new Float64Array((groups + 1) * n);
  const variance = new Float64Array((groups + 1) * n);
  for (let g = 0; g <= groups; g++) {
    for (let k = 0; k < s.dim; k++) variance[g * n + k] = s.itemPriorVar;
    variance[g * n + s.dim] = s.biasPriorVar;
    mean[g * n + s.dim] = s.biasPriorMean;
  }
  return { mean, variance };
}

/**
 * Re-estimate the group slots (1..groups) in place from item posteriors. `itemGroup[i]` is the group index or
 * −1; `count[i]` the item's number of events. Slot 0 is left as it is.
 */
export function estimateGroupPriors(
  s: PriorSettings,
  groups: number,
  items: number,
  itemGroup: Int32Array,
  count: Float64Array,
  itemMean: Float64Array,
  itemVar: Float64Array,
  priorMean: Float64Array,
  priorVar: Float64Array,
): void {
  const n = s.dim + 1;
  const kappa = s.groupShrinkage;
  const sums = new Float64Array((groups + 1) * n);
  const ng = new Float64Array(groups + 1);
  for (let i = 0; i < items; i++) {
    const g = itemGroup[i];
    if (g < 0 || count[i] === 0) continue;
    ng[g + 1] += 1;
    for (let k = 0; k < n; k++) sums[(g + 1) * n + k] += itemMean[i * n + k];
  }
  for (let g = 1; g <= groups; g++) {
    const denom = ng[g] + kappa;
    for (let k = 0; k < n; k++) {
      priorMean[g * n + k] = denom > 0 ? (sums[g * n + k] + kappa * priorMean[k]) / denom : priorMean[k];
    }
  }
  const ss = new Float64Array((groups + 1) * n);
  for (let i = 0; i < items; i++) {
    const g = itemGroup[i];
    if (g < 0 || count[i] === 0) continue;
    const o = (g + 1) * n;
    for (let k = 0; k < n; k++) {
      const dlt = itemMean[i * n + k] - priorMean[o + k];
      ss[o + k] += dlt * dlt + itemVar[i * n + k];
    }
  }
  for (let g = 1; g <= groups; g++) {
    const denom = ng[g] + kappa;
    for (let k = 0; k < n; k++) {
      const v = denom > 0 ? (ss[g * n + k] + kappa * priorVar[k]) / denom : priorVar[k];
      priorVar[g * n + k] = Math.max(v, s.priorVarFloor);
    }
  }
}
