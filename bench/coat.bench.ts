/**
 * `npm run bench:coat -- --data ../shared/data/coat --seeds 10 [--json]`
 *
 * Rel-MF on Coat (Schnabel et al. 2016): train on the missing-not-at-random train.ascii (rating ≥ 4 → click 1,
 * everything else, observed or not, 0), pick hyperparameters on a validation split of the training ratings
 * only, evaluate on the randomised test.ascii. See docs/coat.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expectShape, parseAsciiMatrix, type DenseMatrix } from '../src/core/data/ascii-matrix';
import {
  estimatorTarget,
  idealPairLoss,
  ipsPairLoss,
  type EstimatorConfig,
} from '../src/core/estimators/estimator';
import { FactorModel } from '../src/core/model/factor-model';
import { popularityPropensity } from '../src/core/propensity/popularity';
import { Rng } from '../src/core/random';
import { trainAls } from '../src/core/train/als';
import type { Interactions } from '../src/core/train/interactions';
import { apAtK, argsortDesc, dcgAtK, gradedMetricsAtK, recallAtK } from '../src/core/train/ranking-metrics';
import { emit, flagValue, fmt, formatTable, hasFlag, log, machine } from './lib/report';

const json = hasFlag('json');
const dir = resolve(process.cwd(), flagValue('data', '../shared/data/coat'));
const SEEDS = Number(flagValue('seeds', '10'));
const EPOCHS = Number(flagValue('epochs', '15'));
const KS = [3, 5, 8];
const NU = 290;
const NI = 300;
const ETA = 0.5;
const CLIP_MIN = 1e-3;

function load(name: string): DenseMatrix {
  const m = parseAsciiMatrix(readFileSync(resolve(dir, name), 'utf8'), name);
  return m;
}

if (!existsSync(resolve(dir, 'train.ascii'))) {
  process.stderr.write(
    `bench:coat: Coat data not found at ${dir} (expected train.ascii, test.ascii, propensities.ascii).\n` +
      `Pass --data <dir>; the shared copy lives in ../shared/data/coat relative to the repository (see its README).\n`,
  );
  process.exit(2);
}

const train = load('train.ascii');
const test = load('test.ascii');
const coatProp = load('propensities.ascii');
const itemFeat = load('user_item_features/item_features.ascii');
expectShape(train, NU, NI, 'train.ascii');
expectShape(test, NU, NI, 'test.ascii');
expectShape(coatProp, NU, NI, 'propensities.ascii');
expectShape(itemFeat, NI, 33, 'item_features.ascii');

// Item group for the hierarchical prior: gender × jacket type (one-hot columns 0–1 and 2–17).
const itemGroups = Array.from({ length: NI }, (_, i) => {
  const row = itemFeat.data.subarray(i * 33, (i + 1) * 33);
  const g = row[0] === 1 ? 'men' : 'women';
  let t = -1;
  for (let c = 2; c < 18; c++) if (row[c] === 1) t = c - 2;
  return `${g}/${t}`;
});

type ModelName =
  'popularity' | 'naive' | 'relmf' | 'relmf_clipped' | 'relmf_coatprop' | 'relmf_coatprop_clipped';
// The four models of the issue, then two diagnostics with Coat's own propensity file.
const MODELS: ModelName[] = [
  'popularity',
  'naive',
  'relmf',
  'relmf_clipped',
  'relmf_coatprop',
  'relmf_coatprop_clipped',
];
const usesCoatProp = (m: ModelName): boolean => m === 'relmf_coatprop' || m === 'relmf_coatprop_clipped';

interface Hyper {
  dim: number;
  priorVar: number;
  clip: number;
}

function grid(name: ModelName): Hyper[] {
  const out: Hyper[] = [];
  for (const dim of [8, 16, 32])
    for (const priorVar of [0.01, 0.03, 0.1, 0.3, 1])
      for (const clip of name === 'relmf_clipped'
        ? [0.2, 0.3, 0.5]
        : name === 'relmf_coatprop_clipped'
          ? [0.02, 0.05, 0.1]
          : [0])
        out.push({ dim, priorVar, clip });
  return out;
}

function estimatorOf(name: ModelName, h: Hyper): EstimatorConfig {
  if (name === 'naive') return { kind: 'naive', clip: 0.05 };
  if (name === 'relmf_clipped' || name === 'relmf_coatprop_clipped')
    return { kind: 'ips_clipped', clip: h.clip };
  return { kind: 'ips', clip: 0.05 };
}

/** Positive pairs (u, i) → interactions with Rel-MF targets; every other pair is an implicit zero. */
function interactions(
  pos: [number, number][],
  theta: (u: number, i: number) => number,
  est: EstimatorConfig,
): Interactions {
  return {
    numUsers: NU,
    numItems: NI,
    user: Int32Array.from(pos, (p) => p[0]),
    item: Int32Array.from(pos, (p) => p[1]),
    target: Float64Array.from(pos, (p) => estimatorTarget(est, 1, theta(p[0], p[1]))),
    weight: new Float64Array(pos.length).fill(1),
  };
}

