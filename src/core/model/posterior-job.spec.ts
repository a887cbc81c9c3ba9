import { Rng } from '../random';
import { FactorModel } from './factor-model';
import { applyEvents, type EventBatch } from './online';
import { solvePosteriorJob } from './posterior-job';

function model(rng: Rng): FactorModel {
  const m = FactorModel.create(
    { dim: 5, noiseVar: 0.5, itemPriorVar: 2, biasPriorVar: 3, biasPriorMean: 0.1 },
    {
      items: Array.from({ length: 40 }, (_, i) => ({ id: `i${i}`, group: i % 3 ? `g${i % 3}` : null })),
      users: Array.from({ length: 9 }, (_, u) => `u${u}`),
    },
  );
  for (let u = 0; u < 9; u++)
    m.setUserVector(
      u,
      Array.from({ length: 5 }, () => rng.normal()),
    );
  return m;
}

function events(m: FactorModel, len: number, rng: Rng): EventBatch {
  const b: EventBatch = {
    user: new Int32Array(len),
    item: new Int32Array(len),
    target: new Float64Array(len),
    weight: new Float64Array(len),
  };
  for (let e = 0; e < len; e++) {
    b.user[e] = rng.nextInt(m.numUsers + 1) - 1;
    b.item[e] = rng.nextInt(m.numItems);
    b.target[e] = rng.next() < 0.3 ? 1 : 0;
    b.weight[e] = 0.5 + rng.next();
  }
  return b;
}

/** Two identical models (user vectors from `seed`) that learned the same `count` events (from `seed + 1`). */
function twinModels(seed: number, count: number): [FactorModel, FactorModel] {
  const a = model(new Rng(seed));
  const b = model(new Rng(seed));
  const batch = events(a, count, new Rng(seed + 1));
  applyEvents(a, batch);
  applyEvents(b, batch);
  return [a, b];
}

