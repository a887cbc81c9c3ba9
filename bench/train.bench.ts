/**
 * `npm run bench:train [-- --json] [--users N --items N --nnz N --dim D]`
 *
 * Batch ALS epoch time on synthetic data (default 1M logged pairs, 100k users, 20k items, d = 32) and online
 * event updates per second, each next to a plain scalar reference implementation of the same step
 * (`src/core/train/als-reference.ts`, `accumulateEventsReference`) run in the same process. The scalar
 * references run on a subset of rows and are extrapolated linearly in the number of rows (said in the output).
 */
import { FactorModel } from '../src/core/model/factor-model';
import {
  accumulateEvents,
  accumulateEventsReference,
  applyEvents,
  type EventBatch,
} from '../src/core/model/online';
import { ItemStats } from '../src/core/model/item-stats';
import { decodeModel, encodeModel } from '../src/core/model/serialize';
import { buildServingSnapshot } from '../src/core/model/serving';
import { foldInUser } from '../src/core/model/user-solve';
import { popularityPropensity } from '../src/core/propensity/popularity';
import { Rng } from '../src/core/random';
import { AlsTrainer } from '../src/core/train/als';
import { alsItemStepReference, alsUserStepReference, type RefRow } from '../src/core/train/als-reference';
import type { Interactions } from '../src/core/train/interactions';
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import { choleskyInPlace, choleskySolveInPlace } from '../src/core/linalg/cholesky';
import { solveSpdReference } from '../src/core/linalg/reference';
import { emit, flagValue, formatTable, hasFlag, log, machine, median, timeMs } from './lib/report';

const json = hasFlag('json');
const U = Number(flagValue('users', '100000'));
const I = Number(flagValue('items', '20000'));
const NNZ = Number(flagValue('nnz', '1000000'));
const D = Number(flagValue('dim', '32'));
const rng = new Rng(20261127);

/** 1M distinct (user, item) pairs: every user gets NNZ/U items drawn by a power-law popularity. */
function synthetic(weighted: boolean, base?: Interactions): Interactions {
  if (base) {
    // same pairs, Hu–Koren style confidence weights 1 + 2·click: rows no longer uniform → per-row Cholesky
    return { ...base, weight: Float64Array.from(base.target, (t) => (t > 0 ? 3 : 1)) };
  }
  const per = Math.floor(NNZ / U);
  const user = new Int32Array(U * per);
  const item = new Int32Array(U * per);
  const counts = new Float64Array(I);
  const seen = new Set<number>();
  let p = 0;
  for (let u = 0; u < U; u++) {
    seen.clear();
    while (seen.size < per) {
      const i = Math.floor(I * Math.pow(rng.next(), 2.5)); // popular items first
      if (seen.has(i)) continue;
      seen.add(i);
      user[p] = u;
      item[p] = i;
      counts[i]++;
      p++;
    }
  }
  const theta = popularityPropensity(counts, 0.5, 0.01);
  const target = new Float64Array(p);
  for (let q = 0; q < p; q++) target[q] = rng.next() < 0.3 ? 1 / theta[item[q]] : 0; // IPS target of a click
  return { numUsers: U, numItems: I, user, item, target, weight: new Float64Array(p).fill(weighted ? 0 : 1) };
}

function freshModel(): FactorModel {
  return FactorModel.create(
    { dim: D, noiseVar: 1, userPriorVar: 10, itemPriorVar: 10, biasPriorVar: 10 },
    {
      items: Array.from({ length: I }, (_, i) => ({ id: `i${i}`, group: `g${i % 50}` })),
      users: Array.from({ length: U }, (_, u) => `u${u}`),
    },
  );
}

/** `count` rows spread evenly over all rows (items are sorted by popularity here, so never just the first ones). */
function refRows(t: AlsTrainer, by: 'user' | 'item', count: number): RefRow[] {
  const c = by === 'user' ? t.byUser : t.byItem;
  const step = c.rows / count;
  return Array.from({ length: count }, (_, k) => {
    const r = Math.floor(k * step);
    const s = c.ptr[r];
    const e = c.ptr[r + 1];
    return {
      cols: Array.from(c.col.subarray(s, e)),
      targets: Array.from(c.target.subarray(s, e)),
      weights: Array.from(c.weight.subarray(s, e)),
    };
  });
}

interface AlsFigures {
  epoch_ms: number;
  user_step_ms: number;
  item_step_ms: number;
  finalize_ms: number;
  reference_epoch_ms: number;
  ratio: number;
}