function fit(
  pos: [number, number][],
  theta: (u: number, i: number) => number,
  est: EstimatorConfig,
  h: Hyper,
  seed: number,
): FactorModel {
  const m = FactorModel.create(
    {
      dim: h.dim,
      noiseVar: 1,
      userPriorVar: h.priorVar,
      itemPriorVar: h.priorVar,
      biasPriorVar: 1,
      negativeWeight: 1,
      estimator: est,
    },
    {
      items: Array.from({ length: NI }, (_, i) => ({ id: String(i), group: itemGroups[i] })),
      users: Array.from({ length: NU }, (_, u) => String(u)),
    },
  );
  trainAls(m, interactions(pos, theta, est), { rng: new Rng(seed), epochs: EPOCHS });
  return m;
}

function scoresOf(m: FactorModel | null, pop: Float64Array, u: number, items: number[]): number[] {
  return items.map((i) => (m ? m.score(m.userVec, u * m.dim, i) : pop[i]));
}

/** Saito's unbiased validation criterion: self-normalised IPS DCG@5 of held-out positives among all items not trained on. */
function validationDcg(
  m: FactorModel,
  trainPosSet: Set<number>,
  valByUser: Map<number, number[]>,
  theta: Float64Array,
): number {
  let total = 0;
  let users = 0;
  for (const [u, val] of valByUser) {
    const cand: number[] = [];
    for (let i = 0; i < NI; i++) if (!trainPosSet.has(u * NI + i)) cand.push(i);
    const sc = scoresOf(m, theta, u, cand);
    const order = argsortDesc(sc);
    const valSet = new Set(val);
    let num = 0;
    for (let k = 0; k < 5; k++) {
      const i = cand[order[k]];
      if (valSet.has(i)) num += 1 / Math.max(theta[i], CLIP_MIN) / Math.log2(k + 2);
    }
    const den = val.reduce((a, i) => a + 1 / Math.max(theta[i], CLIP_MIN), 0);
    total += num / den;
    users++;
  }
  return total / users;
}

type Metrics = Record<string, number>;

function evaluate(m: FactorModel | null, pop: Float64Array): { binary: Metrics; graded: Metrics } {
  const acc: Record<string, number[]> = {};
  const gacc: Record<string, number[]> = {};
  const push = (o: Record<string, number[]>, k: string, v: number): void => {
    (o[k] ??= []).push(v);
  };
  for (let u = 0; u < NU; u++) {
    const items: number[] = [];
    const ratings: number[] = [];
    for (let i = 0; i < NI; i++) {
      const r = test.data[u * NI + i];
      if (r > 0) {
        items.push(i);
        ratings.push(r);
      }
    }
    const order = argsortDesc(scoresOf(m, pop, u, items));
    const bin = order.map((j) => (ratings[j] >= 4 ? 1 : 0));
    const graded = order.map((j) => (2 ** (ratings[j] - 1) - 1) / 15);
    const hasRel = bin.some((b) => b > 0);
    for (const k of KS) {
      if (hasRel) {
        push(acc, `dcg@${k}`, dcgAtK(bin, k));
        push(acc, `recall@${k}`, recallAtK(bin, k));
        push(acc, `map@${k}`, apAtK(bin, k));
      }
      const g = gradedMetricsAtK(graded, k);
      push(gacc, `ndcg@${k}`, Number.isNaN(g.dcg) ? 0 : g.dcg);
      push(gacc, `recall@${k}`, Number.isNaN(g.recall) ? 0 : g.recall);
      push(gacc, `map@${k}`, Number.isNaN(g.map) ? 0 : g.map);
    }
  }
  const mean = (o: Record<string, number[]>): Metrics =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v.reduce((a, b) => a + b, 0) / v.length]));
  return { binary: mean(acc), graded: mean(gacc) };
}

