/**
 * npm run bench:propensities [-- --policy in_slate_ts|slate_ts --items 10000 --size 10 --cold 0.01,0.5,0.9
 *   --slates 60 --truth 20000 --json] [--ips USERS --ips-slates 5000 --ips-items 1000]
 *
 * How close the logged Monte Carlo propensities of in_slate_ts (or, `--policy slate_ts`, of slate_ts: the one-draw
 * conditional estimate, `conditionalSlateTsPropensities`) come to the true ones, and what each estimator
 * costs: the numbers an operator needs to choose a policy's `propensitySlates`, and the ones behind docs/serving.md
 * (Propensities).
 *
 * Per catalogue (`--cold`: the fraction of items still at their group's prior; synthetic, as bench:serve-ab), `--slates`
 * served slates of `--size` items (10) for different users. For each served (item, position) pair (in_slate_ts past
 * 12 items, where serving counts, the conditional rows show what that estimate would give):
 * - the truth: the conditional estimate from `--truth` simulated slates, as two independent halves whose
 *   disagreement is printed (the truth's own relative error) so that it can be checked to be far below the errors
 *   measured against it (the estimator is unbiased and tested against brute force in conditional-propensities.spec.ts);
 * - each estimator's p̂/p, for the served pairs (what serving logs). Estimators: conditional Monte Carlo from S
 *   simulated slates (the default for served in_slate_ts slates of 2–12 items, S = 64), the same mixed with the
 *   served slate at weight λ = 1/(16·S + 1) or 1/(S + 1) ((1 − λ)·c̄ + λ: bounds the IPS weight by 1/λ, lifts a served
 *   pair by λ(1 − p)), and counts of where the served items landed in S simulated slates plus the served one (the
 *   estimator before the sixteenth session; S = 256 was its default).
 *
 * Columns: quantiles of p̂/p; `mean p/p̂`, by how much 1/p̂ overstates 1/p on average (an IPS estimate that weights
 * these pairs is inflated by about that factor; unbiased p̂ gives > 1 by Jensen's inequality when it is noisy); the
 * in-slate probabilities' 1% and 99% quantiles; the CPU time of the estimate per slate (the slate's scoring and
 * selection, `rest`, for scale), and its ratio to the counts at 256 measured on the same slates in the same run.
 * With `--ips`, also an off-policy estimate from each estimator's propensities (see `ipsCheck`).
 */
import { resolveSlateRequest } from '../src/core/policies/slate-request';
import { prepareSnapshotForServing, scoreWithSampler } from '../src/core/policies/serve-slate';
import { inSlateProbability, propensityAt } from '../src/core/policies/slate-propensities';
import { selectGreedy } from '../src/core/policies/greedy';
import type { ResolvedRequest } from '../src/core/policies/slate-request';
import type { ServingSnapshot } from '../src/core/model/serving-snapshot';
import type { Selection } from '../src/core/policies/policy-types';
import type { ThompsonTopK } from '../src/core/policies/thompson-sampler';
import { conditionalServedPropensities } from '../src/core/policies/conditional-propensities';
import {
  CONDITIONAL_MAX_K,
  conditionalSlates,
  oneDrawRanks,
  selectInSlateTs,
  selectSlateTs,
  thompsonPropensities,
  usesOneDrawConditional,
} from '../src/core/policies/thompson-policies';
import { syntheticSnapshot } from '../src/core/policies/testing/synthetic-snapshot';
import { NormalStream, Rng } from '../src/core/random';
import { emit, flagValue, formatTable, hasFlag, log, machine, median, quantile } from './lib/report';

interface Estimator {
  name: string;
  conditional: boolean;
  slates: number;
  /** The served slate's own window's weight w against one simulated slate's, (S·c̄ + w·q)/(S + w); unset: the default. */
  servedWeight?: number;
}

