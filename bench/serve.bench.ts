/**
 * Serving benchmark: times slates in process on a synthetic model (no HTTP).
 *
 *   npm run bench:serve            table
 *   npm run bench:serve -- --json  one JSON object (headline at the top level, plus `scaling`)
 *
 * Headline: 100k items, d = 32, slate size 10, in_slate_ts with its default propensities (conditional
 * Monte Carlo from 64 simulated slates). Floor, measured in the same run: one native copy (`Float32Array.prototype.set`)
 * of the two arrays the scorer must read (posterior means and variances).
 * `scaling` also has other catalogues (`catalogue`): 'half-cold', half the items at their group's prior (a
 * live catalogue where half the items have no clicks yet); 'cold-1', every item at one prior; 'cold-20', every
 * item at its group's prior. Items at one prior are identical: serving scores and plans one entry per class
 * of them (score-classes.ts); before that, cold catalogues were the Thompson sampler's worst case.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { ServingSnapshot } from '../src/core/model/serving-snapshot';
import { parsePolicyConfig, type PolicyConfigInput } from '../src/core/policies/policy-config.schema';
import { scoreCandidates } from '../src/core/policies/score-kernel';
import { prepareSnapshotForServing, serveSlate } from '../src/core/policies/serve-slate';
import { syntheticSnapshot } from '../src/core/policies/testing/synthetic-snapshot';
import { Rng } from '../src/core/random';
import { quantile } from './lib/report';

interface Row {
  /**
   * 'learned' (spread means, 1% of items at their group's prior), 'half-cold' (half the items at their group's
   * prior, as in a live catalogue where half the items have no clicks yet), 'cold-1' (every item at one prior),
   * 'cold-20' (every item at its group's prior, 20 groups).
   */
  catalogue: Catalogue;
  items: number;
  dim: number;
  size: number;
  policy: string;
  p50_ms: number;
  p99_ms: number;
  floor_ms: number;
  ratio: number;
  score_p50_ms: number;
  /** Median CPU time of this process per request (less sensitive than wall time to other processes). */
  cpu_p50_ms: number;
}

type Catalogue = 'learned' | 'half-cold' | 'cold-1' | 'cold-20';

/**
 * A cold catalogue: every item still at its group prior (as after a fresh import), so items of a group
 * have identical score distributions and can all win every draw; 'cold-1' puts every group at one prior.
 */
function coldSnapshot(n: number, dim: number, groups: 1 | 20): ServingSnapshot {
  const s = syntheticSnapshot({ items: n, dim, seed: 1, coldFraction: 1 });
  if (groups === 1) for (let i = 0; i < n; i++) s.mean[i * s.stride + dim] = 0;
  return { ...s, version: `${s.version}-cold${groups}` };
}

function users(snap: ServingSnapshot, count: number, seed: number): Float32Array[] {
  const r = new Rng(seed);
  return Array.from({ length: count }, () => Float32Array.from({ length: snap.dim }, () => r.normal()));
}

function timeFloor(snap: ServingSnapshot, reps: number): number {
  const a = new Float32Array(snap.mean.length);
  const b = new Float32Array(snap.variance.length);
  const ts: number[] = [];
  for (let i = 0; i < reps + 5; i++) {
    const t = performance.now();
    a.set(snap.mean);
    b.set(snap.variance);
    if (i >= 5) ts.push(performance.now() - t);
  }
  return quantile(ts, 0.5);
}

function timeScoring(snap: ServingSnapshot, reps: number): number {
  const rows = Int32Array.from({ length: snap.itemIds.length }, (_, i) => i);
  const us = users(snap, 16, 7);
  const ts: number[] = [];
  for (let i = 0; i < reps + 5; i++) {
    const t = performance.now();
    scoreCandidates(snap, us[i % us.length], rows, true);
    if (i >= 5) ts.push(performance.now() - t);
  }
  return quantile(ts, 0.5);
}

function run(
  snap: ServingSnapshot,
  policyInput: PolicyConfigInput,
  size: number,
  reps: number,
  catalogue: Catalogue = 'learned',
): Row {
  const policy = parsePolicyConfig(policyInput);
  const us = users(snap, 64, 11);
  const warm = Math.min(30, reps);
  const ts: number[] = [];
  const cpu: number[] = [];
  let sink = 0;
  for (let i = 0; i < reps + warm; i++) {
    const c0 = process.cpuUsage();
    const t = performance.now();
    const out = serveSlate(snap, policy, { user: us[i % us.length], size }, new Rng(1000 + i));
    const dt = performance.now() - t;
    const c = process.cpuUsage(c0);
    sink += out.items[0].propensity;
    if (i >= warm) {
      ts.push(dt);
      cpu.push((c.user + c.system) / 1000);
    }
  }
  if (!(sink > 0)) throw new Error('no propensities?');
  const floor = timeFloor(snap, Math.max(50, reps));
  const p50 = quantile(ts, 0.5);
  return {
    catalogue,
    items: snap.itemIds.length,
    dim: snap.dim,
    size,
    policy: policy.name,
    p50_ms: p50,
    p99_ms: quantile(ts, 0.99),
    floor_ms: floor,
    ratio: p50 / floor,
    score_p50_ms: timeScoring(snap, Math.max(30, Math.floor(reps / 4))),
    cpu_p50_ms: quantile(cpu, 0.5),
  };
}

