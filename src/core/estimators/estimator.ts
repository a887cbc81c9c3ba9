import { z } from 'zod';

/**
 * Pointwise estimators of the loss on true relevance from logged clicks (Saito et al., WSDM 2020).
 *
 * For a logged pair with click Y ∈ {0, 1} and exposure propensity θ = P(exposed), Rel-MF's per-pair loss is
 *   (Y/θ)·δ⁽¹⁾(s) + (1 − Y/θ)·δ⁽⁰⁾(s),
 * unbiased for the loss on relevance R because E[Y | R] = θ·R. With squared losses δ⁽¹⁾ = (1 − s)² and
 * δ⁽⁰⁾ = s², the loss equals (s − Y/θ)² + Y/θ − (Y/θ)²: least squares toward the target Y/θ with weight 1, plus
 * a constant. So every estimator here maps a pair to a (target, weight) for weighted least squares.
 *
 * The negative weight, honestly: when Y = 1 and θ < 1 the δ⁽⁰⁾ term has weight 1 − 1/θ < 0. We never apply it
 * as a separate negative weight (a negative-weight squared loss is concave and makes a linear system
 * indefinite); we add the two quadratics first, and their sum has weight (Y/θ) + (1 − Y/θ) = 1 > 0. The price
 * is a target Y/θ > 1 that is no longer a probability, and a variance that grows as 1/θ: that is what clipping
 * trades against bias.
 */
export const ESTIMATOR_KINDS = ['naive', 'ips', 'ips_clipped'] as const;
export type EstimatorKind = (typeof ESTIMATOR_KINDS)[number];

export const estimatorConfigSchema = z
  .object({
    /** naive: target Y; ips: target Y/θ; ips_clipped: target Y/max(θ, clip). */
    kind: z.enum(ESTIMATOR_KINDS).default('ips'),
    /** Lower bound M on θ for ips_clipped (Saito's experiments use small values such as 0.01–0.1). */
    clip: z.number().gt(0).max(1).default(0.05),
  })
  .strict();
export type EstimatorConfig = z.infer<typeof estimatorConfigSchema>;

/** Parse an estimator config, throwing zod's error with the offending field on bad input. */
export function parseEstimatorConfig(input: unknown): Readonly<EstimatorConfig> {
  return Object.freeze(estimatorConfigSchema.parse(input ?? {}));
}

/** The least-squares target of one pair: Y, Y/θ or Y/max(θ, M). Inputs are trusted (validated at the boundary). */
export function estimatorTarget(cfg: EstimatorConfig, click: number, propensity: number): number {
  switch (cfg.kind) {
    case 'naive':
      return click;
    case 'ips':
      return click / propensity;
    case 'ips_clipped':
      return click / Math.max(propensity, cfg.clip);
  }
}

/**
 * Rel-MF's per-pair loss in its decomposed form, with the squared δ's: (Y/θ)(1 − s)² + (1 − Y/θ)s².
 * Used by the tests (unbiasedness by simulation, equivalence with least squares) and by evaluation.
 */
export function ipsPairLoss(click: number, propensity: number, score: number): number {
  const a = click / propensity;
  return a * (1 - score) * (1 - score) + (1 - a) * score * score;
}

/** The loss on true relevance that IPS estimates: R(1 − s)² + (1 − R)s². */
export function idealPairLoss(relevance: number, score: number): number {
  return relevance * (1 - score) * (1 - score) + (1 - relevance) * score * score;
}

/**
 * Map logged clicks and propensities to least-squares targets and weights in bulk, checking inputs once.
 * Weights are all 1 for these estimators (see the note above); they are returned so that callers can combine
 * them with other per-event weights.
 */
export function applyEstimator(
  cfg: EstimatorConfig,
  clicks: ArrayLike<number>,
  propensities: ArrayLike<number>,
): { target: Float64Array; weight: Float64Array } {
  if (clicks.length !== propensities.length)
    throw new RangeError(
      `propensities: length ${propensities.length} must equal clicks length ${clicks.length}`,
    );
  const n = clicks.length;
  const target = new Float64Array(n);
  const weight = new Float64Array(n).fill(1);
  for (let i = 0; i < n; i++) {
    const y = clicks[i];
    const p = propensities[i];
    if (y !== 0 && y !== 1) throw new RangeError(`clicks[${i}]: must be 0 or 1, got ${y}`);
    if (cfg.kind !== 'naive' && !(p > 0 && p <= 1))
      throw new RangeError(`propensities[${i}]: must be in (0, 1], got ${p}`);
    target[i] = estimatorTarget(cfg, y, p);
  }
  return { target, weight };
}
