import { writeFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { ESTIMATOR_NAMES, isEstimatorName, type EstimatorName } from '../core/ope';
import { InputFileError } from '../replay/policy-files';
import { renderReportHtml } from '../replay/report.html';
import { runReplay, type ReplaySummary } from '../replay/run-replay';
import { CliError } from './cli-error';

interface ReplayFlags {
  format: 'obd' | 'reco';
  log: string;
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
    .requiredOption('--log <file>', 'logged impressions: OBD CSV, or reco JSONL (one impression per line)')
    .requiredOption('--policy <policy>', "evaluation policy: 'bts', 'random', or a POLICY.json file")
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
      if (flags.policy === 'bts' && flags.format === 'obd' && !flags.prior)
        throw new CliError("option '--prior <file>' is required with --policy bts");
      if (flags.report !== undefined && !/\.html?$/i.test(flags.report))
        throw new CliError(`option '--report <file.html>': expected a .html file name, got ${flags.report}`);
      const bar = progressBar();
      try {
        const run = await runReplay({
          format: flags.format,
          log: flags.log,
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
      }
    });
}
