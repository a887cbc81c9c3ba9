/**
 * npm run bench:http [-- --seconds 30 --items 10000 --connections 16 --learn-rate 2000 --json --database-url URL
 *   --policy '{"name":"random"}' --interleave 6 --slice 5 --client autocannon|wrk --no-model]
 *
 * `reco serve` as a child process on a throwaway PostgreSQL database (every served slate is logged), then
 * autocannon (in this process) against POST /v1/slates and, in the same run, against GET /v1/ping on the same
 * server: the ratio of the two throughputs is the cost of choosing and logging a slate. A third slates phase
 * runs while the service learns clicks posted to POST /v1/events (its latencies show what snapshot rebuilds
 * cost serving; compare MODEL_SOLVE_THREAD=worker with =main).
 *
 * Then `--interleave` pairs of short slices (`--slice` s of slates, then as long of ping; 0 pairs: none): the same
 * ratio with the machine's drift between phases cancelled (`interleaved` in the JSON; the headline `ratio` stays
 * the long phases').
 *
 * `--client wrk` generates the load with wrk (installed separately, e.g. Debian's package) instead of autocannon:
 * the same requests, from a process of its own that took about half of autocannon's CPU per request here, which
 * matters where client, service and database share two cores (see docs/benchmarks.md).
 *
 * `--no-model` serves every slate with the policy's work removed (bench/lib/no-model-slates.ts: a uniform slate that
 * reads no model, exact propensities), the rest of the slate path unchanged: its ratio is the ceiling this machine
 * allows any policy (what the HTTP request, the worker hop and logging the impression cost against the ping).
 *
 * `--policy JSON` sets the service's DEFAULT_POLICY (the service validates it; default in_slate_ts). The service
 * takes the rest of its configuration from this environment: e.g. `SERVING_THREADS=1` chooses slates on a worker
 * thread.
 *
 * Where the machine's CPU goes, per phase, in ms per request (client, service and database share this machine):
 * - `service CPU ms/req`: the `reco serve` process, all its threads (/proc/<pid>/stat);
 * - `main thread CPU ms/req`: its main thread alone (/proc/<pid>/task/<pid>/stat), the event loop every request
 *   passes through; the rest is the slate workers, the posterior solver and V8's helper threads;
 * - `postgres CPU ms/req`: every process named `postgres` on this machine (postmaster, backends, background
 *   processes; see `postgresCpuSeconds`: a cumulative counter, so backends that start or exit mid-phase count);
 *   `-` when /proc is missing or the database is not on this machine;
 * - `client CPU ms/req`: this process (autocannon, and in the learning phase the clicks it posts),
 *   `process.cpuUsage()`;
 * - `machine CPU ms/req`: their sum, and `machine busy`: that CPU over wall time × cores (1 = every core busy
 *   with this benchmark).
 * Below the table: the CPU-bound ceilings of the slates and ping routes (cores × 1000 / machine CPU ms per
 * request, and 1000 / service CPU ms per request: what one busy core for the service's event loop allows), and
 * the busy fraction of all cores by /proc/stat (`all_busy` in the JSON), which also counts CPU that none of the
 * three took (other jobs, kernel threads): well above `machine busy`, the machine was shared.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { type Cell, emit, flagValue, fmt, formatTable, hasFlag, log, machine } from './lib/report';
import {
  importItems,
  machineBusyCpuSeconds,
  postgresCpuSeconds,
  startService,
  tempDatabase,
} from './lib/service';

interface Run {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  non2xx: number;
  requests: number;
  /** Service CPU (all threads) per request, in ms; null where it cannot be read (no /proc). */
  cpu_ms_per_request: number | null;
  /**
   * The service's main thread alone (the event loop every request passes through: HTTP, validation, logging,
   * learning) per request, in ms; null without /proc. The rest of cpu_ms_per_request is the slate workers, the
   * posterior solver and V8's helper threads (GC).
   */
  main_thread_cpu_ms_per_request: number | null;
  /** CPU of every local `postgres` process per request, in ms; null without /proc or with a remote database. */
  pg_cpu_ms_per_request: number | null;
  /** CPU of this process (the load generator) per request, in ms. */
  client_cpu_ms_per_request: number | null;
  /** Service + postgres + client CPU per request, in ms; null if one of them is. */
  machine_cpu_ms_per_request: number | null;
  /** Service + postgres + client CPU seconds over (wall seconds × cores): 1 = every core busy with the bench. */
  machine_busy: number | null;
  /**
   * Busy fraction of all the cores by /proc/stat (any process and the kernel, not only the bench's): above
   * machine_busy, something else took CPU during the phase.
   */
  all_busy: number | null;
  /** cores × 1000 / machine_cpu_ms_per_request: requests per second if every core were busy with this route. */
  cpu_ceiling_rps: number | null;
  /** 1000 / cpu_ms_per_request: requests per second if the service kept one core busy (one event loop). */
  service_core_rps: number | null;
  wall_s: number;
}