describe('detached posterior jobs', () => {
  it('give the same bits as solving in place, and leave the model fresh', () => {
    const [a, b] = twinModels(3, 600);
    const stale = a.dirtyCount;
    expect(stale).toBeGreaterThan(20);
    a.refreshPosteriors();
    // b in two jobs, the second taken after the first was applied
    const first = b.takePosteriorJob(15)!;
    expect(first.items.length).toBe(15);
    expect(b.dirtyCount).toBe(stale - 15);
    expect(b.applyPosteriorJob(first, solvePosteriorJob(first))).toEqual([]);
    const second = b.takePosteriorJob()!;
    expect(b.dirtyCount).toBe(0);
    expect(b.takePosteriorJob()).toBeNull();
    // solved in two halves into one result (the main thread's slices) equals one go
    const half = Math.floor(second.items.length / 2);
    const res = solvePosteriorJob(second, 0, half);
    solvePosteriorJob(second, half, second.items.length, res);
    expect(b.applyPosteriorJob(second, res)).toEqual([]);
    expect(Array.from(b.itemMean)).toEqual(Array.from(a.itemMean));
    expect(Array.from(b.itemVar)).toEqual(Array.from(a.itemVar));
  });

  it('copies into a reused buffer when it fits, with the same solutions, unless it is far too large', () => {
    const [a, b] = twinModels(11, 400);
    const count = a.dirtyCount;
    a.refreshPosteriors();
    const stride = (b.n * (b.n + 1)) / 2 + 3 * b.n;
    const reuse = new Float64Array(count * stride + 7).fill(NaN); // old contents must not leak into the job
    const job = b.takePosteriorJob(Infinity, reuse)!;
    expect(job.data.buffer).toBe(reuse.buffer);
    expect(b.applyPosteriorJob(job, solvePosteriorJob(job))).toEqual([]);
    expect(Array.from(b.itemMean)).toEqual(Array.from(a.itemMean));
    // Smaller jobs reuse it too (a rebuild's and a checkpoint's jobs of different sizes come in turn)...
    applyEvents(b, events(b, 3, new Rng(13)));
    const small = b.takePosteriorJob(Infinity, reuse)!;
    expect(small.data.buffer).toBe(reuse.buffer);
    expect(b.applyPosteriorJob(small, solvePosteriorJob(small))).toEqual([]);
    // ...unless the buffer is both over 64 MiB and over 8 times the job: a one-off bulk job's memory is let go.
    applyEvents(b, events(b, 3, new Rng(14)));
    const huge = new Float64Array((8 << 20) + 1);
    const fresh = b.takePosteriorJob(Infinity, huge)!;
    expect(fresh.data.buffer).not.toBe(huge.buffer);
    expect(fresh.data.buffer.byteLength).toBe(fresh.data.byteLength); // no use for headroom: it shrank
    expect(b.applyPosteriorJob(fresh, solvePosteriorJob(fresh))).toEqual([]);
    // One too small gives way to one a quarter larger than the job (room to grow), which the job is a view of.
    applyEvents(b, events(b, 40, new Rng(15)));
    const tooSmall = new Float64Array(stride);
    const grown = b.takePosteriorJob(Infinity, tooSmall)!;
    const need = grown.items.length * stride;
    expect(grown.items.length).toBeGreaterThan(1);
    expect(grown.data.length).toBe(need);
    expect(grown.data.buffer.byteLength).toBe(Math.ceil(need * 1.25) * 8);
    expect(b.applyPosteriorJob(grown, solvePosteriorJob(grown))).toEqual([]);
  });

  it('an update after the job is taken makes its item stale again; a job older than an in-place solve is not installed', () => {
    const m = model(new Rng(5));
    applyEvents(m, events(m, 200, new Rng(6)));
    const job = m.takePosteriorJob()!;
    expect(m.dirtyCount).toBe(0);
    const res = solvePosteriorJob(job);
    applyEvents(m, {
      user: Int32Array.of(0),
      item: Int32Array.of(job.items[0]),
      target: Float64Array.of(1),
      weight: Float64Array.of(1),
    });
    expect(m.dirtyCount).toBe(1);
    m.applyPosteriorJob(job, res);
    expect(m.dirtyCount).toBe(1); // still stale: solved with the statistics before the update
    const before = Float64Array.from(m.itemMean);
    m.refreshPosteriors(); // an in-place solve: the model's posteriors are now newer than any job taken before
    const job2 = m.takePosteriorJob();
    expect(job2).toBeNull();
    applyEvents(m, events(m, 50, new Rng(7)));
    const old = m.takePosteriorJob()!;
    const oldRes = solvePosteriorJob(old);
    m.refreshAll();
    const fresh = Float64Array.from(m.itemMean);
    m.takeChangedPages(1); // a checkpoint took the in-place solve's items
    m.applyPosteriorJob(old, oldRes);
    expect(Array.from(m.itemMean)).toEqual(Array.from(fresh)); // not overwritten by the older job
    expect(m.dirtyCount).toBe(0); // nor solved again: the in-place solve was newer
    expect(m.staleCount).toBe(0);
    expect(m.takeChangedPages(1)).toEqual([]); // nor written again by the next checkpoint
    expect(before.length).toBe(fresh.length);
  });

  it('reports an item whose precision is not positive definite and keeps its previous posterior', () => {
    const m = model(new Rng(8));
    applyEvents(m, events(m, 100, new Rng(9)));
    const job = m.takePosteriorJob()!;
    const n = job.n;
    const stride = job.data.length / job.items.length;
    job.data[0] = -1e9; // corrupt the first item's xx(0, 0)
    const res = solvePosteriorJob(job);
    expect(res.failed[0]).toBe(1);
    const i = job.items[0];
    const before = Array.from(m.itemMean.subarray(i * n, (i + 1) * n));
    expect(m.applyPosteriorJob(job, res)).toEqual([`i${i}`]);
    expect(Array.from(m.itemMean.subarray(i * n, (i + 1) * n))).toEqual(before);
    expect(stride).toBeGreaterThan(3 * n);
  });
  it('an in-place refresh solves the items of a job still out too, so a snapshot built then is current', () => {
    const [a, b] = twinModels(21, 300);
    a.refreshPosteriors();
    const job = b.takePosteriorJob()!; // out on a worker, say
    expect(b.dirtyCount).toBe(0);
    expect(b.staleCount).toBe(job.items.length);
    b.refreshPosteriors(); // what a synchronous snapshot build does
    expect(b.staleCount).toBe(0);
    expect(Array.from(b.itemMean)).toEqual(Array.from(a.itemMean));
    // The job, older than that solve, is dropped: nothing installed, nothing left to solve again.
    b.applyPosteriorJob(job, solvePosteriorJob(job));
    expect(b.staleCount).toBe(0);
    expect(b.refreshPosteriors()).toBe(0);
    expect(Array.from(b.itemMean)).toEqual(Array.from(a.itemMean));
  });

  it('an abandoned job (its thread failed) leaves its items stale', () => {
    const m = model(new Rng(23));
    applyEvents(m, events(m, 200, new Rng(24)));
    const job = m.takePosteriorJob()!;
    const items = Array.from(job.items);
    m.abandonPosteriorJob(job);
    expect(m.dirtyCount).toBe(items.length);
    expect(m.staleCount).toBe(items.length);
    m.abandonPosteriorJob(job); // twice: nothing more
    expect(m.staleCount).toBe(items.length);
  });
});