function benchAls(
  label: string,
  data: Interactions,
  epochs: number,
  withRef: boolean,
): { model: FactorModel; figs: AlsFigures } {
  const model = freshModel();
  let trainer!: AlsTrainer;
  const csrMs = timeMs(() => (trainer = new AlsTrainer(model, data)));
  trainer.initialise(new Rng(1));
  log(`[${label}] CSR build ${csrMs.toFixed(0)} ms; warm-up epoch ...`);
  trainer.epoch();
  const us: number[] = [];
  const is: number[] = [];
  for (let e = 0; e < epochs; e++) {
    us.push(timeMs(() => trainer.userStep()));
    is.push(timeMs(() => trainer.itemStep()));
    log(`[${label}] epoch ${e + 1}: user ${us[e].toFixed(0)} ms, item ${is[e].toFixed(0)} ms`);
  }
  const finalizeMs = timeMs(() => trainer.finalize(1));
  log(`[${label}] finalize ${finalizeMs.toFixed(0)} ms`);
  let refEpoch = NaN;
  if (withRef) {
    const nUsers = 1000;
    const nItems = 200;
    const c = model.config;
    const s = { c0: c.negativeWeight, noiseVar: c.noiseVar, userPriorVar: c.userPriorVar };
    const means = Array.from({ length: I }, (_, i) =>
      Array.from(model.itemMean.subarray(i * model.n, (i + 1) * model.n)),
    );
    const users = Array.from({ length: U }, (_, u) => Array.from(model.userVector(u)));
    const ur = refRows(trainer, 'user', nUsers);
    const ir = refRows(trainer, 'item', nItems);
    // The shared Gram (over all items) and background (over all users) are built in full; the per-row solves
    // run on the first nUsers / nItems rows and are scaled to all rows.
    const tGram = timeMs(() => alsUserStepReference(means, [], s));
    const tUsers = timeMs(() => alsUserStepReference(means, ur, s)) - tGram;
    const pm = Array.from(model.priorMean.subarray(0, model.n));
    const pv = Array.from(model.priorVar.subarray(0, model.n));
    const tBg = timeMs(() => alsItemStepReference(users, [], pm, pv, s));
    const tItems = timeMs(() => alsItemStepReference(users, ir, pm, pv, s)) - tBg;
    refEpoch = tGram + (tUsers * U) / nUsers + tBg + (tItems * I) / nItems;
    log(
      `[${label}] scalar reference: gram ${tGram.toFixed(0)} ms + ${nUsers} users ${tUsers.toFixed(0)} ms; background ${tBg.toFixed(0)} ms + ${nItems} items ${tItems.toFixed(0)} ms → epoch ≈ ${refEpoch.toFixed(0)} ms`,
    );
  }
  const epochMs = median(us.map((u, k) => u + is[k]));
  return {
    model,
    figs: {
      epoch_ms: epochMs,
      user_step_ms: median(us),
      item_step_ms: median(is),
      finalize_ms: finalizeMs,
      reference_epoch_ms: refEpoch,
      ratio: refEpoch / epochMs,
    },
  };
}

function events(model: FactorModel, len: number, r: Rng): EventBatch {
  const b: EventBatch = {
    user: new Int32Array(len),
    item: new Int32Array(len),
    target: new Float64Array(len),
    weight: new Float64Array(len).fill(1),
  };
  for (let e = 0; e < len; e++) {
    b.user[e] = r.nextInt(model.numUsers);
    b.item[e] = Math.floor(model.numItems * Math.pow(r.next(), 2.5));
    b.target[e] = r.next() < 0.05 ? 1 / 0.3 : 0;
  }
  return b;
}

function sliceBatch(b: EventBatch, s: number, e: number): EventBatch {
  return {
    user: b.user.subarray(s, e),
    item: b.item.subarray(s, e),
    target: b.target.subarray(s, e),
    weight: b.weight.subarray(s, e),
  };
}

