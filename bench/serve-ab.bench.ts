/**
 * npm run bench:serve-ab -- --baseline DIR [--items 10000] [--cold 0.01,0.5,0.9] [--policy JSON] [--size 10]
 *   [--batches 48] [--batch 100] [--rounds 8] [--json]
 *
 * `serveSlate` of this checkout against another build of reco (`--baseline`: a checkout whose `dist/` is built,
 * e.g. `git worktree add /tmp/base <commit> && (cd /tmp/base && npm ci && npm run -s build)`), on the same
 * synthetic snapshots, users and seeds. Reports, per catalogue (`--cold`: the fraction of items still at their
 * group's prior), the median and lower quartile of process CPU time per request of each build over `--batches`
 * batches of `--batch` requests, and the ratio this / baseline.
 *
 * Each build runs in child processes of its own, one build a process, in `--rounds` rounds that alternate which
 * goes first (each child: three warm-up batches, then its share of the batches); a round takes seconds, so the machine's
 * drift falls on both. Until the seventeenth session both builds ran in one process, in alternating batches: there
 * the build loaded first ran faster, and two copies of one build measured 0.89–0.93 against each other whichever
 * was first (0.73 in one catalogue), as large as the changes it was used to judge.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { emit, flagValue, formatTable, hasFlag, log, machine, median, quantile } from './lib/report';

interface Build {
  name: string;
  syntheticSnapshot: (o: { items: number; dim: number; seed: number; coldFraction?: number }) => unknown;
  prepareSnapshotForServing: (s: unknown) => void;
  serveSlate: (s: unknown, p: unknown, r: unknown, rng: unknown) => unknown;
  parsePolicyConfig: (p: unknown) => unknown;
  Rng: new (seed: number) => { normal(): number };
}

/** The serving core of the build under `root` (its compiled `dist/src/core`). */
function loadBuild(name: string, core: string): Build {
  /* eslint-disable @typescript-eslint/no-require-imports -- two builds side by side: paths known at run time */
  const synthetic = require(`${core}/policies/testing/synthetic-snapshot`) as Pick<
    Build,
    'syntheticSnapshot'
  >;
  const serve = require(`${core}/policies/serve-slate`) as Pick<
    Build,
    'prepareSnapshotForServing' | 'serveSlate'
  >;
  const schema = require(`${core}/policies/policy-config.schema`) as Pick<Build, 'parsePolicyConfig'>;
  const random = require(`${core}/random`) as Pick<Build, 'Rng'>;
  /* eslint-enable @typescript-eslint/no-require-imports */
  return {
    name,
    syntheticSnapshot: synthetic.syntheticSnapshot,
    prepareSnapshotForServing: serve.prepareSnapshotForServing,
    serveSlate: serve.serveSlate,
    parsePolicyConfig: schema.parsePolicyConfig,
    Rng: random.Rng,
  };
}

type Which = 'this' | 'baseline';

interface ChildResult {
  cold: number;
  /** CPU ms per request, one entry a batch. */
  times: number[];
}

function settings() {
  return {
    baseline: flagValue('baseline', ''),
    items: Number(flagValue('items', '10000')),
    size: Number(flagValue('size', '10')),
    batches: Number(flagValue('batches', '48')),
    batch: Number(flagValue('batch', '100')),
    rounds: Number(flagValue('rounds', '8')),
    colds: flagValue('cold', '0.01,0.5,0.9').split(',').map(Number),
    policyJson: flagValue('policy', '{"name":"in_slate_ts"}'),
  };
}

/** A child process measuring one build: `batches` batches per catalogue after a warm-up batch. */
function runChild(which: Which, batches: number, round: number): ChildResult[] {
  const args = process.argv
    .slice(2)
    .filter((a) => a !== '--json')
    .concat(['--child', which, '--child-batches', String(batches), '--child-round', String(round)]);
  const r = spawnSync(process.execPath, [__filename, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 << 20,
  });
  if (r.status !== 0) throw new Error(`serve-ab child (${which}) exited with ${r.status}`);
  return JSON.parse(r.stdout) as ChildResult[];
}

