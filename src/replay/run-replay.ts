import { existsSync, readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import {
  BernoulliTsPolicy,
  SlateTablePolicy,
  UniformRandomPolicy,
  evaluateOffPolicy,
  type EstimatorName,
  type EvaluationPolicy,
  type OpeResult,
} from '../core/ope';
import { ServingPolicyAdapter } from '../core/ope/eval-policies/serving.policy';
import { dcgExamination, splitByTime, trainOnLog } from '../core/ope/eval-policies/train-on-log';
import { buildServingSnapshot, decodeModel, type ServingSnapshot } from '../core/model';
import { parsePolicyConfig, POLICY_NAMES, type PolicyConfig } from '../core/policies/policy-config.schema';
import type { SlotLog } from '../core/ope/slot-log';
import { loadObdCsv } from './obd-csv.loader';
import { InputFileError, loadBtsPrior, loadPolicyFile } from './policy-files';
import { loadRecoJsonl, loadRecoRecords } from './reco-jsonl.loader';
import type { LoadedLog } from './slot-log.builder';

export interface ReplayRunOptions {
  format: 'obd' | 'reco';
  /** The log file, or a label of the source when `records` is given (e.g. the database). */
  log: string;
  /** reco records read from elsewhere than a file (`readRecoLogFromDb`): same validation as the file lines. */
  records?: AsyncIterable<unknown>;
  /** 'bts', 'random', or a path to POLICY.json. */
  policy: string;
  prior?: string;
  campaign?: string;
  estimators: readonly EstimatorName[];
  bootstrap: number;
  seed: number;
  /** Monte Carlo draws of BTS's action distribution. */
  nSim: number;
  clipMax: number;
  /** Catalogue size for OBD logs without item_context.csv. */
  items?: number;
  slateSize?: number;
  replayLearn: boolean;
  /** A known true value of the policy (e.g. the on-policy mean of a log it produced), for comparison. */
  truth?: number;
  /** Model for a serving policy (`{"name": ...}`): a snapshot loaded from a file or the database. */
  model?: { snapshot: ServingSnapshot; source: string };
  /**
   * Time split: the first fraction of the slates (by serving time) trains the model of a serving policy; every
   * policy is evaluated on the rest only.
   */
  trainFraction?: number;
  /** Examination probability by 0-based position for training (POSITION_EXAMINATION). */
  examination?: readonly number[];
  /** Latent dimension of a model trained on the log. */
  modelDim?: number;
  trainEpochs?: number;
  /** Simulated slates per context for the joint probabilities of stochastic serving policies. */
  jointSlates?: number;
  onProgress?: (phase: string, done: number, total: number) => void;
}

/** The `--json` document (stable field names; docs/ope.md). */
export interface ReplaySummary {
  format: 'obd' | 'reco';
  log: string;
  policy: string;
  behaviour: string;
  rows: {
    read: number;
    used: number;
    slots: number;
    rejected: number;
    rejectedByReason: Record<string, number>;
    rejectedExamples: { line: number; reason: string; detail: string }[];
  };
  slates: number;
  items: number;
  onPolicyMeanReward: number;
  /** The --truth value, when given. */
  truth?: number;
  estimates: Record<
    string,
    {
      value: number | null;
      ci95: [number, number] | null;
      se: number | null;
      ess: number | null;
      /** Whether ci95 contains --truth (absent without --truth or without intervals). */
      coversTruth?: boolean;
      exact: boolean;
      note: string;
    }
  >;
  bootstrap: { resamples: number; seed: number };
  /** With --train-fraction: what trained and what was evaluated (all other counts are the evaluated part's). */
  split?: { trainFraction: number; trainSlates: number; evaluatedSlates: number; cutoff: string };
  /** The model of a serving policy. */
  model?: { source: string; version: string; items: number; users: number };
  replay?: { acceptedSlots: number; learning: boolean };
  seconds: { load: number; evaluate: number };
}

export interface ReplayRun {
  summary: ReplaySummary;
  result: OpeResult;
}

const num = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** Read a model file (`encodeModel` bytes, e.g. a model_snapshots payload) as a serving snapshot. */
export function loadModelFile(path: string): ServingSnapshot {
  if (!existsSync(path)) throw new InputFileError(`--model: file not found: ${path}`);
  try {
    return buildServingSnapshot(decodeModel(new Uint8Array(readFileSync(path))));
  } catch (e) {
    throw new InputFileError(`--model ${path}: ${(e as Error).message}`);
  }
}

/**
 * What --policy names: 'bts', 'random', a slate table (JSON with `kind`), or one of our serving policies (JSON
 * with `name`: in_slate_ts, greedy, ...), given as a file or inline. The two JSON forms are told apart by content.
 */
export function servingPolicyOf(spec: string): PolicyConfig | null {
  if (spec === 'bts' || spec === 'random') return null;
  let text: string;
  if (spec.trim().startsWith('{')) text = spec;
  else if (existsSync(spec)) text = readFileSync(spec, 'utf8');
  else return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InputFileError(`--policy ${spec}: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || 'kind' in raw || !('name' in raw)) return null;
  try {
    return parsePolicyConfig(raw);
  } catch (e) {
    throw new InputFileError(
      `--policy ${spec}: ${(e as Error).message} (serving policies: ${POLICY_NAMES.join(', ')})`,
    );
  }
}

function buildPolicy(o: ReplayRunOptions, loaded: LoadedLog): EvaluationPolicy<string> {
  const { nItems, slateSize } = loaded.log;
  if (o.policy === 'random') return new UniformRandomPolicy(nItems, slateSize);
  if (o.policy === 'bts') {
    if (o.format !== 'obd')
      throw new InputFileError('--policy bts needs --format obd (its priors are indexed by OBD item_id)');
    if (!o.prior)
      throw new InputFileError('--policy bts needs --prior FILE (e.g. ../shared/data/obd/prior_bts.yaml)');
    const campaign = o.campaign ?? basename(o.log, extname(o.log));
    const prior = loadBtsPrior(o.prior, campaign);
    if (prior.alpha.length !== nItems)
      throw new InputFileError(
        `prior for campaign '${campaign}' has ${prior.alpha.length} items but the log's catalogue has ${nItems}`,
      );
    return new BernoulliTsPolicy({
      alpha: prior.alpha,
      beta: prior.beta,
      slateSize,
      nSim: o.nSim,
      seed: o.seed,
    });
  }
  if (!existsSync(o.policy))
    throw new InputFileError(
      `--policy: '${o.policy}' is neither bts, random nor an existing POLICY.json file`,
    );
  const file = loadPolicyFile(o.policy);
  const index = new Map(loaded.itemIds.map((id, i) => [id, i]));
  const resolve = (ref: number | string): number => {
    const i = index.get(String(ref));
    if (i === undefined) throw new InputFileError(`${o.policy}: item ${ref} is not in the log's catalogue`);
    return i;
  };
  const slates = file.kind === 'fixed' ? [{ items: file.slate, p: 1 }] : file.slates;
  const resolved = slates.map((s) => ({ items: s.items.map(resolve), p: s.p }));
  for (const s of resolved)
    if (s.items.length !== slateSize)
      throw new InputFileError(`${o.policy}: slates must have ${slateSize} items (the log's slate size)`);
  try {
    return new SlateTablePolicy(nItems, resolved, file.name ?? basename(o.policy));
  } catch (e) {
    throw new InputFileError(`${o.policy}: ${(e as Error).message}`);
  }
}

