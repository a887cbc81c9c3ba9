/**
 * Replay benchmark: off-policy evaluation of 1M logged OBD-shaped impressions (one shown item per row,
 * 34 items, positions 1..3, a BTS-like non-uniform logger with per-position propensities, CTR ~0.5 %)
 * with IPS, SNIPS and DR and 200 bootstrap resamples.
 *
 * Same-run baselines, so the figures can be read on any machine: one pass summing the rows (the floor
 * of any estimator), and the textbook bootstrap of the reward column alone (gather n rows drawn with
 * Rng.nextInt per resample; timed on 20 resamples and reported per resample and scaled to B).
 * Timings are the median of --reps runs (default 3); the sandbox is shared, so look at the baselines.
 *
 *   npm run bench:replay [-- --rows 1000000 --resamples 200 --reps 3 --json]
 */
import { Rng } from '../src/core/random';
import { BernoulliTsPolicy, UniformRandomPolicy, evaluateOffPolicy, type SlotLog } from '../src/core/ope';
import { emit, flagValue, formatTable, hasFlag, log, machine, median, timeMs } from './lib/report';

const rows = Number(flagValue('rows', '1000000'));
const resamples = Number(flagValue('resamples', '200'));
const seed = Number(flagValue('seed', '7'));
const json = hasFlag('json');
const reps = Number(flagValue('reps', '3'));
const naiveResamples = Math.min(resamples, 20);
const m = 34;
const L = 3;

/** An OBD-shaped log: each row its own impression, items drawn from a BTS logger's marginals. */
function syntheticLog(): SlotLog {
  const rng = new Rng(seed);
  // A BTS logger over synthetic Beta priors (means 0.2 %–2 %), its marginals by Monte Carlo.
  const alpha = Array.from({ length: m }, () => 2 + rng.next() * 40);
  const beta = alpha.map((a) => a / (0.002 + rng.next() * 0.018));
  const mu = new BernoulliTsPolicy({ alpha, beta, slateSize: L, nSim: 20_000, seed }).actionDistribution();
  // Floor μ at 1e-4 and renormalise so every item has support (IPS needs μ > 0 where π > 0).
  const cdf = new Float64Array(m * L);
  for (let k = 0; k < L; k++) {
    let s = 0;
    for (let a = 0; a < m; a++) s += Math.max(1e-4, mu.probs[a * L + k]);
    let c = 0;
    for (let a = 0; a < m; a++) {
      const p = Math.max(1e-4, mu.probs[a * L + k]) / s;
      mu.probs[a * L + k] = p;
      c += p;
      cdf[k * m + a] = c;
    }
  }
  const ctr = alpha.map((a, i) => a / (a + beta[i]));
  const slateStart = new Int32Array(rows + 1);
  const item = new Int32Array(rows);
  const position = new Uint8Array(rows);
  const reward = new Float64Array(rows);
  const pscore = new Float64Array(rows);
  const t0 = Date.UTC(2019, 10, 24);
  const time = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    slateStart[i] = i;
    const k = rng.nextInt(L);
    const u = rng.next() * cdf[k * m + m - 1];
    let a = 0;
    while (a < m - 1 && cdf[k * m + a] <= u) a++;
    item[i] = a;
    position[i] = k;
    pscore[i] = mu.probs[a * L + k];
    reward[i] = rng.next() < ctr[a] * (1 - 0.2 * k) ? 1 : 0;
    time[i] = t0 + (i * 7 * 86_400_000) / rows;
  }
  slateStart[rows] = rows;
  return {
    nItems: m,
    slateSize: L,
    nSlots: rows,
    nSlates: rows,
    slateStart,
    item,
    position,
    reward,
    pscore,
    context: new Int32Array(rows),
    time,
  };
}

log(`generating ${rows} OBD-shaped rows…`);
const data = syntheticLog();
const policy = new UniformRandomPolicy(m, L);
const estimators = ['ipw', 'snipw', 'dr'] as const;

