import { Worker } from 'node:worker_threads';
import { workerScript } from '../../common/workers/worker-script';
import { solvePosteriorJob, type PosteriorJob, type PosteriorResult } from '../../core/model/posterior-job';

/** Items solved per turn of the event loop when solving on the main thread (~20–60 µs each at d = 32). */
export const MAIN_THREAD_SLICE = 1500;

/**
 * Runs posterior jobs for snapshot rebuilds on one worker thread, so that a rebuild of a large catalogue
 * (tens of ms to seconds of Cholesky solves) takes neither the learning path's nor the HTTP server's turn of
 * the event loop. One job at a time (the model service never overlaps rebuilds). When the worker cannot be
 * started or dies, jobs run on the main thread in slices of `MAIN_THREAD_SLICE` items between turns of the
 * event loop, as before; the results are the same bits either way (`solvePosteriorJob` is the arithmetic of
 * `FactorModel.refreshPosteriors`).
 */
export class PosteriorSolver {
  private worker: Worker | null = null;
  private broken = false;
  private pending: { resolve: (r: PosteriorResult) => void; reject: (e: Error) => void } | null = null;

  constructor(
    private readonly thread: 'worker' | 'main',
    private readonly onWorkerError: (e: Error) => void = () => undefined,
  ) {}

  /** Where the next job will run. */
  get where(): 'worker' | 'main' {
    return this.thread === 'worker' && !this.broken && workerScript(__dirname, 'posterior-worker.js') !== null
      ? 'worker'
      : 'main';
  }

  /**
   * Solve a job. With a worker the job's buffers are moved to it (the caller must not read `job.data` or
   * `job.items` afterwards). Rejects only if the worker failed during this job; the caller re-marks the
   * job's items stale (keep a copy of `job.items`), and later jobs run on the main thread.
   */
  solve(job: PosteriorJob): Promise<PosteriorResult> {
    const w = this.where === 'worker' ? this.ensureWorker() : null;
    if (!w) return this.solveHere(job);
    if (this.pending) return Promise.reject(new Error('PosteriorSolver: one job at a time'));
    return new Promise<PosteriorResult>((resolve, reject) => {
      this.pending = { resolve, reject };
      w.ref(); // keep the process up while a job is out
      w.postMessage(job, [job.data.buffer as ArrayBuffer, job.items.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.broken = true;
    if (w) await w.terminate();
    this.fail(new Error('PosteriorSolver closed'));
  }

  private ensureWorker(): Worker | null {
    if (this.worker) return this.worker;
    const script = workerScript(__dirname, 'posterior-worker.js');
    if (!script) return null;
    try {
      const w = new Worker(script);
      w.unref();
      w.on('message', (res: PosteriorResult) => {
        const p = this.pending;
        this.pending = null;
        w.unref();
        p?.resolve(res);
      });
      w.on('error', (e) => this.die(w, e));
      w.on('exit', (code) => this.die(w, new Error(`posterior worker exited with code ${code}`)));
      this.worker = w;
      return w;
    } catch (e) {
      this.die(null, e as Error);
      return null;
    }
  }

  private die(w: Worker | null, e: Error): void {
    if (w && w !== this.worker) return; // an old worker's late event
    if (!this.broken) this.onWorkerError(e);
    this.broken = true;
    this.worker = null;
    this.fail(e);
  }

  private fail(e: Error): void {
    const p = this.pending;
    this.pending = null;
    p?.reject(e);
  }

  private async solveHere(job: PosteriorJob): Promise<PosteriorResult> {
    const count = job.items.length;
    let res: PosteriorResult | undefined;
    for (let from = 0; from < count; from += MAIN_THREAD_SLICE) {
      if (from > 0) await new Promise((r) => setImmediate(r));
      res = solvePosteriorJob(job, from, Math.min(count, from + MAIN_THREAD_SLICE), res);
    }
    const out = res ?? solvePosteriorJob(job);
    out.data = job.data;
    return out;
  }
}
