/** The estimator names of the CLI and of the JSON output. */
export const ESTIMATOR_NAMES = [
  'ipw',
  'snipw',
  'ipw_clipped',
  'dm',
  'dr',
  'sips',
  'iips',
  'rips',
  'pi',
  'replay',
] as const;
export type EstimatorName = (typeof ESTIMATOR_NAMES)[number];

export function isEstimatorName(s: string): s is EstimatorName {
  return (ESTIMATOR_NAMES as readonly string[]).includes(s);
}

/**
 * Every estimator here is a ratio of sums over slates: V̂ = Σ_s num_s / Σ_s den_s.
 * IPS-type estimators put the count of observed slots in `den` (a per-slot mean), self-normalised
 * ones the sum of weights, replay the number of accepted slots. One representation lets a single
 * bootstrap pass resample every estimator with the same slate indices.
 */
export interface EstimatorTerms {
  readonly name: EstimatorName;
  /** Per slate numerator contribution. */
  readonly num: Float64Array;
  /** Per slate denominator contribution. */
  readonly den: Float64Array;
  /** The importance weights the estimator used (per slot or per slate), for ESS and the histogram; empty for DM. */
  readonly weights: Float64Array;
  /** True when the estimator is unbiased/exact for this log's behaviour model (see docs/ope.md). */
  readonly exact: boolean;
  /** One line on the assumption it rests on. */
  readonly note: string;
}

export function ratioValue(t: Pick<EstimatorTerms, 'num' | 'den'>): number {
  let n = 0;
  let d = 0;
  for (let i = 0; i < t.num.length; i++) {
    n += t.num[i];
    d += t.den[i];
  }
  return d !== 0 ? n / d : NaN;
}
