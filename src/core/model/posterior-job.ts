import { packedSize } from '../linalg/packed';
import { posteriorOf, SolveWorkspace } from './posterior';

/**
 * A batch of item posterior re-solves detached from the model: everything the solves read, copied into one
 * buffer, so that they can run on another thread (structured clone moves the buffers, no copy) while the
 * model keeps learning. Per item, `stride = psize + 3n` numbers: the packed statistics xx (psize), xy (n),
 * the item's prior mean (n) and prior variances (n).
 *
 * Copying is ~600 numbers per item at d = 32 (a memcpy's worth, ~1% of the solve it replaces); the copy is
 * what makes the result exact: a solve never sees statistics half-way through an update, and an item
 * updated after the copy stays stale in the model and is solved again by the next job.
 */
export interface PosteriorJob {
  /** d + 1. */
  readonly n: number;
  readonly noiseVar: number;
  /** Model item indices, in the order of `data`'s rows. */
  readonly items: Int32Array;
  readonly data: Float64Array;
}

export interface PosteriorResult {
  readonly items: Int32Array;
  /** items.length × n posterior means. */
  readonly mean: Float64Array;
  /** items.length × n marginal posterior variances. */
  readonly variance: Float64Array;
  /** 1 where the precision was not positive definite (corrupted statistics; the caller keeps the old posterior). */
  readonly failed: Uint8Array;
  /** The job's `data`, handed back so that the next job can reuse its memory (set by whoever ran the job). */
  data?: Float64Array;
}

/** Numbers per item in a job's `data`. */
export function jobStride(n: number): number {
  return packedSize(n) + 3 * n;
}

/** Solve every item of a job (pure; the same arithmetic as `FactorModel.refreshPosteriors`, so the same bits). */
export function solvePosteriorJob(
  job: PosteriorJob,
  from = 0,
  to = job.items.length,
  out?: PosteriorResult,
): PosteriorResult {
  const { n, noiseVar, items, data } = job;
  const count = items.length;
  const res = out ?? {
    items,
    mean: new Float64Array(count * n),
    variance: new Float64Array(count * n),
    failed: new Uint8Array(count),
  };
  const ps = packedSize(n);
  const stride = ps + 3 * n;
  const ws = new SolveWorkspace(n);
  for (let j = from; j < to; j++) {
    const o = j * stride;
    const ok = posteriorOf(
      data,
      o,
      data,
      o + ps,
      data,
      o + ps + n,
      data,
      o + ps + 2 * n,
      noiseVar,
      res.mean,
      res.variance,
      j * n,
      ws,
    );
    res.failed[j] = ok ? 0 : 1;
  }
  return res;
}
