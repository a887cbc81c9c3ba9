/**
 * npm run bench:http [-- --seconds 30 --items 10000 --connections 16 --learn-rate 2000 --json --database-url URL]
 *
 * `reco serve` as a child process on a throwaway PostgreSQL database (every served slate is logged), then
 * autocannon (in this process) against POST /v1/slates and, in the same run, against GET /v1/ping on the same
 * server: the ratio of the two throughputs is the cost of choosing and logging a slate. A third slates phase
 * runs while the service learns clicks posted to POST /v1/events (its latencies show what snapshot rebuilds
 * cost serving; compare MODEL_SOLVE_THREAD=worker with =main).
 */
import autocannon from 'autocannon';
import { type Cell, emit, flagValue, formatTable, hasFlag, log, machine } from './lib/report';
import { importItems, startService, tempDatabase } from './lib/service';

interface Run {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  non2xx: number;
  requests: number;
  /** Service CPU (all threads) per request, in ms; null where it cannot be read (no /proc). */
  cpu_ms_per_request: number | null;
}

async function load(opts: autocannon.Options, cpuSeconds: () => number | undefined): Promise<Run> {
  const cpu0 = cpuSeconds();
  const t0 = process.hrtime.bigint() / 1000n;
  const r = await autocannon(opts);
  const t1 = process.hrtime.bigint() / 1000n;
  const cpu1 = cpuSeconds();
  // The phase in the clock of a child's .cpuprofile (both monotonic), for bench/lib/cpuprofile-summary.
  log(
    `  ${r.requests.total} requests; profile window: --from ${t0} --to ${t1} --requests ${r.requests.total}`,
  );
  return {
    rps: r.requests.average,
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    requests: r.requests.total,
    cpu_ms_per_request:
      cpu0 !== undefined && cpu1 !== undefined && r.requests.total > 0
        ? (1000 * (cpu1 - cpu0)) / r.requests.total
        : null,
  };
}

