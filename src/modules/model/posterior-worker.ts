/**
 * Worker thread entry (see `PosteriorSolver`): solves the posterior jobs it is sent and sends the solutions
 * back, moving their buffers instead of copying them. Pure computation: no I/O, no state between jobs.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { solvePosteriorJob, type PosteriorJob } from '../../core/model/posterior-job';

/**
 * Run at a lower OS priority than the rest of the process (nice 10, this thread only): the solves are background
 * work that must not take the core PostgreSQL, Kafka or the event loop need, only the idle time around them.
 * Linux names the thread in /proc/thread-self; elsewhere (or without permission) this is skipped.
 */
function lowerThisThreadsPriority(): void {
  try {
    const tid = /task\/(\d+)$/.exec(readlinkSync('/proc/thread-self'))?.[1];
    if (tid) setPriority(Number(tid), 10);
  } catch {
    // not Linux, or not allowed: same priority as the process
  }
}
lowerThisThreadsPriority();

const port = parentPort;
if (!port) throw new Error('posterior-worker.js runs as a worker thread only');
port.on('message', (job: PosteriorJob) => {
  const res = solvePosteriorJob(job);
  res.data = job.data; // back to the sender, for its next job
  const moved = [res.items, res.mean, res.variance, res.failed, job.data].map((a) => a.buffer as ArrayBuffer);
  port.postMessage(res, moved);
});