function benchOnline(model: FactorModel): Record<string, number> {
  const total = 1_000_000;
  const ev = events(model, total, new Rng(3));
  const run = (batch: number, refreshEvery: number): { eps: number; refreshed: number } => {
    let refreshed = 0;
    const ms = timeMs(() => {
      for (let s = 0; s < total; s += batch) {
        applyEvents(model, sliceBatch(ev, s, Math.min(total, s + batch)));
        if ((s + batch) % refreshEvery === 0) refreshed += model.refreshPosteriors();
      }
      refreshed += model.refreshPosteriors();
    });
    return { eps: total / (ms / 1000), refreshed };
  };
  run(10_000, total); // warm-up (JIT)
  const statsOnly = run(10_000, total);
  const perBatch = run(10_000, 10_000);
  const perSecond = run(10_000, 200_000);
  // scalar twin: nested arrays, on events mapped to 1000 items (a full nested copy of 20k items would not fit)
  const refN = 100_000;
  const refItems = 1000;
  const n = model.n;
  const xx = Array.from({ length: refItems }, () =>
    Array.from({ length: n }, () => new Array<number>(n).fill(0)),
  );
  const xy = Array.from({ length: refItems }, () => new Array<number>(n).fill(0));
  const users = Array.from({ length: model.numUsers }, (_, u) => Array.from(model.userVector(u)));
  const refEv = sliceBatch(ev, 0, refN);
  const mapped = { ...refEv, item: Int32Array.from(refEv.item, (i) => i % refItems) };
  accumulateEventsReference(xx, xy, users, Array.from(model.defaultUser), sliceBatch(mapped, 0, 10_000)); // warm-up
  const refMs = timeMs(() => accumulateEventsReference(xx, xy, users, Array.from(model.defaultUser), mapped));
  const refEps = refN / (refMs / 1000);
  // the fast kernel on exactly the same events and the same 1000-item working set, for an apples-to-apples ratio
  const small = new ItemStats(model.dim, refItems);
  accumulateEvents(small, model.userVec, model.defaultUser, sliceBatch(mapped, 0, 10_000)); // warm-up
  const fastSmallMs = timeMs(() => accumulateEvents(small, model.userVec, model.defaultUser, mapped));
  const fastSmallEps = refN / (fastSmallMs / 1000);
  log(
    `online: stats only ${statsOnly.eps.toFixed(0)} ev/s; refresh per 10k batch ${perBatch.eps.toFixed(0)} ev/s (${perBatch.refreshed} solves); refresh per 200k ${perSecond.eps.toFixed(0)} ev/s; scalar ${refEps.toFixed(0)} ev/s`,
  );
  return {
    events_per_s: statsOnly.eps,
    events_per_s_refresh_per_10k_batch: perBatch.eps,
    posterior_solves_per_10k_batch_run: perBatch.refreshed,
    events_per_s_refresh_per_200k: perSecond.eps,
    kernel_events_per_s_same_set: fastSmallEps,
    reference_events_per_s: refEps,
    ratio: fastSmallEps / refEps,
  };
}

/** One 33×33 SPD solve: the hand-written typed-array kernel vs ml-matrix vs the nested-array scalar twin. */
function benchSolve(): { kernel_us: number; ml_matrix_us: number; scalar_us: number } {
  const n = D + 1;
  const r = new Rng(5);
  const rows = Array.from({ length: n }, () => Array.from({ length: n }, () => r.normal()));
  const a = rows.map((x, i) =>
    rows.map((y, j) => x.reduce((t, v, k) => t + v * y[k], 0) + (i === j ? n : 0)),
  );
  const flat = Float64Array.from(a.flat());
  const rhs = Array.from({ length: n }, () => r.normal());
  const work = new Float64Array(n * n);
  const b = new Float64Array(n);
  const reps = 20000;
  const kernel = (): void => {
    for (let t = 0; t < reps; t++) {
      work.set(flat);
      choleskyInPlace(work, n);
      b.set(rhs);
      choleskySolveInPlace(work, n, b);
    }
  };
  const mat = new Matrix(a);
  const rhsM = Matrix.columnVector(rhs);
  const ml = (): void => {
    for (let t = 0; t < reps / 10; t++) new CholeskyDecomposition(mat).solve(rhsM);
  };
  const scalar = (): void => {
    for (let t = 0; t < reps / 10; t++) solveSpdReference(a, rhs);
  };
  kernel();
  ml();
  scalar();
  return {
    kernel_us: (timeMs(kernel) * 1000) / reps,
    ml_matrix_us: (timeMs(ml) * 1000 * 10) / reps,
    scalar_us: (timeMs(scalar) * 1000 * 10) / reps,
  };
}