/**
 * Semi-synthetic bias/variance of clipped IPS on Coat: take the randomised test pairs' relevance R (rating ≥ 4)
 * as truth and Coat's propensities.ascii as the true exposure probabilities θ, draw clicks Y ~ Bernoulli(θR)
 * many times, and estimate the mean ideal loss of a fixed scorer (item popularity scaled to [0, 1]) by
 * (clipped) IPS. Reports, per clip M, the estimate's bias and its standard deviation across draws.
 */
function clipTradeoff(pop: Float64Array): { clip: number; bias: number; sd: number; rmse: number }[] {
  const pairs: { r: number; theta: number; s: number }[] = [];
  let maxPop = 0;
  for (let i = 0; i < NI; i++) maxPop = Math.max(maxPop, pop[i]);
  for (let u = 0; u < NU; u++)
    for (let i = 0; i < NI; i++) {
      const rating = test.data[u * NI + i];
      if (rating > 0)
        pairs.push({ r: rating >= 4 ? 1 : 0, theta: coatProp.data[u * NI + i], s: pop[i] / maxPop });
    }
  const ideal = pairs.reduce((a, p) => a + idealPairLoss(p.r, p.s), 0) / pairs.length;
  const draws = 2000;
  return [0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5].map((clip) => {
    const rng = new Rng(77);
    const est: number[] = [];
    for (let t = 0; t < draws; t++) {
      let total = 0;
      for (const p of pairs) {
        const y = rng.next() < p.theta * p.r ? 1 : 0;
        total += ipsPairLoss(y, Math.max(p.theta, clip), p.s);
      }
      est.push(total / pairs.length);
    }
    const mean = est.reduce((a, b) => a + b, 0) / draws;
    const sd = Math.sqrt(est.reduce((a, b) => a + (b - mean) ** 2, 0) / (draws - 1));
    return { clip, bias: mean - ideal, sd, rmse: Math.sqrt((mean - ideal) ** 2 + sd * sd) };
  });
}