function fmt(r: Row): string {
  return [
    r.catalogue.padEnd(9),
    String(r.items).padStart(8),
    String(r.dim).padStart(4),
    String(r.size).padStart(5),
    r.policy.padEnd(12),
    r.p50_ms.toFixed(3).padStart(9),
    r.p99_ms.toFixed(3).padStart(9),
    r.score_p50_ms.toFixed(3).padStart(9),
    r.floor_ms.toFixed(3).padStart(9),
    r.ratio.toFixed(2).padStart(6),
    r.cpu_p50_ms.toFixed(3).padStart(8),
  ].join(' ');
}

function main(): void {
  const json = process.argv.includes('--json');
  const quick = process.argv.includes('--quick');
  const log = (s: string): void => {
    if (!json) console.log(s);
  };
  const dim = 32;
  const snaps = new Map<string, ServingSnapshot>();
  const prepareMs = new Map<string, number>();
  const snap = (n: number, catalogue: Catalogue = 'learned'): ServingSnapshot => {
    const key = `${catalogue}:${n}`;
    let s = snaps.get(key);
    if (!s) {
      s =
        catalogue === 'learned'
          ? syntheticSnapshot({ items: n, dim, seed: 1 })
          : catalogue === 'half-cold'
            ? syntheticSnapshot({ items: n, dim, seed: 1, coldFraction: 0.5 })
            : coldSnapshot(n, dim, catalogue === 'cold-1' ? 1 : 20);
      // What a model swap does once per snapshot: lay it out for the SIMD kernel, find the classes of
      // identical items.
      const t = performance.now();
      prepareSnapshotForServing(s);
      prepareMs.set(key, performance.now() - t);
      snaps.set(key, s);
    }
    return s;
  };
  log(`serve bench: node ${process.version}, ${process.arch}; synthetic model, d = ${dim}`);
  log(
    `load average at start: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} (2 cores: other processes inflate wall times)`,
  );
  log('catalog     items  dim  size policy         p50 ms    p99 ms  score ms  floor ms  ratio  cpu p50');
  const reps = quick ? 60 : 400;
  const headline = run(snap(100_000), { name: 'in_slate_ts' }, 10, reps);
  log(fmt(headline) + '   <- headline');
  const scaling: Row[] = [];
  const settings: Array<[number, number, PolicyConfigInput, Catalogue?]> = [
    [10_000, 10, { name: 'in_slate_ts' }, 'half-cold'],
    [100_000, 10, { name: 'in_slate_ts' }, 'half-cold'],
    [10_000, 10, { name: 'in_slate_ts' }, 'cold-1'],
    [10_000, 10, { name: 'in_slate_ts' }, 'cold-20'],
    [100_000, 10, { name: 'in_slate_ts' }, 'cold-1'],
    [100_000, 10, { name: 'in_slate_ts' }, 'cold-20'],
    [10_000, 10, { name: 'in_slate_ts' }],
    [1_000_000, 10, { name: 'in_slate_ts' }],
    [100_000, 1, { name: 'in_slate_ts' }],
    [100_000, 50, { name: 'in_slate_ts' }],
    [100_000, 10, { name: 'slate_ts' }],
    [100_000, 10, { name: 'greedy' }],
    [100_000, 10, { name: 'eps_greedy' }],
    [100_000, 10, { name: 'ucb' }],
    [100_000, 10, { name: 'random' }],
  ];
  for (const [n, size, p, catalogue = 'learned'] of settings) {
    const r = run(snap(n, catalogue), p, size, n >= 1_000_000 ? Math.max(30, reps / 8) : reps / 2, catalogue);
    scaling.push(r);
    log(fmt(r));
  }
  log(
    'snapshot preparation for the SIMD kernel (once per model swap): ' +
      [...prepareMs].map(([key, ms]) => `${key} items ${ms.toFixed(0)} ms`).join(', '),
  );
  log(
    'score ms: the scoring pass alone (means and variances of all items); floor: Float32Array.set of both arrays; cpu p50: process CPU time per request.',
  );
  if (json) {
    console.log(
      JSON.stringify({
        setting: {
          items: 100_000,
          dim,
          size: 10,
          policy: 'in_slate_ts',
          propensities: 'conditional, 64 simulated slates',
        },
        node: process.version,
        p50_ms: headline.p50_ms,
        p99_ms: headline.p99_ms,
        floor_ms: headline.floor_ms,
        ratio: headline.ratio,
        score_p50_ms: headline.score_p50_ms,
        cpu_p50_ms: headline.cpu_p50_ms,
        load_average: loadavg(),
        prepare_ms: Object.fromEntries(prepareMs),
        scaling,
      }),
    );
  }
}

main();
