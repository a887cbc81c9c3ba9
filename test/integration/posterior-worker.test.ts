import { FactorModel } from '../../src/core/model/factor-model';
import { applyEvents } from '../../src/core/model/online';
import { solvePosteriorJob, type PosteriorJob } from '../../src/core/model/posterior-job';
import { Rng } from '../../src/core/random';
import { PosteriorSolver } from '../../src/modules/model/posterior-solver';

// The worker runs the build's compiled entry (dist/, which `npm test` builds first), so this is the code that ships.

function jobOf(seed: number, items = 300): { model: FactorModel; job: PosteriorJob } {
  const rng = new Rng(seed);
  const model = FactorModel.create(
    { dim: 8 },
    {
      items: Array.from({ length: items }, (_, i) => ({ id: `i${i}`, group: `g${i % 4}` })),
      users: Array.from({ length: 20 }, (_, u) => `u${u}`),
    },
  );
  for (let u = 0; u < 20; u++)
    model.setUserVector(
      u,
      Array.from({ length: 8 }, () => rng.normal()),
    );
  const len = 5000;
  applyEvents(model, {
    user: Int32Array.from({ length: len }, () => rng.nextInt(20)),
    item: Int32Array.from({ length: len }, () => rng.nextInt(items)),
    target: Float64Array.from({ length: len }, () => (rng.next() < 0.2 ? 1 : 0)),
    weight: Float64Array.from({ length: len }, () => 0.5 + rng.next()),
  });
  return { model, job: model.takePosteriorJob()! };
}

describe('posterior solver', () => {
  it('solves on its worker thread, to the same bits as the main thread', async () => {
    const solver = new PosteriorSolver('worker');
    expect(solver.where).toBe('worker');
    try {
      const { job } = jobOf(1);
      const expected = solvePosteriorJob({ ...job, items: job.items.slice(), data: job.data.slice() });
      const sent = job.data.length;
      const res = await solver.solve(job);
      expect(job.data.byteLength).toBe(0); // moved to the worker, not copied
      expect(res.data?.length).toBe(sent); // and back, for the next job
      expect(Array.from(res.items)).toEqual(Array.from(expected.items));
      expect(Array.from(res.mean)).toEqual(Array.from(expected.mean));
      expect(Array.from(res.variance)).toEqual(Array.from(expected.variance));
      // and again (one worker, many jobs)
      const second = jobOf(2).job;
      const exp2 = solvePosteriorJob({ ...second, items: second.items.slice(), data: second.data.slice() });
      expect(Array.from((await solver.solve(second)).mean)).toEqual(Array.from(exp2.mean));
      // A job that is a view of a larger buffer (grown with room to spare) goes and comes back whole.
      const rng = new Rng(3);
      const { model } = jobOf(4);
      applyEvents(model, {
        user: Int32Array.of(0, 1, 2),
        item: Int32Array.of(0, 1, 2),
        target: Float64Array.of(1, 0, 1),
        weight: Float64Array.of(1, 1, rng.next() + 0.5),
      });
      const view = model.takePosteriorJob(Infinity, new Float64Array(1))!;
      expect(view.data.buffer.byteLength).toBeGreaterThan(view.data.byteLength);
      const exp3 = solvePosteriorJob({ ...view, items: view.items.slice(), data: view.data.slice() });
      const whole = view.data.buffer.byteLength;
      const res3 = await solver.solve(view);
      expect(Array.from(res3.mean)).toEqual(Array.from(exp3.mean));
      expect(Array.from(res3.variance)).toEqual(Array.from(exp3.variance));
      expect(res3.data?.buffer.byteLength).toBe(whole);
    } finally {
      await solver.close();
    }
  });

  it('when the worker dies mid-job the job rejects and later jobs run on the main thread', async () => {
    const errors: Error[] = [];
    const solver = new PosteriorSolver('worker', (e) => errors.push(e));
    try {
      const { job } = jobOf(3, 3000);
      const pending = solver.solve(job);
      // kill the worker under the job
      await (solver as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
      await expect(pending).rejects.toThrow(/exited/);
      expect(errors).toHaveLength(1);
      expect(solver.where).toBe('main');
      const { model, job: next } = jobOf(4);
      const copy = { ...next, items: next.items.slice(), data: next.data.slice() };
      const res = await solver.solve(next);
      expect(next.data.byteLength).toBeGreaterThan(0); // stayed here
      expect(Array.from(res.mean)).toEqual(Array.from(solvePosteriorJob(copy).mean));
      expect(model.applyPosteriorJob(next, res)).toEqual([]);
    } finally {
      await solver.close();
    }
  });

  it('MODEL_SOLVE_THREAD=main never starts a worker', async () => {
    const solver = new PosteriorSolver('main');
    expect(solver.where).toBe('main');
    const { job } = jobOf(5);
    const res = await solver.solve(job);
    expect(res.mean.length).toBe(job.items.length * job.n);
    expect((solver as unknown as { worker: unknown }).worker).toBeNull();
    await solver.close();
  });
});