/** Cumulative CPU seconds of the service and of PostgreSQL (undefined where they cannot be read). */
interface CpuMeters {
  service(): number | undefined;
  mainThread(): number | undefined;
  postgres(): number | undefined;
}

const cores = os.cpus().length;

/** What `load` needs of a load generator's run (autocannon's result, or wrk's in the same shape). */
interface ClientResult {
  requests: { total: number; average: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  /** CPU seconds of a separate client process (wrk); autocannon runs in this one. */
  childCpuS?: number;
}

/** The load generator (`--client`): autocannon (in this process, the default) or wrk (a process of its own). */
const loadClient = flagValue('client', 'autocannon');
if (loadClient !== 'autocannon' && loadClient !== 'wrk')
  throw new Error(`--client: autocannon or wrk, not "${loadClient}"`);

/**
 * The same load with wrk: `connections` connections on one wrk thread for `duration` seconds; a slates load
 * posts the same bodies as autocannon's (`user-<k mod 1000>`, size 10) from a Lua script, whose `done` prints
 * the counts, the latency percentiles and wrk's own CPU time (`os.clock()`, the whole process) as one JSON line.
 */
async function wrkRun(opts: autocannon.Options): Promise<ClientResult> {
  const slates = opts.method === 'POST';
  const lua = [
    'local k = 0',
    slates
      ? `request = function()
  local body = '{"userId":"user-' .. (k % 1000) .. '","size":10}'
  k = k + 1
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end`
      : '',
    `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"cpu_s":%.6f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), os.clock()))
end`,
  ].join('\n');
  const script = join(mkdtempSync(join(os.tmpdir(), 'reco-wrk-')), 'load.lua');
  writeFileSync(script, lua);
  const args = [
    '-t1',
    `-c${opts.connections ?? 16}`,
    `-d${opts.duration ?? 10}s`,
    '-s',
    script,
    String(opts.url),
  ];
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    p.stdout.on('data', (b: Buffer) => (text += b.toString()));
    p.on('error', (e) => reject(new Error(`--client wrk: ${e.message} (is wrk installed?)`)));
    p.on('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`wrk exited with ${code}: ${text}`)),
    );
  });
  const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (!line) throw new Error(`wrk printed no summary: ${out}`);
  const w = JSON.parse(line.slice('WRKJSON '.length)) as Record<string, number>;
  return {
    requests: { total: w.requests, average: w.requests / (w.duration_us / 1e6) },
    latency: { p50: w.p50_us / 1000, p99: w.p99_us / 1000 },
    errors: w.connect + w.read + w.write,
    timeouts: w.timeout,
    non2xx: w.status,
    childCpuS: w.cpu_s,
  };
}