// Baseline 1: one pass summing the rows.
let sink = 0;
const passMs = median(
  Array.from({ length: reps }, () =>
    timeMs(() => {
      let s = 0;
      for (let i = 0; i < rows; i++) s += data.reward[i] / data.pscore[i];
      sink += s;
    }),
  ),
);
// Baseline 2: the textbook bootstrap of one column, n gathered draws per resample.
log(`naive bootstrap baseline (${naiveResamples} resamples)…`);
const naivePerResampleMs =
  timeMs(() => {
    const rng = new Rng(seed);
    for (let b = 0; b < naiveResamples; b++) {
      let s = 0;
      for (let d = 0; d < rows; d++) s += data.reward[rng.nextInt(rows)];
      sink += s;
    }
  }) / naiveResamples;
log('point estimates…');
let point: ReturnType<typeof evaluateOffPolicy> | undefined;
const pointMs = median(
  Array.from({ length: reps }, () =>
    timeMs(() => {
      point = evaluateOffPolicy(data, policy, [null], { estimators, bootstrap: 0, seed });
    }),
  ),
);
log(`estimates + ${resamples} bootstrap resamples (×${reps})…`);
let full: ReturnType<typeof evaluateOffPolicy> | undefined;
const fullRuns = Array.from({ length: reps }, () =>
  timeMs(() => {
    full = evaluateOffPolicy(data, policy, [null], { estimators, bootstrap: resamples, seed });
  }),
);
const fullMs = median(fullRuns);
const bootFloorMs = naivePerResampleMs * resamples;
const rate = (ms: number): number => rows / (ms / 1000);
const result = {
  bench: 'replay',
  machine: machine(),
  rows,
  resamples,
  estimators,
  seconds: {
    baselineOnePass: passMs / 1000,
    baselineNaiveBootstrapOneColumnPerResample: naivePerResampleMs / 1000,
    baselineNaiveBootstrapOneColumnScaledToB: bootFloorMs / 1000,
    estimatesWithBootstrapRuns: fullRuns.map((x) => x / 1000),
    bootstrapPerResample: (fullMs - pointMs) / resamples / 1000,
    pointEstimates: pointMs / 1000,
    estimatesWithBootstrap: fullMs / 1000,
  },
  rowsPerSecond: {
    baselineOnePass: rate(passMs),
    pointEstimates: rate(pointMs),
    estimatesWithBootstrap: rate(fullMs),
  },
  estimates: Object.fromEntries(
    estimators.map((e) => [e, { value: full!.estimates[e]!.value, ci95: full!.estimates[e]!.ci95 }]),
  ),
  pointCheck: point!.estimates.ipw!.value === full!.estimates.ipw!.value,
  sink,
};
emit(json, result, () =>
  [
    `replay bench: ${rows} rows, ${estimators.join('+')}, ${resamples} bootstrap resamples — ${machine()}`,
    formatTable(
      ['phase', 'seconds', 'rows/s'],
      [
        ['baseline: one pass summing the rows', passMs / 1000, rate(passMs)],
        [
          `baseline: naive bootstrap of 1 column, ${naiveResamples} resamples ×${resamples / naiveResamples}`,
          bootFloorMs / 1000,
          rate(bootFloorMs),
        ],
        ['ipw+snipw+dr point estimates', pointMs / 1000, rate(pointMs)],
        [`ipw+snipw+dr + ${resamples} bootstrap resamples`, fullMs / 1000, rate(fullMs)],
      ],
    ),
    `(median of ${reps}; runs with bootstrap: ${fullRuns.map((x) => (x / 1000).toFixed(2)).join(', ')} s; ${((fullMs - pointMs) / resamples).toFixed(1)} ms per resample for 3 estimators)`,
    '',
    formatTable(
      ['estimator', 'value', '95% low', '95% high'],
      estimators.map((e) => [
        e,
        full!.estimates[e]!.value,
        full!.estimates[e]!.ci95![0],
        full!.estimates[e]!.ci95![1],
      ]),
    ),
  ].join('\n'),
);
