/**
 * npm run bench:serve-ab -- --baseline DIR [--items 10000] [--cold 0.01,0.5,0.9] [--policy JSON] [--size 10]
 *   [--batches 24] [--batch 100] [--json]
 *
 * `serveSlate` of this checkout against another build of reco (`--baseline`: a checkout whose `dist/` is built,
 * e.g. `git worktree add /tmp/base <commit> && (cd /tmp/base && npm ci && npm run -s build)`), both loaded in
 * this one process, on the same synthetic snapshots and users, in alternating batches. On a noisy 2-core machine
 * two separate runs minutes apart can differ by more than the change being measured; alternating batches in one
 * process puts both builds under the same load, JIT and memory state. Reports, per catalogue (`--cold`: the
 * fraction of items still at their group's prior), the median and lower quartile of process CPU time per
 * request of each build over `--batches` batches of `--batch` requests, and the ratio this / baseline.
 */
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

function main(): void {
  const json = hasFlag('json');
  const baseline = flagValue('baseline', '');
  if (!baseline) {
    log('usage: serve-ab.bench --baseline DIR (another checkout of reco, built)');
    process.exitCode = 2;
    return;
  }
  const items = Number(flagValue('items', '10000'));
  const size = Number(flagValue('size', '10'));
  const batches = Number(flagValue('batches', '24'));
  const batch = Number(flagValue('batch', '100'));
  const colds = flagValue('cold', '0.01,0.5,0.9').split(',').map(Number);
  const policyJson = flagValue('policy', '{"name":"in_slate_ts"}');
  const builds = [
    loadBuild('this', resolve(__dirname, '../src/core')),
    loadBuild('baseline', resolve(baseline, 'dist/src/core')),
  ];
  const dim = 32;
  const rows: {
    cold: number;
    this_ms: number;
    baseline_ms: number;
    this_p25_ms: number;
    baseline_p25_ms: number;
    ratio: number;
  }[] = [];
  for (const cold of colds) {
    const state = builds.map((b) => {
      const snap = b.syntheticSnapshot({ items, dim, seed: 1, coldFraction: cold });
      b.prepareSnapshotForServing(snap);
      return { snap, policy: b.parsePolicyConfig(JSON.parse(policyJson)) };
    });
    const r = new builds[0].Rng(3);
    const users = Array.from({ length: 50 }, () => Float32Array.from({ length: dim }, () => r.normal()));
    const run = (i: number, count: number, seed0: number): number => {
      const b = builds[i];
      const { snap, policy } = state[i];
      const t = process.cpuUsage();
      for (let j = 0; j < count; j++)
        b.serveSlate(snap, policy, { size, user: users[j % users.length] }, new b.Rng(seed0 + j));
      const d = process.cpuUsage(t);
      return (d.user + d.system) / count / 1000;
    };
    for (let i = 0; i < builds.length; i++) run(i, batch, 0); // warm-up (JIT)
    const times: number[][] = builds.map(() => []);
    for (let k = 0; k < batches; k++)
      for (let a = 0; a < builds.length; a++) {
        const i = (a + k) % builds.length; // alternate which build goes first
        times[i].push(run(i, batch, 1000 + k * batch));
      }
    rows.push({
      cold,
      this_ms: median(times[0]),
      baseline_ms: median(times[1]),
      this_p25_ms: quantile(times[0], 0.25),
      baseline_p25_ms: quantile(times[1], 0.25),
      ratio: median(times[0]) / median(times[1]),
    });
  }
  const data = {
    items,
    dim,
    size,
    policy: JSON.parse(policyJson) as unknown,
    batches,
    batch,
    baseline,
    rows,
    machine: machine(),
  };
  emit(json, data, () =>
    [
      `serve A/B: ${items} items, d ${dim}, size ${size}, ${policyJson}; ${batches} alternating batches of ${batch}; baseline ${baseline}; ${data.machine}`,
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

main();