function main(): void {
  const t0 = Date.now();
  log(`bench:train on ${machine()}: ${NNZ} pairs, ${U} users, ${I} items, d=${D}`);
  const unit = synthetic(false);
  const weighted = synthetic(true, unit);
  const a = benchAls('ips, unit weights', unit, 3, true);
  const b = benchAls('confidence-weighted', weighted, 2, false);
  b.figs.reference_epoch_ms = a.figs.reference_epoch_ms; // same scalar algebra for both (it has no shared-factor path)
  b.figs.ratio = b.figs.reference_epoch_ms / b.figs.epoch_ms;
  const model = a.model;
  const online = benchOnline(model);
  let snapMs = 0;
  snapMs = timeMs(() => buildServingSnapshot(model));
  let bytes: Uint8Array = new Uint8Array(0);
  const encMs = timeMs(() => (bytes = encodeModel(model)));
  const decMs = timeMs(() => decodeModel(bytes));
  const hist = { items: [1, 5, 40, 300, 7000].map((i) => i % I), targets: [3, 0, 0, 3, 0] };
  foldInUser(model, hist);
  const foldMs =
    timeMs(() => {
      for (let k = 0; k < 1000; k++) foldInUser(model, hist);
    }) / 1000;
  const solve = benchSolve();
  log(
    `33×33 solve: kernel ${solve.kernel_us.toFixed(1)} µs, ml-matrix ${solve.ml_matrix_us.toFixed(1)} µs, scalar ${solve.scalar_us.toFixed(1)} µs`,
  );
  const result = {
    machine: machine(),
    solve_33: solve,
    setting: { users: U, items: I, interactions: unit.user.length, dim: D },
    als_unit_weights: a.figs,
    als_weighted: b.figs,
    online,
    snapshot_build_ms: snapMs,
    serialise: { bytes: bytes.length, encode_ms: encMs, decode_ms: decMs },
    fold_in_ms: foldMs,
    reference_note:
      'scalar references run on 1000 users / 200 items evenly spaced over all rows (and 100k online events into 1000 items) and are extrapolated linearly',
    total_s: (Date.now() - t0) / 1000,
  };
  emit(json, result, () => {
    const rows = [
      [
        'ALS epoch, IPS targets (unit weights: shared factor)',
        a.figs.epoch_ms,
        a.figs.reference_epoch_ms,
        a.figs.ratio,
      ],
      ['  user step', a.figs.user_step_ms, NaN, NaN],
      ['  item step', a.figs.item_step_ms, NaN, NaN],
      [
        'ALS epoch, confidence weights (low-rank or per-row solves)',
        b.figs.epoch_ms,
        b.figs.reference_epoch_ms,
        b.figs.ratio,
      ],
      ['  user step', b.figs.user_step_ms, NaN, NaN],
      ['  item step', b.figs.item_step_ms, NaN, NaN],
      ['finalize (stats + variances + priors + users), unit', a.figs.finalize_ms, NaN, NaN],
    ];
    const on = [
      ['online stats update (batches of 10k, validated)', online.events_per_s, NaN, NaN],
      [
        '  kernel only, 100k events into 1000 items (same set as ref)',
        online.kernel_events_per_s_same_set,
        online.reference_events_per_s,
        online.ratio,
      ],
      ['  + posterior refresh after every 10k batch', online.events_per_s_refresh_per_10k_batch, NaN, NaN],
      ['  + posterior refresh every 200k events', online.events_per_s_refresh_per_200k, NaN, NaN],
    ];
    return [
      `bench:train — ${machine()}`,
      `${unit.user.length} pairs, ${U} users, ${I} items, d=${D}`,
      '',
      formatTable(['batch step', 'ms', 'scalar ref ms', 'ratio'], rows),
      '',
      formatTable(['online', 'events/s', 'scalar ref events/s', 'ratio'], on),
      '',
      formatTable(
        ['other', 'value'],
        [
          ['serving snapshot build, ms', snapMs],
          ['encode model, ms', encMs],
          ['decode model, ms', decMs],
          ['model bytes', bytes.length],
          ['fold-in of one user (5 events), ms', foldMs],
          [`${D + 1}×${D + 1} Cholesky solve, typed-array kernel, µs`, solve.kernel_us],
          [`${D + 1}×${D + 1} Cholesky solve, ml-matrix, µs`, solve.ml_matrix_us],
          [`${D + 1}×${D + 1} Cholesky solve, nested-array scalar twin, µs`, solve.scalar_us],
        ],
      ),
      '',
      `note: ${result.reference_note}; total ${result.total_s.toFixed(0)} s`,
    ].join('\n');
  });
}

main();