const ESTIMATORS: Estimator[] = [
  { name: 'conditional, 16', conditional: true, slates: 16 },
  { name: 'conditional, 32', conditional: true, slates: 32 },
  { name: 'conditional, 64 (default)', conditional: true, slates: 64 },
  { name: 'conditional, 128', conditional: true, slates: 128 },
  { name: 'conditional, 64, no served window', conditional: true, slates: 64, servedWeight: 0 },
  { name: 'conditional, 64, served window ×1/16', conditional: true, slates: 64, servedWeight: 1 / 16 },
  { name: 'conditional, 64, served window ×4', conditional: true, slates: 64, servedWeight: 4 },
  { name: 'counts, 64 + served', conditional: false, slates: 64 },
  { name: 'counts, 256 + served (baseline)', conditional: false, slates: 256 },
];
const BASELINE = ESTIMATORS.length - 1;
const DEFAULT = 2;

interface Row {
  cold: number;
  estimator: string;
  simulated_slates: number;
  pairs: number;
  q01: number;
  q10: number;
  q50: number;
  q90: number;
  q99: number;
  max: number;
  mean_inverse: number;
  marginal_q01: number;
  marginal_q99: number;
  cpu_ms: number;
  cpu_ratio: number;
}

interface IpsRow {
  user: number;
  truth: number;
  estimates: { estimator: string; value: number; se: number; max_weight: number }[];
}

type Policy = 'in_slate_ts' | 'slate_ts';

/**
 * Score a request with the sampler an estimate needs: slate_ts's conditional estimate draws one rank more than the
 * slate (as serving does), counting draws k. Samplers share scratch memory: one is valid until the next is built.
 */
function scored(
  policy: Policy,
  snap: ServingSnapshot,
  req: ResolvedRequest,
  conditional: boolean,
): ReturnType<typeof scoreWithSampler> {
  const oneDraw = conditional && usesOneDrawConditional(policy, req.k);
  return scoreWithSampler(snap, req, true, oneDraw ? oneDrawRanks(req.k, req.rows.length) : req.k);
}

/** The served slate, as serving selects it (slate_ts from the sampler of one rank more). */
function selectServed(policy: Policy, sampler: ThompsonTopK, k: number, rng: Rng): Selection {
  return policy === 'in_slate_ts' ? selectInSlateTs(sampler, k, rng) : selectSlateTs(sampler, k, rng);
}

/** The estimate of the served items' propensities (the served slate's draws as its window unless `window` is false). */
function estimateServed(
  policy: Policy,
  sc: ReturnType<typeof scoreWithSampler>['sc'],
  sampler: ThompsonTopK,
  sel: Selection,
  e: { conditional: boolean; servedWeight?: number },
  slates: number,
  rng: Rng,
): ReturnType<typeof thompsonPropensities> {
  const window = e.servedWeight !== 0;
  const k = sel.cand.length;
  // Past CONDITIONAL_MAX_K items serving counts; the conditional rows then show what the estimate would be.
  if (policy === 'in_slate_ts' && e.conditional && k > CONDITIONAL_MAX_K)
    return conditionalServedPropensities(
      sc,
      sampler,
      k,
      slates,
      new NormalStream(rng),
      sel.cand,
      window ? sel.draws : undefined,
      e.servedWeight,
    );
  return thompsonPropensities(sc, sampler, sel.cand.length, policy, slates, rng, sel.cand, {
    servedOnly: true,
    conditional: e.conditional,
    servedDraws: window ? sel.draws : undefined,
    servedDraw: window ? sel.draw : undefined,
    servedWeight: e.servedWeight,
  });
}

const IPS_ESTIMATORS = [
  { name: 'conditional 64 + served window (default)', conditional: true, slates: 64, window: true },
  { name: 'conditional 64, simulation only', conditional: true, slates: 64, window: false },
  { name: 'counts 256 + served', conditional: false, slates: 256, window: false },
];

/**
 * `--ips USERS`: what the logged propensities do to an off-policy estimate. For each of USERS users of a learned
 * catalogue (`--ips-items`, 1% cold, d = 8), `--ips-slates` slates of 10 served by in_slate_ts and clicked with
 * probability θᵢ·κⱼ (θᵢ = 0.5·σ(2·mᵢ), κⱼ = 1/j); the item-position IPS estimate of the greedy slate's expected
 * clicks Σⱼ θ_gⱼ·κⱼ (known exactly) from each estimator's propensities on the same logged slates and clicks.
 */
