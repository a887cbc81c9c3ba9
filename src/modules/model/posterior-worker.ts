/**
 * Worker thread entry (see `PosteriorSolver`): solves the posterior jobs it is sent and sends the solutions
 * back, moving their buffers instead of copying them. Pure computation: no I/O, no state between jobs.
 */
import { parentPort } from 'node:worker_threads';
import { solvePosteriorJob, type PosteriorJob } from '../../core/model/posterior-job';

const port = parentPort;
if (!port) throw new Error('posterior-worker.js runs as a worker thread only');
port.on('message', (job: PosteriorJob) => {
  const res = solvePosteriorJob(job);
  const moved = [res.items, res.mean, res.variance, res.failed].map((a) => a.buffer as ArrayBuffer);
  port.postMessage(res, moved);
});