async function main(): Promise<void> {
  const json = hasFlag('json');
  const seconds = Number(flagValue('seconds', '30'));
  const items = Number(flagValue('items', '10000'));
  const connections = Number(flagValue('connections', '16'));
  const warmClicks = Number(flagValue('warm-clicks', '20000'));
  const learnRate = Number(flagValue('learn-rate', '2000'));
  const adminUrl = flagValue(
    'database-url',
    process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  );
  const db = await tempDatabase(adminUrl, 'reco_bench_http');
  const svc = await startService({ DATABASE_URL: db.url, LOG_LEVEL: 'warn', MODEL_REFRESH_MS: '200' }).catch(
    async (e) => {
      await db.drop();
      throw e;
    },
  );
  try {
    log(`importing ${items} items`);
    await importItems(svc.baseUrl, items);
    await new Promise((r) => setTimeout(r, 500)); // the model picks the catalogue up within MODEL_REFRESH_MS
    const users = Array.from({ length: 1000 }, (_, u) => `user-${u}`);
    let k = 0;
    const slateOpts: autocannon.Options = {
      url: `${svc.baseUrl}/v1/slates`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      connections,
      duration: seconds,
      requests: [
        {
          setupRequest: (req) => ({
            ...req,
            body: JSON.stringify({ userId: users[k++ % users.length], size: 10 }),
          }),
        },
      ],
    };
    log('warm-up (3 s each)');
    await load({ ...slateOpts, duration: 3 }, svc.cpuSeconds);
    await load({ url: `${svc.baseUrl}/v1/ping`, connections, duration: 3 }, svc.cpuSeconds);
    // Cold start: every item still at its group prior, so every item can win every draw (the sampler's worst case).
    log(`POST /v1/slates for ${seconds} s, cold catalogue`);
    const cold = await load(slateOpts, svc.cpuSeconds);
    // A catalogue with history: organic clicks with a Zipf-like popularity, learned through POST /v1/events.
    log(`learning ${warmClicks} clicks`);
    // Organic clicks on a Zipf-like popularity, posted to POST /v1/events.
    const postClicks = async (tag: string, from: number, count: number): Promise<void> => {
      const events = Array.from({ length: count }, (_, j) => {
        const item = Math.min(items - 1, Math.floor(Math.exp(Math.random() * Math.log(items))) - 1);
        return {
          eventId: `${tag}-${from + j}`,
          type: 'click',
          userId: users[(from + j) % users.length],
          itemId: `item-${Math.max(0, item)}`,
          ts: Date.now(),
        };
      });
      const r = await fetch(`${svc.baseUrl}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ events }),
      });
      if (r.status !== 200) throw new Error(`events: ${r.status} ${await r.text()}`);
    };
    for (let start = 0; start < warmClicks; start += 1000)
      await postClicks('warm', start, Math.min(1000, warmClicks - start));
    await new Promise((r) => setTimeout(r, 1000));
    log(`POST /v1/slates for ${seconds} s, after ${warmClicks} clicks`);
    const slates = await load(slateOpts, svc.cpuSeconds);
    // Serving while the same process learns: clicks posted at `--learn-rate` per second (organic, Zipf-like) in
    // batches every 100 ms; each batch marks items stale and the snapshot is rebuilt within MODEL_REFRESH_MS.
    // Where the posterior re-solves run (MODEL_SOLVE_THREAD) shows in this phase's latencies.
    log(`POST /v1/slates for ${seconds} s while learning ${learnRate} clicks/s`);
    let learning = true;
    let learnedClicks = 0;
    const learner = (async () => {
      for (let b = 0; learning; b++) {
        const started = Date.now();
        const per = Math.max(1, Math.round(learnRate / 10));
        await postClicks('learn', b * per, per);
        learnedClicks += per;
        await new Promise((res) => setTimeout(res, Math.max(0, 100 - (Date.now() - started))));
      }
    })();
    const whileLearning = await load(slateOpts, svc.cpuSeconds).finally(() => (learning = false));
    await learner;
    const learnedPerS = learnedClicks / seconds;
    log(`GET /v1/ping for ${seconds} s`);
    const empty = await load(
      { url: `${svc.baseUrl}/v1/ping`, connections, duration: seconds },
      svc.cpuSeconds,
    );
    const data = {
      slates_rps: slates.rps,
      empty_rps: empty.rps,
      ratio: slates.rps / empty.rps,
      p99_ms: slates.p99_ms,
      errors: slates.errors + slates.non2xx,
      // Service CPU per request: steadier than req/s when other work shares the machine.
      slates_cpu_ms: slates.cpu_ms_per_request,
      empty_cpu_ms: empty.cpu_ms_per_request,
      cpu_ratio:
        slates.cpu_ms_per_request && empty.cpu_ms_per_request
          ? empty.cpu_ms_per_request / slates.cpu_ms_per_request
          : null,
      setting: {
        items,
        slate_size: 10,
        policy: 'in_slate_ts (default)',
        connections,
        seconds,
        warm_clicks: warmClicks,
      },
      cold_slates_rps: cold.rps,
      cold_p99_ms: cold.p99_ms,
      learning_slates_rps: whileLearning.rps,
      learning_p99_ms: whileLearning.p99_ms,
      learning_clicks_per_s: learnedPerS,
      solve_thread: process.env.MODEL_SOLVE_THREAD ?? 'worker (default)',
      slates,
      cold,
      while_learning: whileLearning,
      empty,
      machine: machine(),
    };
    emit(json, data, () =>
      [
        `bench:http, ${items} items, size 10, default policy, ${connections} connections, ${seconds} s each; ${data.machine}`,
        formatTable(
          ['route', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'non-2xx', 'service CPU ms/req'],
          [
            [
              `POST /v1/slates (after ${warmClicks} clicks)`,
              slates.rps,
              slates.p50_ms,
              slates.p99_ms,
              slates.errors,
              slates.non2xx,
              cpuCell(slates),
            ],
            [
              'POST /v1/slates (cold: all items at their prior)',
              cold.rps,
              cold.p50_ms,
              cold.p99_ms,
              cold.errors,
              cold.non2xx,
              cpuCell(cold),
            ],
            [
              `POST /v1/slates (while learning ${Math.round(learnedPerS)} clicks/s)`,
              whileLearning.rps,
              whileLearning.p50_ms,
              whileLearning.p99_ms,
              whileLearning.errors,
              whileLearning.non2xx,
              cpuCell(whileLearning),
            ],
            [
              'GET /v1/ping (baseline)',
              empty.rps,
              empty.p50_ms,
              empty.p99_ms,
              empty.errors,
              empty.non2xx,
              cpuCell(empty),
            ],
          ],
        ),
        `posterior solves on: ${data.solve_thread} (MODEL_SOLVE_THREAD)`,
        `ratio slates/empty: ${data.ratio.toFixed(3)}` +
          (data.cpu_ratio === null ? '' : `; by service CPU per request: ${data.cpu_ratio.toFixed(3)}`),
      ].join('\n'),
    );
  } finally {
    await svc.stop();
    await db.drop();
  }
}

function cpuCell(r: Run): Cell {
  return r.cpu_ms_per_request === null ? '-' : r.cpu_ms_per_request;
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:http failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