function ipsCheck(policy: Policy, users: number, slates: number, items: number): IpsRow[] {
  const k = 10;
  const dim = 8;
  const snap = syntheticSnapshot({ items, dim, seed: 3, coldFraction: 0.01 });
  prepareSnapshotForServing(snap);
  const out: IpsRow[] = [];
  for (let u = 1; u <= users; u++) {
    log(`IPS check: user ${u} of ${users}, ${slates} logged slates`);
    const ur = new Rng(u);
    const user = Float64Array.from({ length: dim }, () => ur.normal());
    const req = resolveSlateRequest(snap, { size: k, user });
    const first = scoreWithSampler(snap, req).sc;
    const theta = Float64Array.from(first.mean, (m) => 0.5 / (1 + Math.exp(-2 * m)));
    const greedy = selectGreedy(first, k).cand;
    const greedyItem = Array.from(greedy, (c) => first.rows[c]);
    let truth = 0;
    for (let j = 0; j < k; j++) truth += theta[greedy[j]] / (j + 1);
    const sum = IPS_ESTIMATORS.map(() => 0);
    const sq = IPS_ESTIMATORS.map(() => 0);
    const maxWeight = IPS_ESTIMATORS.map(() => 0);
    const clickRng = new Rng(1000 + u);
    for (let n = 0; n < slates; n++) {
      const first = scored(policy, snap, req, true);
      const sel = selectServed(policy, first.sampler, k, new Rng(1_000_000 * u + n));
      const clicks = Array.from(sel.cand, (c, j) => (clickRng.next() < theta[c] / (j + 1) ? 1 : 0));
      IPS_ESTIMATORS.forEach((e, i) => {
        // Counting (last) needs slate_ts's sampler of k ranks: scored again.
        const { sc, sampler } = e.conditional ? first : scored(policy, snap, req, false);
        const m = estimateServed(
          policy,
          sc,
          sampler,
          sel,
          { conditional: e.conditional, servedWeight: e.window ? undefined : 0 },
          e.slates,
          new Rng(2_000_000 * u + n),
        );
        let v = 0;
        for (let j = 0; j < k; j++) {
          const item = sc.rows[sel.cand[j]];
          if (item !== greedyItem[j]) continue;
          const w = 1 / propensityAt(m, item, j);
          v += clicks[j] * w;
          maxWeight[i] = Math.max(maxWeight[i], w);
        }
        sum[i] += v;
        sq[i] += v * v;
      });
    }
    out.push({
      user: u,
      truth,
      estimates: IPS_ESTIMATORS.map((e, i) => {
        const mean = sum[i] / slates;
        return {
          estimator: e.name,
          value: mean,
          se: Math.sqrt(Math.max(sq[i] / slates - mean * mean, 0) / slates),
          max_weight: maxWeight[i],
        };
      }),
    });
  }
  return out;
}

function cpuMs(fn: () => void): number {
  const t = process.cpuUsage();
  fn();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1000;
}

