/**
 * npm run bench:http [-- --seconds 30 --items 10000 --connections 16 --json --database-url URL]
 *
 * `reco serve` as a child process on a throwaway PostgreSQL database (every served slate is logged), then
 * autocannon (in this process) against POST /v1/slates and, in the same run, against GET /v1/ping on the same
 * server: the ratio of the two throughputs is the cost of choosing and logging a slate.
 */
import autocannon from 'autocannon';
import { emit, flagValue, formatTable, hasFlag, log, machine } from './lib/report';
import { importItems, startService, tempDatabase } from './lib/service';

interface Run {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  non2xx: number;
  requests: number;
}

async function load(opts: autocannon.Options): Promise<Run> {
  const r = await autocannon(opts);
  return {
    rps: r.requests.average,
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    requests: r.requests.total,
  };
}

async function main(): Promise<void> {
  const json = hasFlag('json');
  const seconds = Number(flagValue('seconds', '30'));
  const items = Number(flagValue('items', '10000'));
  const connections = Number(flagValue('connections', '16'));
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
    await load({ ...slateOpts, duration: 3 });
    await load({ url: `${svc.baseUrl}/v1/ping`, connections, duration: 3 });
    log(`POST /v1/slates for ${seconds} s`);
    const slates = await load(slateOpts);
    log(`GET /v1/ping for ${seconds} s`);
    const empty = await load({ url: `${svc.baseUrl}/v1/ping`, connections, duration: seconds });
    const data = {
      slates_rps: slates.rps,
      empty_rps: empty.rps,
      ratio: slates.rps / empty.rps,
      p99_ms: slates.p99_ms,
      errors: slates.errors + slates.non2xx,
      setting: { items, slate_size: 10, policy: 'in_slate_ts (default)', connections, seconds },
      slates,
      empty,
      machine: machine(),
    };
    emit(json, data, () =>
      [
        `bench:http, ${items} items, size 10, default policy, ${connections} connections, ${seconds} s each; ${data.machine}`,
        formatTable(
          ['route', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'non-2xx'],
          [
            ['POST /v1/slates', slates.rps, slates.p50_ms, slates.p99_ms, slates.errors, slates.non2xx],
            ['GET /v1/ping (baseline)', empty.rps, empty.p50_ms, empty.p99_ms, empty.errors, empty.non2xx],
          ],
        ),
        `ratio slates/empty: ${data.ratio.toFixed(3)}`,
      ].join('\n'),
    );
  } finally {
    await svc.stop();
    await db.drop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:http failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
