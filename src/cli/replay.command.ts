import { writeFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import type { ServingSnapshot } from '../core/model';
import { ESTIMATOR_NAMES, isEstimatorName, type EstimatorName } from '../core/ope';
import { InputFileError } from '../replay/policy-files';
import { renderReportHtml } from '../replay/report.html';
import { runReplay, type ReplaySummary } from '../replay/run-replay';
import { loadConfig } from '../config/config';
import { openDatabase, type DatabaseHandle } from '../database/database';
import { parseWindow, readNewestModel, readRecoLogFromDb } from '../replay/reco-db-log';
import { loadModelFile } from '../replay/run-replay';
import { CliError } from './cli-error';
import { withOverrides } from './env-overrides';

interface ReplayFlags {
  format: 'obd' | 'reco';
  log?: string;
  fromDb: boolean;
  since?: string;
  until?: string;
  dataDir?: string;
  model?: string;
  modelFromDb: boolean;
  trainFraction?: number;
  modelDim: number;
  trainEpochs: number;
  jointSlates: number;
  policy: string;
  prior?: string;
  campaign?: string;
  estimators: EstimatorName[];
  bootstrap: number;
  seed: number;
  nSim: number;
  clip: number;
  items?: number;
  slateSize?: number;
  replayLearn: boolean;
  truth?: number;
  json: boolean;
  report?: string;
}

function intArg(min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer ≥ ${min}`);
    return n;
  };
}

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number > 0');
  return n;
}

function nonNegativeNumber(v: string): number {
  const n = Number(v);
  if (!(n >= 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number ≥ 0');
  return n;
}

function estimatorList(v: string): EstimatorName[] {
  const names = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = names.filter((n) => !isEstimatorName(n));
  if (bad.length || names.length === 0)
    throw new InvalidArgumentError(
      `unknown estimator ${bad.join(', ') || '(empty)'}; choose from ${ESTIMATOR_NAMES.join(',')}`,
    );
  return [...new Set(names)] as EstimatorName[];
}

/** A progress bar on stderr, only when stderr is a terminal. */
function progressBar(): { update: (phase: string, done: number, total: number) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar(
    {
      stream: process.stderr,
      format: ' {phase} [{bar}] {percentage}% | {value}/{total}',
      hideCursor: true,
      clearOnComplete: true,
    },
    Presets.shades_classic,
  );
  let current = '';
  let last = 0;
  return {
    update: (phase, done, total) => {
      const now = Date.now();
      if (phase !== current) {
        if (current) bar.stop();
        bar.start(total, done, { phase: phase.padEnd(9) });
        current = phase;
      } else if (now - last > 50 || done === total) bar.update(done);
      last = now;
    },
    stop: () => current && bar.stop(),
  };
}

const fmt = (x: number | null, d = 5): string => (x === null ? '—' : x.toFixed(d));

function printTable(s: ReplaySummary): void {
  const out: string[] = [];
  out.push(`policy ${s.policy} on ${s.log} (${s.format}; logger: ${s.behaviour})`);
  out.push(
    `rows: ${s.rows.read} read, ${s.rows.used} used, ${s.rows.rejected} rejected; ${s.rows.slots} slots in ${s.slates} slates; ${s.items} items`,
  );
  for (const [reason, n] of Object.entries(s.rows.rejectedByReason)) out.push(`  rejected ${n} × ${reason}`);
  for (const e of s.rows.rejectedExamples.slice(0, 5))
    out.push(`    line ${e.line}: ${e.reason} (${e.detail})`);
  if (s.split)
    out.push(
      `time split: trained on the first ${s.split.trainSlates} slates (fraction ${s.split.trainFraction}), evaluated on the ${s.split.evaluatedSlates} from ${s.split.cutoff}`,
    );
  if (s.model)
    out.push(
      `model: ${s.model.source} (version ${s.model.version}; ${s.model.items} items, ${s.model.users} users)`,
    );
  out.push(`on-policy mean reward of the log: ${fmt(s.onPolicyMeanReward)}`);
  if (s.truth !== undefined) out.push(`truth given: ${fmt(s.truth)} (covers = its 95% interval contains it)`);
  out.push(`bootstrap: ${s.bootstrap.resamples} resamples, seed ${s.bootstrap.seed}`);
  out.push('');
  out.push(
    `${'estimator'.padEnd(12)}${'value'.padStart(10)}${'95% low'.padStart(10)}${'95% high'.padStart(10)}${'ESS'.padStart(10)}  exact${s.truth !== undefined ? '  covers' : ''}  note`,
  );
  for (const [name, e] of Object.entries(s.estimates))
    out.push(
      `${name.padEnd(12)}${fmt(e.value).padStart(10)}${fmt(e.ci95?.[0] ?? null).padStart(10)}${fmt(e.ci95?.[1] ?? null).padStart(10)}${(e.ess === null ? '—' : e.ess.toFixed(0)).padStart(10)}  ${(e.exact ? 'yes' : 'no').padEnd(5)}${s.truth !== undefined ? `  ${(e.coversTruth === undefined ? '—' : e.coversTruth ? 'yes' : 'no').padEnd(6)}` : ''}  ${e.note}`,
    );
  process.stdout.write(out.join('\n') + '\n');
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description(
      'Off-policy evaluation of a policy on logged traffic: per-position, slate and replay estimators with bootstrap intervals.',
    )
    .addOption(new Option('--format <format>', 'log format').choices(['obd', 'reco']).makeOptionMandatory())
    .option('--log <file>', 'logged impressions: OBD CSV, or reco JSONL (one impression per line)')
    .option(
      '--from-db',
      "--format reco: read the service's log from PostgreSQL (DATABASE_URL or the embedded database) instead of --log",
      false,
    )
    .option('--since <iso>', '--from-db: first serving time included (ISO 8601)')
    .option('--until <iso>', '--from-db: serving time excluded from here on (ISO 8601)')
    .option('--data-dir <dir>', '--from-db: embedded database directory when DATABASE_URL is unset')
    .requiredOption(
      '--policy <policy>',
      'evaluation policy: \'bts\', \'random\', a POLICY.json slate table ({"kind":...}), or one of our serving policies as JSON or a file ({"name":"greedy"}, {"name":"in_slate_ts","propensitySlates":1000}, ...)',
    )
    .option('--model <file>', 'serving policies: the model (a model_snapshots payload / encodeModel file)')
    .option(
      '--model-from-db',
      'serving policies: the newest model checkpoint in the database (model_snapshots)',
      false,
    )
    .option(
      '--train-fraction <f>',
      'time split: serving policies get a model trained (ALS) on this first fraction of the slates; every policy is evaluated on the rest',
      (v: string) => {
        const f = Number(v);
        if (!(f > 0 && f < 1)) throw new InvalidArgumentError('expected a number in (0, 1)');
        return f;
      },
    )
    .option('--model-dim <d>', 'latent dimension of the model trained with --train-fraction', intArg(1), 8)
    .option('--train-epochs <n>', 'ALS epochs with --train-fraction', intArg(1), 10)
    .option(
      '--joint-slates <n>',
      'slates simulated per user for the slate estimators of stochastic serving policies',
      intArg(1),
      2000,
    )
    .option('--prior <file>', 'Beta priors for bts (YAML: campaign → {alpha, beta})')
    .option('--campaign <name>', 'campaign of the prior file (default: the log file name, e.g. men)')
    .addOption(
      new Option('--estimators <list>', `comma-separated: ${ESTIMATOR_NAMES.join(',')}`)
        .argParser(estimatorList)
        .default([...ESTIMATOR_NAMES], 'all'),
    )
    .option('--bootstrap <n>', 'bootstrap resamples for the 95% intervals (0: none)', intArg(0), 1000)
    .option('--seed <n>', 'seed of the bootstrap, of replay and of the Monte Carlo', intArg(0), 1)
    .option('--n-sim <n>', 'Monte Carlo draws for the bts action distribution', intArg(1), 100_000)
    .option('--clip <w>', 'max weight of ipw_clipped', positiveNumber, 100)
    .option('--items <n>', 'catalogue size for OBD logs without item_context.csv beside them', intArg(1))
    .option('--slate-size <n>', 'positions per slate (OBD: 3; reco: largest seen)', intArg(1))
    .option(
      '--replay-learn',
      'let the policy learn from accepted slots during replay (Li et al. 2011)',
      false,
    )
    .option(
      '--truth <value>',
      'known true value of the policy (e.g. the on-policy CTR of a log it produced): drawn and checked against each interval',
      nonNegativeNumber,
    )
    .option('--json', 'print one JSON object instead of a table', false)
    .option('--report <file.html>', 'also write a self-contained HTML report')
    .addHelpText(
      'after',
      `
Examples:
  reco replay --format obd --log ../shared/data/obd/random/men/men.csv --policy bts \\
      --prior ../shared/data/obd/prior_bts.yaml --campaign men --report bts-from-random.html
  reco replay --format obd --log ../shared/data/obd/bts/men/men.csv --policy random --json
  reco replay --format reco --log week.jsonl --policy POLICY.json --estimators ipw,snipw,dr

Values are mean reward per shown slot (CTR). Rows that fail validation are counted by reason and
never used. See docs/ope.md for the estimators and when each is exact.`,
    )
    .action(async (flags: ReplayFlags) => {
      if (flags.fromDb === (flags.log !== undefined))
        throw new CliError("give exactly one of '--log <file>' and '--from-db'");
      if (flags.fromDb && flags.format !== 'reco')
        throw new CliError("option '--from-db' needs --format reco");
      if (flags.model !== undefined && flags.modelFromDb)
        throw new CliError("give at most one of '--model <file>' and '--model-from-db'");
      if (!flags.fromDb && (flags.since !== undefined || flags.until !== undefined))
        throw new CliError(
          "options '--since' and '--until' apply to --from-db (filter a file with `reco export`)",
        );
      if (flags.policy === 'bts' && flags.format === 'obd' && !flags.prior)
        throw new CliError("option '--prior <file>' is required with --policy bts");
      if (flags.report !== undefined && !/\.html?$/i.test(flags.report))
        throw new CliError(`option '--report <file.html>': expected a .html file name, got ${flags.report}`);
      const bar = progressBar();
      let db: DatabaseHandle | undefined;
      try {
        let records: AsyncIterable<unknown> | undefined;
        let log = flags.log ?? '';
        const needsConfig = flags.fromDb || flags.modelFromDb || flags.trainFraction !== undefined;
        const config = needsConfig
          ? loadConfig(withOverrides(process.env, { RECO_DATA_DIR: flags.dataDir }))
          : undefined;
        if (config && (flags.fromDb || flags.modelFromDb)) db = await openDatabase(config.database);
        let model: { snapshot: ServingSnapshot; source: string } | undefined;
        if (flags.model !== undefined) model = { snapshot: loadModelFile(flags.model), source: flags.model };
        if (db && flags.modelFromDb) model = await readNewestModel(db.dataSource);
        if (db && flags.fromDb) {
          const window = parseWindow(flags.since, flags.until);
          records = readRecoLogFromDb(db.dataSource, window);
          log = `postgres ${db.where}${flags.since ? ` since ${flags.since}` : ''}${flags.until ? ` until ${flags.until}` : ''}`;
        }
        const run = await runReplay({
          format: flags.format,
          log,
          records,
          policy: flags.policy,
          prior: flags.prior,
          campaign: flags.campaign,
          estimators: flags.estimators,
          bootstrap: flags.bootstrap,
          seed: flags.seed,
          nSim: flags.nSim,
          clipMax: flags.clip,
          items: flags.items,
          slateSize: flags.slateSize,
          replayLearn: flags.replayLearn,
          truth: flags.truth,
          model,
          trainFraction: flags.trainFraction,
          examination: config?.learning.examination,
          modelDim: flags.modelDim,
          trainEpochs: flags.trainEpochs,
          jointSlates: flags.jointSlates,
          onProgress: bar.update,
        });
        bar.stop();
        if (flags.report) writeFileSync(flags.report, renderReportHtml(run.summary, run.result));
        if (flags.json) process.stdout.write(JSON.stringify(run.summary, null, 2) + '\n');
        else {
          printTable(run.summary);
          if (flags.report) process.stdout.write(`report written to ${flags.report}\n`);
        }
      } catch (e) {
        bar.stop();
        const err = e as NodeJS.ErrnoException;
        if (e instanceof InputFileError) throw new CliError(e.message);
        if (err.code === 'ENOENT') throw new CliError(`file not found: ${err.path ?? err.message}`);
        if (e instanceof RangeError) throw new CliError(e.message);
        throw e;
      } finally {
        await db?.close();
      }
    });
}
