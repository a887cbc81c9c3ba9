import { existsSync } from 'node:fs';
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
import { loadObdCsv } from './obd-csv.loader';
import { InputFileError, loadBtsPrior, loadPolicyFile } from './policy-files';
import { loadRecoJsonl } from './reco-jsonl.loader';
import type { LoadedLog } from './slot-log.builder';

export interface ReplayRunOptions {
  format: 'obd' | 'reco';
  log: string;
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
  replay?: { acceptedSlots: number; learning: boolean };
  seconds: { load: number; evaluate: number };
}

export interface ReplayRun {
  summary: ReplaySummary;
  result: OpeResult;
}

const num = (x: number): number | null => (Number.isFinite(x) ? x : null);

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

/** Load a log, build the evaluation policy, run the estimators: the whole `reco replay` minus printing. */
export async function runReplay(o: ReplayRunOptions): Promise<ReplayRun> {
  const t0 = performance.now();
  const onBytes = o.onProgress ? (b: number, t: number): void => o.onProgress!('load', b, t) : undefined;
  const loaded =
    o.format === 'obd'
      ? await loadObdCsv(o.log, { nItems: o.items, slateSize: o.slateSize ?? 3, onProgress: onBytes })
      : await loadRecoJsonl(o.log, { slateSize: o.slateSize, onProgress: onBytes });
  const t1 = performance.now();
  if (loaded.log.nSlots === 0)
    throw new InputFileError(`${o.log}: no usable rows (${loaded.rejected.total} rejected)`);
  const policy = buildPolicy(o, loaded);
  const result = evaluateOffPolicy(loaded.log, policy, loaded.contexts, {
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
      slots: loaded.log.nSlots,
      rejected: loaded.rejected.total,
      rejectedByReason: loaded.rejected.byReason,
      rejectedExamples: loaded.rejected.examples,
    },
    slates: loaded.log.nSlates,
    items: loaded.log.nItems,
    onPolicyMeanReward: result.onPolicyMean,
    truth: o.truth,
    estimates,
    bootstrap: { resamples: o.bootstrap, seed: o.seed },
    replay: result.replay
      ? { acceptedSlots: result.replay.acceptedSlots, learning: o.replayLearn }
      : undefined,
    seconds: { load: (t1 - t0) / 1000, evaluate: (t2 - t1) / 1000 },
  };
  return { summary, result };
}