function adapter(
  snapshot: ServingSnapshot,
  config: PolicyConfig,
  o: ReplayRunOptions,
  loaded: LoadedLog,
): ServingPolicyAdapter {
  try {
    return new ServingPolicyAdapter(snapshot, config, {
      itemIds: loaded.itemIds,
      slateSize: loaded.log.slateSize,
      seed: o.seed,
      jointSlates: o.jointSlates,
    });
  } catch (e) {
    throw new InputFileError(`--policy ${config.name}: ${(e as Error).message}`);
  }
}

/** Load a log, build the evaluation policy, run the estimators: the whole `reco replay` minus printing. */
export async function runReplay(o: ReplayRunOptions): Promise<ReplayRun> {
  const t0 = performance.now();
  const onBytes = o.onProgress ? (b: number, t: number): void => o.onProgress!('load', b, t) : undefined;
  const loaded =
    o.format === 'obd'
      ? await loadObdCsv(o.log, { nItems: o.items, slateSize: o.slateSize ?? 3, onProgress: onBytes })
      : o.records
        ? await loadRecoRecords(o.records, { slateSize: o.slateSize })
        : await loadRecoJsonl(o.log, { slateSize: o.slateSize, onProgress: onBytes });
  const t1 = performance.now();
  if (loaded.log.nSlots === 0)
    throw new InputFileError(`${o.log}: no usable rows (${loaded.rejected.total} rejected)`);
  const serving = servingPolicyOf(o.policy);
  if (!serving && o.model)
    throw new InputFileError(
      '--model and --model-from-db need a serving policy: --policy \'{"name":"greedy"}\' or a file with a name',
    );
  let log: SlotLog = loaded.log;
  let split: ReplaySummary['split'];
  let policy: EvaluationPolicy<string>;
  let modelInfo: ReplaySummary['model'];
  if (o.trainFraction !== undefined) {
    const parts = splitByTime(loaded.log, o.trainFraction);
    log = parts.evaluate;
    split = {
      trainFraction: o.trainFraction,
      trainSlates: parts.train.nSlates,
      evaluatedSlates: parts.evaluate.nSlates,
      cutoff: new Date(parts.cutoff).toISOString(),
    };
    if (serving && !o.model) {
      o.onProgress?.('train', 0, 1);
      const { snapshot, model } = trainOnLog(parts.train, {
        itemIds: loaded.itemIds,
        contexts: loaded.contexts,
        examination: o.examination ?? dcgExamination(loaded.log.slateSize),
        model: { dim: o.modelDim ?? 8 },
        epochs: o.trainEpochs,
        seed: o.seed,
      });
      o.onProgress?.('train', 1, 1);
      modelInfo = {
        source: `trained on the first ${parts.train.nSlates} slates`,
        version: snapshot.version,
        items: model.numItems,
        users: model.numUsers,
      };
      policy = adapter(snapshot, serving, o, loaded);
    }
  }
  if (serving && !modelInfo) {
    if (!o.model)
      throw new InputFileError(
        `--policy ${serving.name} needs a model: --model FILE, --model-from-db, or --train-fraction F (train on the first part of the log)`,
      );
    const s = o.model.snapshot;
    modelInfo = { source: o.model.source, version: s.version, items: s.itemIds.length, users: s.users.size };
    policy = adapter(s, serving, o, loaded);
  }
  policy ??= buildPolicy(o, loaded);
  const result = evaluateOffPolicy(log, policy, loaded.contexts, {
    estimators: o.estimators,
    bootstrap: o.bootstrap,
    seed: o.seed,
    clipMax: o.clipMax,
    replayLearn: o.replayLearn,
    onProgress: o.onProgress,
  });
  const t2 = performance.now();
  const estimates: ReplaySummary['estimates'] = {};
  for (const name of o.estimators) {
    const e = result.estimates[name]!;
    estimates[name] = {
      value: num(e.value),
      ci95: e.ci95 ? [e.ci95[0], e.ci95[1]] : null,
      se: e.se,
      ess: e.ess,
      coversTruth: o.truth !== undefined && e.ci95 ? e.ci95[0] <= o.truth && o.truth <= e.ci95[1] : undefined,
      exact: e.exact,
      note: e.note,
    };
  }
  const summary: ReplaySummary = {
    format: o.format,
    log: o.log,
    policy: policy.name,
    behaviour: result.behaviour,
    rows: {
      read: loaded.rowsRead,
      used: loaded.rowsRead - loaded.rejected.total,
      slots: log.nSlots,
      rejected: loaded.rejected.total,
      rejectedByReason: loaded.rejected.byReason,
      rejectedExamples: loaded.rejected.examples,
    },
    slates: log.nSlates,
    items: log.nItems,
    onPolicyMeanReward: result.onPolicyMean,
    truth: o.truth,
    estimates,
    bootstrap: { resamples: o.bootstrap, seed: o.seed },
    split,
    model: modelInfo,
    replay: result.replay
      ? { acceptedSlots: result.replay.acceptedSlots, learning: o.replayLearn }
      : undefined,
    seconds: { load: (t1 - t0) / 1000, evaluate: (t2 - t1) / 1000 },
  };
  return { summary, result };
}
