/**
 * An evaluation policy's action distribution: π(item at position | context) for every context of a log.
 *
 * Layout `probs[(c * nItems + item) * slateSize + position]`, the same tensor OBP calls `action_dist`
 * (n_rounds × n_actions × len_list), except that rows are *distinct contexts*, not log rows: a
 * context-free policy (BTS with fixed priors, uniform random) has nContexts = 1 and costs 34 × 3 floats
 * instead of 1M × 34 × 3.
 */
export interface ActionDistribution {
  /** 1 (broadcast to every context) or the number of contexts of the log. */
  readonly nContexts: number;
  readonly nItems: number;
  readonly slateSize: number;
  readonly probs: Float64Array;
}

export function actionDistribution(nContexts: number, nItems: number, slateSize: number): ActionDistribution {
  return { nContexts, nItems, slateSize, probs: new Float64Array(nContexts * nItems * slateSize) };
}

/** π(item at position | context); context ids are broadcast when nContexts = 1. */
export function probAt(d: ActionDistribution, context: number, item: number, position: number): number {
  const c = d.nContexts === 1 ? 0 : context;
  return d.probs[(c * d.nItems + item) * d.slateSize + position];
}

/** Every position's distribution over items must sum to one (within tol) and be non-negative. */
export function checkActionDistribution(d: ActionDistribution, tol = 1e-6): void {
  if (d.probs.length !== d.nContexts * d.nItems * d.slateSize)
    throw new RangeError('ActionDistribution: wrong tensor size');
  for (let c = 0; c < d.nContexts; c++)
    for (let k = 0; k < d.slateSize; k++) {
      let s = 0;
      for (let a = 0; a < d.nItems; a++) {
        const p = d.probs[(c * d.nItems + a) * d.slateSize + k];
        if (!(p >= 0))
          throw new RangeError(
            `ActionDistribution: negative or NaN probability at context ${c}, item ${a}, position ${k}`,
          );
        s += p;
      }
      if (Math.abs(s - 1) > tol)
        throw new RangeError(`ActionDistribution: context ${c} position ${k} sums to ${s}, not 1`);
    }
}
