import { Rng } from '../random';
import type { EvaluationPolicy, ReplayLearner } from './evaluation-policy';
import type { SlotLog } from './slot-log';
import type { EstimatorTerms } from './terms';

export interface ReplayOptions {
  /** Seed of the policy's own draws. */
  seed: number;
  /** Let the policy learn from accepted slots as it goes (needs `policy.learner`). Default false. */
  learn?: boolean;
  /** Number of points of the cumulative-reward curves. Default 200. */
  curvePoints?: number;
  /** True when the logger drew items uniformly: replay is then unbiased (Li et al. 2011, Thm 1). */
  uniformLogger: boolean;
}

/** Cumulative mean reward over logged time, for the report. */
export interface ReplayTrace {
  /** Logged time (ms) at each point. */
  readonly time: number[];
  /** Evaluated policy: cumulative mean reward of the accepted slots so far. */
  readonly policyMean: number[];
  /** Logging policy: cumulative mean reward of all slots so far. */
  readonly loggedMean: number[];
  /** Accepted slots so far. */
  readonly accepted: number[];
}

export interface ReplayResult {
  readonly terms: EstimatorTerms;
  readonly accepted: number;
  readonly trace: ReplayTrace;
}

/**
 * Replay (rejection) evaluation, Li, Chu, Langford & Wang, WSDM 2011, per slot: walk the log in time
 * order, let the policy draw a slate for the logged context, keep a slot only if the policy put the
 * logged item at the logged position, and (optionally) let the policy learn from kept slots only.
 * With a uniform logger each slot is kept with probability 1/m whatever the policy, so the kept
 * rewards are draws from the policy's own reward distribution; with any other logger the kept rows
 * over-represent what the logger liked and the estimate is biased (reported as `exact: false`).
 */
export function replay<C>(
  log: SlotLog,
  policy: EvaluationPolicy<C>,
  contexts: readonly C[],
  opts: ReplayOptions,
): ReplayResult {
  const rng = new Rng(opts.seed);
  let learner: ReplayLearner<C> = {
    sampleSlate: (c, r, out) => policy.sampleSlate(c, r, out),
    update: () => undefined,
  };
  if (opts.learn) {
    if (!policy.learner) throw new Error(`replay: policy ${policy.name} cannot learn (no learner())`);
    learner = policy.learner();
  }
  const order = Int32Array.from({ length: log.nSlates }, (_, i) => i);
  // Stable sort by time: logs are usually already ordered, then this is a linear pass.
  let sorted = true;
  for (let i = 1; i < log.nSlates && sorted; i++) if (log.time[i] < log.time[i - 1]) sorted = false;
  if (!sorted) order.sort((a, b) => log.time[a] - log.time[b] || a - b);

  const num = new Float64Array(log.nSlates);
  const den = new Float64Array(log.nSlates);
  const slate = new Int32Array(log.slateSize);
  const points = Math.max(2, opts.curvePoints ?? 200);
  const every = Math.max(1, Math.floor(log.nSlates / points));
  const trace: ReplayTrace = { time: [], policyMean: [], loggedMean: [], accepted: [] };
  let accR = 0;
  let accN = 0;
  let logR = 0;
  let logN = 0;
  for (let t = 0; t < log.nSlates; t++) {
    const s = order[t];
    const ctx = contexts[log.context[s]];
    learner.sampleSlate(ctx, rng, slate);
    for (let i = log.slateStart[s]; i < log.slateStart[s + 1]; i++) {
      const r = log.reward[i];
      logR += r;
      logN++;
      if (slate[log.position[i]] !== log.item[i]) continue;
      num[s] += r;
      den[s] += 1;
      accR += r;
      accN++;
      if (opts.learn) learner.update(ctx, log.item[i], log.position[i], r);
    }
    if ((t + 1) % every === 0 || t === log.nSlates - 1) {
      trace.time.push(log.time[s]);
      trace.policyMean.push(accN > 0 ? accR / accN : NaN);
      trace.loggedMean.push(logN > 0 ? logR / logN : NaN);
      trace.accepted.push(accN);
    }
  }
  const terms: EstimatorTerms = {
    name: 'replay',
    num,
    den,
    weights: new Float64Array(0),
    exact: opts.uniformLogger,
    note: opts.uniformLogger
      ? `rejection replay, ${accN} of ${log.nSlots} slots kept${opts.learn ? ', policy learning' : ''}`
      : `rejection replay under a non-uniform logger: biased towards the logger (${accN} slots kept)`,
  };
  return { terms, accepted: accN, trace };
}