function main(): void {
  const json = hasFlag('json');
  const policy = flagValue('policy', 'in_slate_ts');
  if (policy !== 'in_slate_ts' && policy !== 'slate_ts')
    throw new Error(`--policy: in_slate_ts or slate_ts, not ${policy}`);
  const items = Number(flagValue('items', '10000'));
  const colds = flagValue('cold', '0.01,0.5,0.9').split(',').map(Number);
  const nSlates = Number(flagValue('slates', '60'));
  const truthSlates = Number(flagValue('truth', '20000'));
  const warmup = 5;
  const size = Number(flagValue('size', '10'));
  const dim = 32;
  for (const [name, v] of [
    ['items', items],
    ['size', size],
    ['slates', nSlates],
    ['truth', truthSlates],
  ] as const)
    if (!Number.isInteger(v) || v < 2) throw new Error(`--${name}: an integer ≥ 2, not ${v}`);
  if (colds.some((c) => !(c >= 0 && c < 1))) throw new Error('--cold: fractions in [0, 1)');
  const ipsUsers = Number(flagValue('ips', '0'));
  const ipsSlates = Number(flagValue('ips-slates', '5000'));
  const ipsItems = Number(flagValue('ips-items', '1000'));
  for (const [name, v, min] of [
    ['ips', ipsUsers, 0],
    ['ips-slates', ipsSlates, 2],
    ['ips-items', ipsItems, 20],
  ] as const)
    if (!Number.isInteger(v) || v < min) throw new Error(`--${name}: an integer ≥ ${min}, not ${v}`);
  const rows: Row[] = [];
  const truthError: { cold: number; median: number; q90: number; rest_cpu_ms: number }[] = [];
  for (const cold of colds) {
    log(
      `catalogue: ${items} items, ${cold} cold; ${nSlates} slates, truth from ${truthSlates} simulated slates`,
    );
    const snap = syntheticSnapshot({ items, dim, seed: 1, coldFraction: cold });
    prepareSnapshotForServing(snap);
    const r = new Rng(7);
    const ratio: number[][] = ESTIMATORS.map(() => []);
    const inverse: number[][] = ESTIMATORS.map(() => []);
    const marginal: number[][] = ESTIMATORS.map(() => []);
    const cpu = ESTIMATORS.map(() => 0);
    const halves: number[] = [];
    let restCpu = 0;
    let seed = 1000;
    // The first `warmup` slates only warm the JIT: their figures are dropped.
    for (let s = -warmup; s < nSlates; s++) {
      const user = Float64Array.from({ length: dim }, () => r.normal());
      let sel: Selection | undefined;
      let current: ReturnType<typeof scoreWithSampler> | undefined;
      const record = s >= 0;
      const req = resolveSlateRequest(snap, { size, user });
      const rest = cpuMs(() => {
        current = scored(policy, snap, req, true);
        sel = selectServed(policy, current.sampler, req.k, new Rng(seed++));
      });
      if (record) restCpu += rest;
      let currentConditional = true;
      const k = sel!.cand.length;
      if (k !== size || current!.sampler.exchangeable)
        throw new Error(`expected a ${size}-item slate of distinct posteriors`);
      const served = sel!.cand;
      // The estimate alone is timed: a rescore for a sampler of other ranks (slate_ts: counting) is not.
      let spent = 0;
      const estimate = (e: Estimator, slates: number, rngSeed: number) => {
        if (policy === 'slate_ts' && e.conditional !== currentConditional) {
          current = scored(policy, snap, req, e.conditional);
          currentConditional = e.conditional;
        }
        const { sc, sampler } = current!;
        let m: ReturnType<typeof thompsonPropensities> | undefined;
        spent = cpuMs(() => (m = estimateServed(policy, sc, sampler, sel!, e, slates, new Rng(rngSeed))));
        const at = new Float64Array(k);
        const inSlate = new Float64Array(k);
        for (let j = 0; j < k; j++) {
          const item = sc.rows[served[j]];
          at[j] = propensityAt(m!, item, j);
          inSlate[j] = inSlateProbability(m!, item);
        }
        return { at, inSlate };
      };
      const exact: Estimator = { name: 'truth', conditional: true, slates: truthSlates };
      const half = Math.floor(truthSlates / 2);
      const a = estimate(exact, half, seed++);
      const b = estimate(exact, truthSlates - half, seed++);
      const truthAt = a.at.map((x, j) => (x * half + b.at[j] * (truthSlates - half)) / truthSlates);
      const truthIn = a.inSlate.map((x, j) => (x * half + b.inSlate[j] * (truthSlates - half)) / truthSlates);
      if (record) for (let j = 0; j < k; j++) halves.push(Math.abs(a.at[j] - b.at[j]) / (a.at[j] + b.at[j]));
      // Each estimator on this slate, in an order that rotates with the slate (the machine's drift spread evenly).
      const estSeed = seed++;
      const again = estimate(ESTIMATORS[DEFAULT], ESTIMATORS[DEFAULT].slates, estSeed);
      for (let i = 0; i < ESTIMATORS.length; i++) {
        const e = ESTIMATORS[(i + s + warmup) % ESTIMATORS.length];
        const idx = ESTIMATORS.indexOf(e);
        const got = estimate(e, e.slates, estSeed);
        if (idx === DEFAULT && got.at.some((x, j) => x !== again.at[j]))
          throw new Error(
            'the same estimate twice from one seed differed: the sampler keeps state between calls',
          );
        if (!record) continue;
        cpu[idx] += spent;
        for (let j = 0; j < k; j++) {
          ratio[idx].push(got.at[j] / truthAt[j]);
          inverse[idx].push(truthAt[j] / got.at[j]);
          marginal[idx].push(got.inSlate[j] / truthIn[j]);
        }
      }
    }
    truthError.push({
      cold,
      // |a − b| / (a + b) ≈ |a − b| / 2p has the law of |(a + b)/2 − p| / p: the truth's own relative error.
      median: median(halves),
      q90: quantile(halves, 0.9),
      rest_cpu_ms: restCpu / nSlates,
    });
    ESTIMATORS.forEach((e, i) => {
      const x = ratio[i];
      rows.push({
        cold,
        estimator: e.name,
        simulated_slates: e.slates,
        pairs: x.length,
        q01: quantile(x, 0.01),
        q10: quantile(x, 0.1),
        q50: quantile(x, 0.5),
        q90: quantile(x, 0.9),
        q99: quantile(x, 0.99),
        max: Math.max(...x),
        mean_inverse: inverse[i].reduce((s2, v) => s2 + v, 0) / inverse[i].length,
        marginal_q01: quantile(marginal[i], 0.01),
        marginal_q99: quantile(marginal[i], 0.99),
        cpu_ms: cpu[i] / nSlates,
        cpu_ratio: cpu[i] / cpu[BASELINE],
      });
    });
  }
  const ips = ipsUsers > 0 ? ipsCheck(policy, ipsUsers, ipsSlates, ipsItems) : [];
  const data = {
    policy,
    items,
    dim,
    size,
    slates: nSlates,
    truth_slates: truthSlates,
    rows,
    truth_error: truthError,
    ...(ips.length > 0 ? { ips: { items: ipsItems, slates: ipsSlates, rows: ips } } : {}),
    machine: machine(),
  };
  emit(json, data, () =>
    [
      `bench:propensities: ${policy}, ${items} items, d ${dim}, size ${size}; ${nSlates} served slates a catalogue; truth from ${truthSlates} simulated slates; ${data.machine}`,
      formatTable(
        [
          'cold',
          'estimator',
          'p̂/p 1%',
          '10%',
          'median',
          '90%',
          '99%',
          'max',
          'mean p/p̂',
          'in-slate 1%',
          'in-slate 99%',
          'CPU ms/slate',
          'CPU / baseline',
        ],
        rows.map((x) => [
          x.cold,
          x.estimator,
          x.q01,
          x.q10,
          x.q50,
          x.q90,
          x.q99,
          x.max,
          x.mean_inverse,
          x.marginal_q01,
          x.marginal_q99,
          x.cpu_ms,
          x.cpu_ratio,
        ]),
      ),
      `truth's own relative error (two halves of ${truthSlates}): ` +
        truthError
          .map(
            (t) => `${t.cold} cold: median ${(100 * t.median).toFixed(2)}%, 90% ${(100 * t.q90).toFixed(2)}%`,
          )
          .join('; '),
      `a slate's scoring and selection (for scale): ` +
        truthError.map((t) => `${t.cold} cold ${t.rest_cpu_ms.toFixed(3)} ms`).join(', '),
      'p̂/p over the served (item, position) pairs; CPU: process time of the estimate alone, per slate.',
      `what serving logs at this size: ${
        policy === 'slate_ts'
          ? 'conditional, 64 + served draw'
          : size <= CONDITIONAL_MAX_K
            ? `conditional, ${conditionalSlates(size)} + served window`
            : 'counts, 256 + served'
      } (the rows labelled default are the default up to 12 items).`,
      ...(ips.length > 0
        ? [
            '',
            `IPS of the greedy slate's expected clicks from ${ipsSlates} logged ${policy} slates a user (${ipsItems} items, 1% cold, d 8, size 10):`,
            formatTable(
              ['user', 'truth', 'estimator', 'IPS', '± se', 'IPS / truth', 'max weight'],
              ips.flatMap((r) =>
                r.estimates.map((e) => [
                  r.user,
                  r.truth,
                  e.estimator,
                  e.value,
                  e.se,
                  e.value / r.truth,
                  e.max_weight,
                ]),
              ),
            ),
          ]
        : []),
    ].join('\n'),
  );
}

main();