async function load(opts: autocannon.Options, meters: CpuMeters): Promise<Run> {
  const cpu0 = meters.service();
  const main0 = meters.mainThread();
  const pg0 = meters.postgres();
  const all0 = machineBusyCpuSeconds();
  const client0 = process.cpuUsage();
  const t0 = process.hrtime.bigint() / 1000n;
  const r: ClientResult = loadClient === 'wrk' ? await wrkRun(opts) : await autocannon(opts);
  const t1 = process.hrtime.bigint() / 1000n;
  const client = process.cpuUsage(client0);
  const cpu1 = meters.service();
  const main1 = meters.mainThread();
  const pg1 = meters.postgres();
  const all1 = machineBusyCpuSeconds();
  const n = r.requests.total;
  const wallS = Number(t1 - t0) / 1e6;
  const serviceS = cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined;
  const mainS = main0 !== undefined && main1 !== undefined ? main1 - main0 : undefined;
  const pgS = pg0 !== undefined && pg1 !== undefined ? pg1 - pg0 : undefined;
  const clientS = (client.user + client.system) / 1e6 + (r.childCpuS ?? 0);
  const machineS = serviceS !== undefined && pgS !== undefined ? serviceS + pgS + clientS : undefined;
  const perRequest = (s: number | undefined): number | null =>
    s !== undefined && n > 0 ? (1000 * s) / n : null;
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
    cpu_ms_per_request: perRequest(serviceS),
    main_thread_cpu_ms_per_request: perRequest(mainS),
    pg_cpu_ms_per_request: perRequest(pgS),
    client_cpu_ms_per_request: perRequest(clientS),
    machine_cpu_ms_per_request: perRequest(machineS),
    machine_busy: machineS !== undefined && wallS > 0 ? machineS / (wallS * cores) : null,
    all_busy: all0 !== undefined && all1 !== undefined && wallS > 0 ? (all1 - all0) / (wallS * cores) : null,
    cpu_ceiling_rps: machineS !== undefined && machineS > 0 && n > 0 ? (cores * n) / machineS : null,
    service_core_rps: serviceS !== undefined && serviceS > 0 ? n / serviceS : null,
    wall_s: wallS,
  };
}

/**
 * `--no-model`: one slate, to check that the preload took effect: its items all score 0, where any policy's score is a
 * posterior mean or draw (its propensities, exactly 1/n, do not tell: on the cold catalogue this runs on, in_slate_ts's
 * are exactly 1/n too). A ratio measured without it would be labelled as the ceiling wrongly.
 */
async function checkNoModel(baseUrl: string, items: number): Promise<void> {
  const r = await fetch(`${baseUrl}/v1/slates`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId: 'no-model-check', size: 10 }),
  });
  const body = (await r.json()) as { items?: { score: number; propensity: number }[] };
  const uniform =
    r.ok && body.items?.length === 10 && body.items.every((i) => i.score === 0 && i.propensity === 1 / items);
  if (!uniform)
    throw new Error(
      `--no-model: the preload did not take effect (a slate came back as ${JSON.stringify(body).slice(0, 300)})`,
    );
}

