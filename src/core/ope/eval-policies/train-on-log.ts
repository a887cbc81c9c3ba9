import { estimatorTarget } from '../../estimators/estimator';
import { FactorModel } from '../../model/factor-model';
import type { ModelConfigInput } from '../../model/model-config';
import { buildServingSnapshot } from '../../model/serving';
import type { ServingSnapshot } from '../../model/serving-snapshot';
import { Rng } from '../../random';
import { aggregateInteractions, trainAls } from '../../train';
import type { SlotLog } from '../slot-log';

/** A log cut in two by serving time: the first part trains, the second is evaluated. */
export interface TimeSplit {
  readonly train: SlotLog;
  readonly evaluate: SlotLog;
  /** Serving time (ms) of the first evaluated slate: every training slate was served before or at it. */
  readonly cutoff: number;
}

function subLog(log: SlotLog, slates: Int32Array): SlotLog {
  let nSlots = 0;
  for (const s of slates) nSlots += log.slateStart[s + 1] - log.slateStart[s];
  const slateStart = new Int32Array(slates.length + 1);
  const item = new Int32Array(nSlots);
  const position = new Uint8Array(nSlots);
  const reward = new Float64Array(nSlots);
  const pscore = new Float64Array(nSlots);
  const cascade = log.cascadePscore ? new Float64Array(nSlots) : undefined;
  const context = new Int32Array(slates.length);
  const time = new Float64Array(slates.length);
  let w = 0;
  slates.forEach((s, t) => {
    slateStart[t] = w;
    context[t] = log.context[s];
    time[t] = log.time[s];
    for (let i = log.slateStart[s]; i < log.slateStart[s + 1]; i++, w++) {
      item[w] = log.item[i];
      position[w] = log.position[i];
      reward[w] = log.reward[i];
      pscore[w] = log.pscore[i];
      if (cascade) cascade[w] = log.cascadePscore![i];
    }
  });
  slateStart[slates.length] = w;
  return {
    nItems: log.nItems,
    slateSize: log.slateSize,
    nSlots,
    nSlates: slates.length,
    slateStart,
    item,
    position,
    reward,
    pscore,
    context,
    time,
    cascadePscore: cascade,
  };
}

/**
 * Split by time: the first ⌊fraction · slates⌋ slates in serving order train, the rest are evaluated (ties in
 * time keep log order). Item and context indices are shared with the whole log.
 */
export function splitByTime(log: SlotLog, fraction: number): TimeSplit {
  if (!(fraction > 0 && fraction < 1))
    throw new RangeError(`train fraction must be in (0, 1), got ${fraction}`);
  const order = Int32Array.from({ length: log.nSlates }, (_, i) => i).sort(
    (a, b) => log.time[a] - log.time[b] || a - b,
  );
  const n = Math.floor(fraction * log.nSlates);
  if (n < 1 || n >= log.nSlates)
    throw new RangeError(
      `train fraction ${fraction} of ${log.nSlates} slates leaves ${n} to train and ${log.nSlates - n} to evaluate; both must be ≥ 1`,
    );
  return {
    train: subLog(log, order.subarray(0, n)),
    evaluate: subLog(log, order.subarray(n)),
    cutoff: log.time[order[n]],
  };
}

export interface TrainOnLogOptions {
  /** Log item index → external id: the model gets every item of the log (so it can rank all of them). */
  readonly itemIds: readonly string[];
  /** Log context index → user id. */
  readonly contexts: readonly string[];
  /** Examination probability θ by 0-based position (the service's POSITION_EXAMINATION; dcg: 1/log2(p + 2)). */
  readonly examination: readonly number[];
  readonly model?: ModelConfigInput;
  readonly epochs?: number;
  readonly seed: number;
}

/**
 * Batch-train a factor model on logged impressions and clicks with the service's conventions
 * (`LearningService`): a clicked slot is the target Y/θ_position through the model's estimator (Rel-MF IPS on the
 * slot's examination probability), an unclicked slot the target 0, both with weight 1; repeated (user, item) pairs
 * are merged (`aggregateInteractions`) and ALS (`src/core/train`) fits the model. Only users with a slate in
 * `log` become model users; the others are scored with the population default, as the service would.
 */
export function trainOnLog(
  log: SlotLog,
  opts: TrainOnLogOptions,
): { snapshot: ServingSnapshot; model: FactorModel } {
  const userOf = new Map<number, number>();
  const users: string[] = [];
  for (let s = 0; s < log.nSlates; s++) {
    const c = log.context[s];
    if (!userOf.has(c)) {
      userOf.set(c, users.length);
      users.push(opts.contexts[c]);
    }
  }
  const model = FactorModel.create(opts.model ?? {}, {
    items: opts.itemIds.map((id) => ({ id })),
    users,
  });
  const est = model.config.estimator;
  const n = log.nSlots;
  const user = new Int32Array(n);
  const item = new Int32Array(n);
  const target = new Float64Array(n);
  const weight = new Float64Array(n).fill(1);
  for (let s = 0; s < log.nSlates; s++) {
    const u = userOf.get(log.context[s])!;
    for (let i = log.slateStart[s]; i < log.slateStart[s + 1]; i++) {
      const p = log.position[i];
      const theta = opts.examination[Math.min(p, opts.examination.length - 1)];
      user[i] = u;
      item[i] = log.item[i];
      target[i] = log.reward[i] > 0 ? estimatorTarget(est, 1, theta) : 0;
    }
  }
  const data = aggregateInteractions({
    numUsers: users.length,
    numItems: opts.itemIds.length,
    user,
    item,
    target,
    weight,
  });
  trainAls(model, data, { rng: new Rng(opts.seed), epochs: opts.epochs ?? 10 });
  model.version = 'time-split';
  return { snapshot: buildServingSnapshot(model), model };
}

/** The dcg examination curve the service uses by default: θ_p = 1/log2(p + 2) for 0-based position p. */
export function dcgExamination(positions: number): number[] {
  return Array.from({ length: positions }, (_, p) => 1 / Math.log2(p + 2));
}
