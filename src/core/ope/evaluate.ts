import { checkActionDistribution } from './action-distribution';
import { detectBehaviour, slateWeightsExact, type BehaviourModel } from './behaviour';
import { bootstrapIntervals } from './bootstrap';
import { dmTerms, drTerms } from './direct-method';
import type { EvaluationPolicy } from './evaluation-policy';
import { clippedIpwTerms, ipwTerms, snipwTerms } from './ipw';
import { piTerms } from './pseudo-inverse';
import { replay, type ReplayTrace } from './replay';
import { fitItemPositionCtr, type RewardModelOptions } from './reward-model';
import { iipsTerms, ripsTerms, sipsTerms } from './slate-ips';
import { onPolicyMean, validateSlotLog, type SlotLog } from './slot-log';
import { ratioValue, type EstimatorName, type EstimatorTerms } from './terms';
import { cascadeWeights, effectiveSampleSize, marginalWeights } from './weights';

/** Validated, immutable options of one evaluation. */
export interface OpeOptions {
  readonly estimators: readonly EstimatorName[];
  /** Bootstrap resamples for the 95 % intervals; 0 skips them. */
  readonly bootstrap: number;
  /** Seed of the bootstrap and of replay's draws. */
  readonly seed: number;
  /** Max weight of `ipw_clipped`. Default 100. */
  readonly clipMax?: number;
  readonly rewardModel?: RewardModelOptions;
  /** What is known about the logger; detected from the propensities when absent. */
  readonly behaviour?: BehaviourModel;
  /** Let the policy learn during replay. */
  readonly replayLearn?: boolean;
  readonly onProgress?: (phase: string, done: number, total: number) => void;
}

export interface EstimateResult {
  readonly name: EstimatorName;
  readonly value: number;
  /** Percentile bootstrap 95 % interval, null when bootstrap = 0. */
  readonly ci95: [number, number] | null;
  /** Bootstrap standard error. */
  readonly se: number | null;
  /** Kish ESS of the estimator's weights (null for DM and replay, which have none). */
  readonly ess: number | null;
  readonly exact: boolean;
  readonly note: string;
}

export interface OpeResult {
  readonly policy: string;
  readonly behaviour: BehaviourModel;
  readonly nSlots: number;
  readonly nSlates: number;
  /** Mean observed reward per slot of the log (the logger's on-policy value). */
  readonly onPolicyMean: number;
  readonly estimates: Partial<Record<EstimatorName, EstimateResult>>;
  /** Per-slot marginal weights π/μ (the histogram of the report). */
  readonly weights: Float64Array;
  readonly replay?: ReplayTrace & { readonly acceptedSlots: number };
}

/**
 * Run the chosen estimators on one log for one evaluation policy, with one shared bootstrap.
 * The log is validated here, once; the estimators trust it.
 */
export function evaluateOffPolicy<C>(
  log: SlotLog,
  policy: EvaluationPolicy<C>,
  contexts: readonly C[],
  opts: OpeOptions,
): OpeResult {
  validateSlotLog(log);
  if (policy.nItems !== log.nItems || policy.slateSize < log.slateSize)
    throw new RangeError(
      `policy ${policy.name} has ${policy.nItems} items × ${policy.slateSize} positions, the log ${log.nItems} × ${log.slateSize}`,
    );
  let maxContext = -1;
  for (let s = 0; s < log.nSlates; s++) if (log.context[s] > maxContext) maxContext = log.context[s];
  if (maxContext >= contexts.length)
    throw new RangeError(
      `log refers to context ${maxContext} but only ${contexts.length} contexts were given`,
    );
  const progress = opts.onProgress ?? (() => undefined);
  const behaviour = opts.behaviour ?? detectBehaviour(log);
  const wanted = new Set(opts.estimators);

  progress('policy', 0, 1);
  const dist = policy.actionDistribution(contexts);
  checkActionDistribution(dist, 1e-6);
  if (dist.nContexts !== 1 && dist.nContexts !== contexts.length)
    throw new RangeError('action distribution has the wrong number of contexts');
  const w = marginalWeights(log, dist);
  const needCascade = wanted.has('sips') || wanted.has('rips');
  const cascade = needCascade ? cascadeWeights(log, policy, contexts, behaviour) : undefined;
  const needModel = wanted.has('dm') || wanted.has('dr');
  const model = needModel ? fitItemPositionCtr(log, opts.rewardModel) : undefined;
  progress('policy', 1, 1);

  const terms: EstimatorTerms[] = [];
  let trace: OpeResult['replay'];
  const exactSlate = slateWeightsExact(behaviour);
  for (const name of opts.estimators) {
    switch (name) {
      case 'ipw':
        terms.push(ipwTerms(log, w));
        break;
      case 'snipw':
        terms.push(snipwTerms(log, w));
        break;
      case 'ipw_clipped':
        terms.push(clippedIpwTerms(log, w, opts.clipMax ?? 100));
        break;
      case 'dm':
        terms.push(dmTerms(log, dist, model!));
        break;
      case 'dr':
        terms.push(drTerms(log, dist, model!, w));
        break;
      case 'sips':
        terms.push(sipsTerms(log, cascade!, exactSlate));
        break;
      case 'iips':
        terms.push(iipsTerms(log, w));
        break;
      case 'rips':
        terms.push(ripsTerms(log, cascade!, exactSlate));
        break;
      case 'pi':
        terms.push(piTerms(log, dist, behaviour, w));
        break;
      case 'replay': {
        const r = replay(log, policy, contexts, {
          seed: opts.seed,
          learn: opts.replayLearn,
          uniformLogger: behaviour === 'uniform',
        });
        terms.push(r.terms);
        trace = { ...r.trace, acceptedSlots: r.accepted };
        break;
      }
    }
  }
  const intervals =
    opts.bootstrap > 0
      ? bootstrapIntervals(terms, {
          resamples: opts.bootstrap,
          seed: opts.seed,
          onProgress: (d, t) => progress('bootstrap', d, t),
        })
      : undefined;
  const estimates: Partial<Record<EstimatorName, EstimateResult>> = {};
  terms.forEach((t, e) => {
    const iv = intervals?.[e];
    estimates[t.name] = {
      name: t.name,
      value: ratioValue(t),
      ci95: iv ? [iv.low, iv.high] : null,
      se: iv ? iv.se : null,
      ess: t.weights.length > 0 ? effectiveSampleSize(t.weights) : null,
      exact: t.exact,
      note: t.note,
    };
  });
  return {
    policy: policy.name,
    behaviour,
    nSlots: log.nSlots,
    nSlates: log.nSlates,
    onPolicyMean: onPolicyMean(log),
    estimates,
    weights: w,
    replay: trace,
  };
}