async function main(): Promise<void> {
  const json = hasFlag('json');
  const seconds = Number(flagValue('seconds', '30'));
  const items = Number(flagValue('items', '10000'));
  const connections = Number(flagValue('connections', '16'));
  const warmClicks = Number(flagValue('warm-clicks', '20000'));
  const learnRate = Number(flagValue('learn-rate', '2000'));
  // Interleaved check: `--interleave` pairs of (slates, ping) slices of `--slice` seconds after the main phases.
  const pairs = Number(flagValue('interleave', '6'));
  const sliceS = Number(flagValue('slice', '5'));
  const adminUrl = flagValue(
    'database-url',
    process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  );
  // The service's DEFAULT_POLICY: --policy, else whatever the environment sets, else the service's default.
  const policyFlag = flagValue('policy', '');
  const policyEnv = policyFlag || process.env.DEFAULT_POLICY;
  const noModel = hasFlag('no-model');
  const policy = noModel
    ? 'none (--no-model: a uniform slate that reads no model)'
    : (policyEnv ?? 'in_slate_ts (default)');
  // PostgreSQL's CPU can only be read when it runs on this machine.
  const dbHost = new URL(adminUrl).hostname;
  const localDb = ['', 'localhost', '127.0.0.1', '[::1]'].includes(dbHost);
  if (!localDb) log(`database on ${dbHost}: postgres CPU not measured`);
  const db = await tempDatabase(adminUrl, 'reco_bench_http');
  const svc = await startService(
    {
      DATABASE_URL: db.url,
      LOG_LEVEL: 'warn',
      MODEL_REFRESH_MS: '200',
      ...(policyEnv === undefined ? {} : { DEFAULT_POLICY: policyEnv }),
    },
    noModel ? ['--require', join(__dirname, 'lib', 'no-model-slates.js')] : [],
  ).catch(async (e) => {
    await db.drop();
    throw e;
  });
  const meters: CpuMeters = {
    service: svc.cpuSeconds,
    mainThread: svc.mainThreadCpuSeconds,
    postgres: localDb ? postgresCpuSeconds : () => undefined,
  };
  try {
    log(`importing ${items} items`);
    await importItems(svc.baseUrl, items);
    await new Promise((r) => setTimeout(r, 500)); // the model picks the catalogue up within MODEL_REFRESH_MS
    const users = Array.from({ length: 1000 }, (_, u) => `user-${u}`);
    // One request per user, built once: autocannon then sends each connection's next prebuilt buffer, as it does
    // for the ping, instead of building a request per call. A `setupRequest` cost the load generator 12–20 µs of
    // CPU more a request (a probe against a bare node:http server answering a slate-sized body), CPU that the
    // slates lost to the client on a shared machine. Each connection cycles through the users in order.
    const slateOpts: autocannon.Options = {
      url: `${svc.baseUrl}/v1/slates`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      connections,
      duration: seconds,
      requests: users.map((userId) => ({ body: JSON.stringify({ userId, size: 10 }) })),
    };
    if (noModel) await checkNoModel(svc.baseUrl, items);
    log('warm-up (3 s each)');
    await load({ ...slateOpts, duration: 3 }, meters);
    await load({ url: `${svc.baseUrl}/v1/ping`, connections, duration: 3 }, meters);
    // Cold start: every item still at its group prior, so every item can win every draw (the sampler's worst case).
    log(`POST /v1/slates for ${seconds} s, cold catalogue`);
    const cold = await load(slateOpts, meters);
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
    const slates = await load(slateOpts, meters);
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
    const whileLearning = await load(slateOpts, meters).finally(() => (learning = false));
    await learner;
    const learnedPerS = learnedClicks / seconds;
    log(`GET /v1/ping for ${seconds} s`);
    const empty = await load({ url: `${svc.baseUrl}/v1/ping`, connections, duration: seconds }, meters);
    // The machine's speed drifts between phases (ping alone ranged 1.8k–3.7k req/s across runs of the same code on
    // one machine): the same two routes in alternating short slices, so drift hits both alike. The headline ratio
    // stays the 30 s phases' above; this one says how much of it is drift. (The catalogue is warmer by then: the
    // learning phase's clicks.)
    const slices = { slates: { n: 0, s: 0 }, ping: { n: 0, s: 0 }, ratios: [] as number[] };
    if (pairs > 0) log(`interleaved: ${pairs} × (${sliceS} s slates, ${sliceS} s ping)`);
    for (let i = 0; i < pairs; i++) {
      const a = await load({ ...slateOpts, duration: sliceS }, meters);
      const b = await load({ url: `${svc.baseUrl}/v1/ping`, connections, duration: sliceS }, meters);
      slices.slates.n += a.requests;
      slices.slates.s += a.wall_s;
      slices.ping.n += b.requests;
      slices.ping.s += b.wall_s;
      slices.ratios.push(a.rps / b.rps);
    }
    const interleaved =
      pairs > 0
        ? {
            pairs,
            slice_s: sliceS,
            slates_rps: slices.slates.n / slices.slates.s,
            empty_rps: slices.ping.n / slices.ping.s,
            ratio: slices.slates.n / slices.slates.s / (slices.ping.n / slices.ping.s),
            pair_ratios: slices.ratios,
          }
        : null;
    const data = {
      slates_rps: slates.rps,
      empty_rps: empty.rps,
      ratio: slates.rps / empty.rps,
      p99_ms: slates.p99_ms,
      errors: slates.errors + slates.non2xx,
      // Service CPU per request: steadier than req/s when other work shares the machine.
      slates_cpu_ms: slates.cpu_ms_per_request,
      empty_cpu_ms: empty.cpu_ms_per_request,
      cpu_ratio: costRatio(empty.cpu_ms_per_request, slates.cpu_ms_per_request),
      // The same with all the machine CPU the bench accounts for (service + postgres + client).
      slates_machine_cpu_ms: slates.machine_cpu_ms_per_request,
      empty_machine_cpu_ms: empty.machine_cpu_ms_per_request,
      machine_cpu_ratio: costRatio(empty.machine_cpu_ms_per_request, slates.machine_cpu_ms_per_request),
      setting: {
        items,
        slate_size: 10,
        policy,
        connections,
        seconds,
        warm_clicks: warmClicks,
        client: loadClient,
      },
      cold_slates_rps: cold.rps,
      cold_p99_ms: cold.p99_ms,
      learning_slates_rps: whileLearning.rps,
      learning_p99_ms: whileLearning.p99_ms,
      learning_clicks_per_s: learnedPerS,
      solve_thread: process.env.MODEL_SOLVE_THREAD ?? 'worker (default)',
      serving_threads: process.env.SERVING_THREADS ?? 'auto (default: 1 with 2 or more cores)',
      slates,
      cold,
      while_learning: whileLearning,
      empty,
      interleaved,
      machine: machine(),
    };
    emit(json, data, () =>
      [
        `bench:http, ${items} items, size 10, policy ${policy}, ${connections} connections (${loadClient}), ${seconds} s each; ${data.machine}`,
        formatTable(
          [
            'route',
            'req/s',
            'p50 ms',
            'p99 ms',
            'errors',
            'non-2xx',
            'service CPU ms/req',
            'main thread CPU ms/req',
            'postgres CPU ms/req',
            'client CPU ms/req',
            'machine CPU ms/req',
            'machine busy',
          ],
          [
            [
              `POST /v1/slates (after ${warmClicks} clicks)`,
              slates.rps,
              slates.p50_ms,
              slates.p99_ms,
              slates.errors,
              slates.non2xx,
              ...cpuCells(slates),
            ],
            [
              'POST /v1/slates (cold: all items at their prior)',
              cold.rps,
              cold.p50_ms,
              cold.p99_ms,
              cold.errors,
              cold.non2xx,
              ...cpuCells(cold),
            ],
            [
              `POST /v1/slates (while learning ${Math.round(learnedPerS)} clicks/s)`,
              whileLearning.rps,
              whileLearning.p50_ms,
              whileLearning.p99_ms,
              whileLearning.errors,
              whileLearning.non2xx,
              ...cpuCells(whileLearning),
            ],
            [
              'GET /v1/ping (baseline)',
              empty.rps,
              empty.p50_ms,
              empty.p99_ms,
              empty.errors,
              empty.non2xx,
              ...cpuCells(empty),
            ],
          ],
        ),
        `posterior solves on: ${data.solve_thread} (MODEL_SOLVE_THREAD); slate worker threads: ${data.serving_threads} (SERVING_THREADS)`,
        `ratio slates/empty: ${data.ratio.toFixed(3)}` +
          (data.cpu_ratio === null ? '' : `; by service CPU per request: ${data.cpu_ratio.toFixed(3)}`) +
          (data.machine_cpu_ratio === null
            ? ''
            : `; by machine CPU per request: ${data.machine_cpu_ratio.toFixed(3)}`),
        ...[slates, empty].map((r) => ceilingLine(r === slates ? 'slates' : 'ping', r)),
        ...(interleaved
          ? [
              `interleaved (${interleaved.pairs} × ${interleaved.slice_s} s each, after the phases above): slates ` +
                `${fmt(interleaved.slates_rps)} req/s, ping ${fmt(interleaved.empty_rps)} req/s, ratio ` +
                `${interleaved.ratio.toFixed(3)} (pairs: ${interleaved.pair_ratios.map((r) => r.toFixed(2)).join(' ')})`,
            ]
          : []),
        `all cores busy by /proc/stat (any process; above machine busy = CPU taken by something else): ` +
          [slates, cold, whileLearning, empty]
            .map((r) => (r.all_busy === null ? '-' : fmt(r.all_busy)))
            .join(' / '),
      ].join('\n'),
    );
  } finally {
    await svc.stop();
    await db.drop();
  }
}

/** What the CPU per request says a route could reach on this machine. */
/** Cost of an empty request over a slate's (the throughput ratio they imply), null when one is unknown. */
function costRatio(empty: number | null, slate: number | null): number | null {
  return empty && slate ? empty / slate : null;
}

function ceilingLine(route: string, r: Run): string {
  const round = (x: number | null): string => (x === null ? '-' : String(Math.round(x)));
  return (
    `${route} CPU-bound ceiling: ${round(r.cpu_ceiling_rps)} req/s with all ${cores} cores busy ` +
    `(${cores} × 1000 / machine CPU ms/req), ${round(r.service_core_rps)} req/s with the service at one ` +
    `busy core (1000 / service CPU ms/req); measured ${Math.round(r.rps)}`
  );
}

function cpuCells(r: Run): Cell[] {
  return [
    r.cpu_ms_per_request,
    r.main_thread_cpu_ms_per_request,
    r.pg_cpu_ms_per_request,
    r.client_cpu_ms_per_request,
    r.machine_cpu_ms_per_request,
    r.machine_busy,
  ].map((x) => (x === null ? '-' : x));
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:http failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