function main(): void {
  const t0 = Date.now();
  log(`bench:coat on ${machine()}: data ${dir}, ${SEEDS} seeds, ${EPOCHS} ALS epochs`);
  const observed: [number, number][] = [];
  for (let u = 0; u < NU; u++)
    for (let i = 0; i < NI; i++) if (train.data[u * NI + i] > 0) observed.push([u, i]);
  const isPos = (p: [number, number]): boolean => train.data[p[0] * NI + p[1]] >= 4;
  const allPos = observed.filter(isPos);
  const countsOf = (pos: [number, number][]): Float64Array => {
    const c = new Float64Array(NI);
    for (const [, i] of pos) c[i]++;
    return c;
  };
  const fullTheta = popularityPropensity(countsOf(allPos), ETA, CLIP_MIN);
  const coatTheta = (u: number, i: number): number => coatProp.data[u * NI + i];
  // Diagnostic without model selection: test DCG@5 of every grid model (trained on the 90% split), per seed.
  const gridTest = new Map<string, number>();
  const perSeed: Record<ModelName, { binary: Metrics[]; graded: Metrics[]; chosen: Hyper[] }> =
    Object.fromEntries(MODELS.map((m) => [m, { binary: [], graded: [], chosen: [] }])) as never;

  for (let s = 0; s < SEEDS; s++) {
    const rng = new Rng(1000 + s);
    // validation split: 10% of the observed training ratings (as in Saito's code), held out of training
    const shuffled = observed.slice();
    rng.shuffle(shuffled);
    const nVal = Math.round(0.1 * shuffled.length);
    const valPos = shuffled.slice(0, nVal).filter(isPos);
    const trPos = shuffled.slice(nVal).filter(isPos);
    const trTheta = popularityPropensity(countsOf(trPos), ETA, CLIP_MIN);
    const trSet = new Set(trPos.map(([u, i]) => u * NI + i));
    const valByUser = new Map<number, number[]>();
    for (const [u, i] of valPos) valByUser.set(u, [...(valByUser.get(u) ?? []), i]);

    const pop = countsOf(allPos);
    const popEval = evaluate(null, pop);
    perSeed.popularity.binary.push(popEval.binary);
    perSeed.popularity.graded.push(popEval.graded);

    for (const name of MODELS) {
      if (name === 'popularity') continue;
      const thetaTr = usesCoatProp(name) ? coatTheta : (_u: number, i: number): number => trTheta[i];
      const thetaFull = usesCoatProp(name) ? coatTheta : (_u: number, i: number): number => fullTheta[i];
      let best: Hyper | null = null;
      let bestScore = -Infinity;
      for (const h of grid(name)) {
        const m = fit(trPos, thetaTr, estimatorOf(name, h), h, 7 * s + 1);
        const v = validationDcg(m, trSet, valByUser, trTheta);
        if (name === 'naive' || name === 'relmf')
          gridTest.set(`${name}|${s}|${h.dim}|${h.priorVar}`, evaluate(m, countsOf(allPos)).binary['dcg@5']);
        if (v > bestScore) {
          bestScore = v;
          best = h;
        }
      }
      const final = fit(allPos, thetaFull, estimatorOf(name, best!), best!, 7 * s + 2);
      const ev = evaluate(final, pop);
      perSeed[name].binary.push(ev.binary);
      perSeed[name].graded.push(ev.graded);
      perSeed[name].chosen.push(best!);
      log(
        `seed ${s} ${name}: chose dim=${best!.dim} priorVar=${best!.priorVar}${best!.clip ? ` clip=${best!.clip}` : ''} (val SNIPS-DCG@5 ${bestScore.toFixed(4)}); test dcg@5 ${ev.binary['dcg@5'].toFixed(4)}`,
      );
    }
  }

  const summarise = (runs: Metrics[]): Record<string, { mean: number; sd: number }> => {
    const keys = Object.keys(runs[0]);
    return Object.fromEntries(
      keys.map((k) => {
        const xs = runs.map((r) => r[k]);
        const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
        const sd =
          xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
        return [k, { mean, sd: sd < 1e-12 * Math.abs(mean) ? 0 : sd }];
      }),
    );
  };
  const models = Object.fromEntries(MODELS.map((m) => [m, summarise(perSeed[m].binary)]));
  const graded = Object.fromEntries(MODELS.map((m) => [m, summarise(perSeed[m].graded)]));
  // Paired comparison over seeds (every model of a seed shares its validation split): mean difference of
  // DCG@5, its standard error, and the number of seeds where the first model wins.
  const paired = (
    a: ModelName,
    b: ModelName,
    key = 'dcg@5',
  ): { diff: number; se: number; wins: number; seeds: number } => {
    const ds = perSeed[a].binary.map((r, k) => r[key] - perSeed[b].binary[k][key]);
    const diff = ds.reduce((x, y) => x + y, 0) / ds.length;
    const sd = ds.length > 1 ? Math.sqrt(ds.reduce((x, y) => x + (y - diff) ** 2, 0) / (ds.length - 1)) : 0;
    return { diff, se: sd / Math.sqrt(ds.length), wins: ds.filter((x) => x > 0).length, seeds: ds.length };
  };
  const comparisons = {
    'relmf - naive': paired('relmf', 'naive'),
    'relmf - popularity': paired('relmf', 'popularity'),
    'relmf_clipped - naive': paired('relmf_clipped', 'naive'),
    'naive - popularity': paired('naive', 'popularity'),
    'relmf - relmf_coatprop_clipped': paired('relmf', 'relmf_coatprop_clipped'),
  };
  // Estimator effect with selection noise removed: relmf − naive at the same (seed, dim, priorVar), all grid points.
  const gridDiffs: number[] = [];
  for (const [k, v] of gridTest)
    if (k.startsWith('relmf|')) gridDiffs.push(v - gridTest.get(k.replace('relmf|', 'naive|'))!);
  const gdMean = gridDiffs.reduce((a, b) => a + b, 0) / gridDiffs.length;
  const gdSd = Math.sqrt(
    gridDiffs.reduce((a, b) => a + (b - gdMean) ** 2, 0) / Math.max(1, gridDiffs.length - 1),
  );
  // Oracle diagnostic (NOT a result: selects on test): each model's best grid point on test, per seed.
  const oracle = (name: string, seed: number): number =>
    Math.max(...[...gridTest].filter(([k]) => k.startsWith(`${name}|${seed}|`)).map(([, v]) => v));
  const oracleDiffs = Array.from(
    { length: SEEDS },
    (_, seed) => oracle('relmf', seed) - oracle('naive', seed),
  );
  const odMean = oracleDiffs.reduce((a, b) => a + b, 0) / SEEDS;
  const gridDiagnostic = {
    oracle_mean_diff: odMean,
    oracle_wins: oracleDiffs.filter((x) => x > 0).length,
    oracle_naive_dcg5:
      Array.from({ length: SEEDS }, (_, seed) => oracle('naive', seed)).reduce((a, b) => a + b, 0) / SEEDS,
    oracle_relmf_dcg5:
      Array.from({ length: SEEDS }, (_, seed) => oracle('relmf', seed)).reduce((a, b) => a + b, 0) / SEEDS,
    pairs: gridDiffs.length,
    mean_diff: gdMean,
    sd: gdSd,
    wins: gridDiffs.filter((x) => x > 0).length,
    note: 'relmf − naive test DCG@5 at identical (seed, dim, priorVar), models trained on the 90% split, no selection',
  };
  const chosen = Object.fromEntries(
    MODELS.filter((m) => m !== 'popularity').map((m) => [m, perSeed[m].chosen]),
  );
  const tradeoff = clipTradeoff(countsOf(allPos));
  const result = {
    models,
    graded: { models: graded },
    paired_dcg5: comparisons,
    grid_diagnostic: gridDiagnostic,
    clip_tradeoff: tradeoff,
    chosen,
    setting: {
      seeds: SEEDS,
      epochs: EPOCHS,
      data: dir,
      propensity: {
        relmf: `popularity θ_i = (n_i / max n)^${ETA} on training clicks, clipped at ${CLIP_MIN}`,
        relmf_clipped: 'popularity, then θ → max(θ, M), M chosen on validation',
        relmf_coatprop: "Coat's propensities.ascii (P(rated) per user–item), unclipped",
        relmf_coatprop_clipped: "Coat's propensities.ascii, θ → max(θ, M), M chosen on validation",
      },
      validation:
        '10% of observed training ratings held out; criterion: self-normalised IPS DCG@5 (popularity θ) over all items not trained on',
      machine: machine(),
      seconds: (Date.now() - t0) / 1000,
    },
  };
  const cell = (x: { mean: number; sd: number }): string => `${fmt(x.mean)} ± ${fmt(x.sd)}`;
  emit(json, result, () => {
    const keys = Object.keys(models.naive);
    const gkeys = Object.keys(graded.naive);
    return [
      `bench:coat — ${machine()}; ${SEEDS} seeds; ${result.setting.seconds.toFixed(0)} s`,
      '',
      'Binary relevance (rating ≥ 4), users with ≥ 1 relevant test item; mean ± sd over seeds',
      formatTable(
        ['model', ...keys],
        MODELS.map((m) => [m, ...keys.map((k) => cell(models[m][k]))]),
      ),
      '',
      'Graded relevance (2^(r−1) − 1)/15, normalised by Σrel (Saito ICTIR 2020), all users',
      formatTable(
        ['model', ...gkeys],
        MODELS.map((m) => [m, ...gkeys.map((k) => cell(graded[m][k]))]),
      ),
      '',
      'Paired differences of DCG@5 over seeds (same validation split per seed)',
      formatTable(
        ['comparison', 'mean diff', 'se', 'wins / seeds'],
        Object.entries(comparisons).map(([k, c]) => [k, c.diff, c.se, `${c.wins} / ${c.seeds}`]),
      ),
      '',
      `Estimator effect without model selection: ${gridDiagnostic.note}:`,
      `  mean ${fmt(gridDiagnostic.mean_diff)} (sd ${fmt(gridDiagnostic.sd)}), relmf wins ${gridDiagnostic.wins} / ${gridDiagnostic.pairs}`,
      `Oracle check (selects on test; a diagnostic, not a result): best grid point per seed, naive ${fmt(gridDiagnostic.oracle_naive_dcg5)}, relmf ${fmt(gridDiagnostic.oracle_relmf_dcg5)}, relmf − naive ${fmt(gridDiagnostic.oracle_mean_diff)}, relmf wins ${gridDiagnostic.oracle_wins} / ${SEEDS}`,
      '',
      "Clipped IPS bias/variance, semi-synthetic on Coat's test pairs (truth: rating ≥ 4; exposure: propensities.ascii;",
      'scorer: item popularity; 2000 click draws; M = 0 is unclipped IPS)',
      formatTable(
        ['clip M', 'bias', 'sd', 'rmse'],
        tradeoff.map((t) => [t.clip, t.bias, t.sd, t.rmse]),
      ),
      '',
      `propensities: ${JSON.stringify(result.setting.propensity)}`,
      `validation: ${result.setting.validation}`,
    ].join('\n');
  });
}

main();