function main(): void {
  const child = flagValue('child', '');
  if (child === '') return parent();
  if (child !== 'this' && child !== 'baseline') throw new Error(`--child: this or baseline, not "${child}"`);
  process.stdout.write(`${JSON.stringify(measure(child))}\n`);
}

function parent(): void {
  const json = hasFlag('json');
  const o = settings();
  if (!o.baseline) {
    log('usage: serve-ab.bench --baseline DIR (another checkout of reco, built)');
    process.exitCode = 2;
    return;
  }
  for (const [name, v] of [
    ['batches', o.batches],
    ['batch', o.batch],
    ['rounds', o.rounds],
    ['items', o.items],
  ] as const)
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${name}: a positive integer, not ${v}`);
  const per = Math.max(1, Math.round(o.batches / o.rounds));
  const times: Record<Which, number[][]> = { this: o.colds.map(() => []), baseline: o.colds.map(() => []) };
  for (let round = 0; round < o.rounds; round++) {
    const order: Which[] = round % 2 === 0 ? ['this', 'baseline'] : ['baseline', 'this'];
    log(`round ${round + 1} of ${o.rounds}: ${order.join(', then ')}`);
    for (const which of order)
      runChild(which, per, round).forEach((r, i) => times[which][i].push(...r.times));
  }
  const rows = o.colds.map((cold, i) => ({
    cold,
    this_ms: median(times.this[i]),
    baseline_ms: median(times.baseline[i]),
    this_p25_ms: quantile(times.this[i], 0.25),
    baseline_p25_ms: quantile(times.baseline[i], 0.25),
    ratio: median(times.this[i]) / median(times.baseline[i]),
  }));
  const data = {
    items: o.items,
    dim: 32,
    size: o.size,
    policy: JSON.parse(o.policyJson) as unknown,
    batches: per * o.rounds,
    batch: o.batch,
    rounds: o.rounds,
    baseline: o.baseline,
    rows,
    machine: machine(),
  };
  emit(json, data, () =>
    [
      `serve A/B: ${o.items} items, d 32, size ${o.size}, ${o.policyJson}; ${per * o.rounds} batches of ${o.batch} a build, in ${o.rounds} rounds of one process a build; baseline ${o.baseline}; ${data.machine}`,
      formatTable(
        [
          'cold fraction',
          'this ms (median)',
          'baseline ms (median)',
          'this p25',
          'baseline p25',
          'this / baseline',
        ],
        rows.map((x) => [x.cold, x.this_ms, x.baseline_ms, x.this_p25_ms, x.baseline_p25_ms, x.ratio]),
      ),
      'ms: process CPU time per request, per batch; the same snapshots, users and seeds for both builds.',
    ].join('\n'),
  );
}

/** In a child: one build, a warm-up batch and `--child-batches` batches per catalogue. */
function measure(which: Which): ChildResult[] {
  const o = settings();
  const batches = Number(flagValue('child-batches', '4'));
  const round = Number(flagValue('child-round', '0'));
  const b =
    which === 'this'
      ? loadBuild('this', resolve(__dirname, '../src/core'))
      : loadBuild('baseline', resolve(o.baseline, 'dist/src/core'));
  const dim = 32;
  const out: ChildResult[] = [];
  for (const cold of o.colds) {
    const snap = b.syntheticSnapshot({ items: o.items, dim, seed: 1, coldFraction: cold });
    b.prepareSnapshotForServing(snap);
    const policy = b.parsePolicyConfig(JSON.parse(o.policyJson));
    const r = new b.Rng(3);
    const users = Array.from({ length: 50 }, () => Float32Array.from({ length: dim }, () => r.normal()));
    const run = (count: number, seed0: number): number => {
      const t = process.cpuUsage();
      for (let j = 0; j < count; j++)
        b.serveSlate(snap, policy, { size: o.size, user: users[j % users.length] }, new b.Rng(seed0 + j));
      const d = process.cpuUsage(t);
      return (d.user + d.system) / count / 1000;
    };
    for (let w = 0; w < 3; w++) run(o.batch, w * o.batch); // warm-up (JIT)
    const times: number[] = [];
    // The same seeds in both builds' children of a round.
    for (let k = 0; k < batches; k++) times.push(run(o.batch, 1000 + (round * batches + k) * o.batch));
    out.push({ cold, times });
  }
  return out;
}

main();
