/**
 * npm run bench:ingest [-- --events 1000000 --partitions 4 --paced-seconds 20 --paced-rate R --json --database-url URL]
 *
 * 1. Produces `--events` click and impression events to the local broker (KAFKA_BROKERS, or the one
 *    docker/kafka/start.sh runs).
 * 2. Baseline, same run: a plain kafkajs consumer reads the same messages and does nothing with them.
 * 3. `reco serve` (child process, Kafka mode, throwaway PostgreSQL database) learns them: consumed, deduped,
 *    joined, learned and committed. Throughput (`events_per_s`) = events / time from its first committed batch
 *    until all work they cause is done: every join window closed (5 s windows; their negatives learned, the
 *    last 5 s not counted), every click in the click log and every closed slate's tombstone in its table (both
 *    written behind the learning path). The rate at
 *    which only the offsets are committed is reported beside it. Every event must be learned, or the bench fails.
 * 4. Freshness, after that backlog is gone: events produced at half that rate (or `--paced-rate`) for
 *    `--paced-seconds`; p95 of
 *    event time → committed, from
 *    the service's own histogram (reco_learning_freshness_seconds), interpolated within its buckets.
 */
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { Client } from 'pg';
import { emit, flagValue, formatTable, hasFlag, log, machine } from './lib/report';
import { importItems, startService, tempDatabase } from './lib/service';

const ITEMS = 10_000;
const WINDOW_MS = 5000;

function brokers(): { list: string[]; stop: () => void } {
  if (process.env.KAFKA_BROKERS) return { list: process.env.KAFKA_BROKERS.split(','), stop: () => undefined };
  const dir = join(__dirname, '..', '..', 'docker', 'kafka');
  const lease = String(process.pid);
  // A broker for throughput, not for a quick start (docker/kafka/README.md).
  const env = {
    ...process.env,
    RECO_KAFKA_JVM_OPTS: process.env.RECO_KAFKA_JVM_OPTS ?? '-Xmx1g -XX:+UseG1GC',
  };
  const r = spawnSync('bash', [join(dir, 'start.sh'), '--lease', lease], {
    encoding: 'utf8',
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0)
    throw new Error('could not start Kafka with docker/kafka/start.sh (set KAFKA_BROKERS to use your own)');
  const address = r.stdout.trim().split('\n').pop()!;
  return {
    list: [address],
    stop: () => spawnSync('bash', [join(dir, 'stop.sh'), '--release', lease], { stdio: 'inherit' }),
  };
}

/** Events of one slate: an impression of 3 items, a click on one of them half of the time, and an organic click. */
function slateEvents(
  s: number,
  tag: string,
  ts: number,
): { topic: 'imp' | 'clk'; key: string; value: string }[] {
  const slateId = randomUUID();
  const userId = `user-${s % 50_000}`;
  const items = [0, 1, 2].map((p) => ({
    itemId: `item-${(s * 7 + p * 13) % ITEMS}`,
    position: p + 1,
    propensity: 0.1,
  }));
  const out: { topic: 'imp' | 'clk'; key: string; value: string }[] = [
    {
      topic: 'imp',
      key: userId,
      value: JSON.stringify({ eventId: `${tag}i${s}`, type: 'impression', slateId, userId, ts, items }),
    },
  ];
  if (s % 2 === 0) {
    out.push({
      topic: 'clk',
      key: userId,
      value: JSON.stringify({
        eventId: `${tag}c${s}`,
        type: 'click',
        slateId,
        userId,
        itemId: items[s % 3].itemId,
        ts,
      }),
    });
  }
  out.push({
    topic: 'clk',
    key: userId,
    value: JSON.stringify({
      eventId: `${tag}o${s}`,
      type: 'click',
      userId,
      itemId: `item-${(s * 31) % ITEMS}`,
      ts,
    }),
  });
  return out;
}

async function produce(
  producer: Producer,
  topics: { imp: string; clk: string },
  n: number,
  tag: string,
): Promise<{ sent: number; clicks: number }> {
  let sent = 0;
  let clicks = 0;
  let s = 0;
  const chunk: Record<'imp' | 'clk', { key: string; value: string }[]> = { imp: [], clk: [] };
  const flush = async () => {
    await Promise.all(
      (['imp', 'clk'] as const).map((t) =>
        chunk[t].length ? producer.send({ topic: topics[t], acks: 1, messages: chunk[t] }) : undefined,
      ),
    );
    chunk.imp = [];
    chunk.clk = [];
  };
  while (sent < n) {
    for (const e of slateEvents(s++, tag, Date.now())) {
      chunk[e.topic].push({ key: e.key, value: e.value });
      sent++;
      if (e.topic === 'clk') clicks++;
    }
    if (chunk.imp.length + chunk.clk.length >= 20_000) {
      await flush();
      if (sent % 200_000 < 20_000) log(`  produced ${sent}`);
    }
  }
  await flush();
  return { sent, clicks };
}

async function rawConsume(kafka: Kafka, topics: string[], total: number): Promise<number> {
  const consumer = kafka.consumer({
    groupId: `bench-raw-${Date.now()}`,
    maxBytesPerPartition: 4 * 1024 * 1024,
  });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  let seen = 0;
  let t0 = 0;
  let t1 = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset }) => {
        if (t0 === 0) t0 = performance.now();
        seen += batch.messages.length;
        // Touch every message as the learner must (its bytes are read), but do nothing with it.
        let bytes = 0;
        for (const m of batch.messages) bytes += m.value?.length ?? 0;
        if (bytes < 0) log('impossible');
        resolveOffset(batch.messages[batch.messages.length - 1].offset);
        if (seen >= total && t1 === 0) {
          t1 = performance.now();
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return seen / ((t1 - t0) / 1000);
}

async function openJoins(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return Number(/^reco_learning_joins\{state="open"\} (\d+)/m.exec(text)?.[1] ?? NaN);
}

async function committedTotal(pg: Client, groupId: string): Promise<number> {
  const r = await pg.query(
    'SELECT coalesce(sum(next_offset), 0) AS n FROM consumer_offsets WHERE group_id = $1',
    [groupId],
  );
  return Number(r.rows[0].n);
}

function histogram(metrics: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of metrics.matchAll(/reco_learning_freshness_seconds_bucket\{le="([^"]+)"\} (\d+)/g)) {
    out.set(m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2]));
  }
  return out;
}

function quantileFromBuckets(before: Map<number, number>, after: Map<number, number>, q: number): number {
  const les = [...after.keys()].sort((a, b) => a - b);
  const counts = les.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const total = counts[counts.length - 1];
  if (total <= 0) return NaN;
  const target = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (let k = 0; k < les.length; k++) {
    if (counts[k] >= target) {
      if (!Number.isFinite(les[k])) return prevLe;
      const within = counts[k] - prevCount;
      return prevLe + (within > 0 ? ((target - prevCount) / within) * (les[k] - prevLe) : 0);
    }
    prevLe = les[k];
    prevCount = counts[k];
  }
  return NaN;
}

async function main(): Promise<void> {
  const json = hasFlag('json');
  const total = Number(flagValue('events', '1000000'));
  const partitions = Number(flagValue('partitions', '4'));
  const pacedSeconds = Number(flagValue('paced-seconds', '20'));
  const pacedRate = Number(flagValue('paced-rate', '0'));
  const adminUrl = flagValue(
    'database-url',
    process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  );
  const b = brokers();
  const kafka = new Kafka({ clientId: 'bench-ingest', brokers: b.list, logLevel: logLevel.NOTHING });
  const run = Date.now().toString(36);
  const topics = { imp: `bench-imp-${run}`, clk: `bench-clk-${run}`, dlq: `bench-dlq-${run}` };
  const groupId = `bench-learner-${run}`;
  const db = await tempDatabase(adminUrl, 'reco_bench_ingest');
  const pg = new Client({ connectionString: db.url });
  let svc: Awaited<ReturnType<typeof startService>> | undefined;
  try {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [topics.imp, topics.clk, topics.dlq].map((topic) => ({ topic, numPartitions: partitions })),
    });
    await admin.disconnect();
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    log(`producing ${total} events`);
    const tp = performance.now();
    const { sent: produced, clicks: producedClicks } = await produce(producer, topics, total, 'b');
    const produceRate = produced / ((performance.now() - tp) / 1000);

    log('baseline: raw kafkajs consume of the same messages');
    const rawRate = await rawConsume(kafka, [topics.imp, topics.clk], produced);

    // The catalogue first, by a service without Kafka on the same database, so that every event the learner
    // consumes can be learned (a click on an item not yet imported is rejected, which is cheaper than learning).
    log('importing the catalogue');
    const importer = await startService({ DATABASE_URL: db.url, LOG_LEVEL: 'warn' });
    try {
      await importItems(importer.baseUrl, ITEMS);
    } finally {
      await importer.stop();
    }

    log('reco learning the same messages');
    svc = await startService({
      DATABASE_URL: db.url,
      KAFKA_BROKERS: b.list.join(','),
      KAFKA_TOPIC_IMPRESSIONS: topics.imp,
      KAFKA_TOPIC_CLICKS: topics.clk,
      KAFKA_TOPIC_DLQ: topics.dlq,
      KAFKA_GROUP_ID: groupId,
      LOG_LEVEL: 'warn',
      // Short windows, so that closing them (the negatives: most of the updates) is part of what is timed.
      JOIN_WINDOW_MS: String(WINDOW_MS),
    });
    await pg.connect();
    // The timed window starts at the learner's first committed batch.
    let t0 = 0;
    let n0 = 0;
    for (;;) {
      const n = await committedTotal(pg, groupId);
      if (n > 0 && t0 === 0) {
        t0 = performance.now();
        n0 = n;
      }
      if (n >= produced) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const learnRate = (produced - n0) / ((performance.now() - t0) / 1000);
    // Then until everything those events cause is done: every join window closed (its negatives learned; the
    // last ones close WINDOW_MS after the last impression, which is not counted), and the click log and the
    // closed slates' tombstones, both written behind the learning path (docs/exactly-once.md), complete.
    for (;;) {
      const r = await pg.query(
        'SELECT (SELECT count(*) FROM clicks)::int AS clicks, (SELECT count(*) FROM slate_tombstones)::int AS slates',
      );
      const open = await openJoins(svc.baseUrl);
      if (r.rows[0].clicks >= producedClicks && r.rows[0].slates >= produced - producedClicks && open === 0)
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const withLogRate = (produced - n0) / ((performance.now() - t0) / 1000 - WINDOW_MS / 1000);
    const m = await (await fetch(`${svc.baseUrl}/metrics`)).text();
    const sum = (name: string) => Number(new RegExp(`${name}_sum (\\S+)`).exec(m)?.[1] ?? NaN);
    const count = (name: string) => Number(new RegExp(`${name}_count (\\S+)`).exec(m)?.[1] ?? NaN);
    const outcome = (o: string) =>
      Number(new RegExp(`reco_events_total\\{source="kafka",outcome="${o}"\\} (\\S+)`).exec(m)?.[1] ?? 0);
    const learned = outcome('learned');
    const notLearned = outcome('rejected') + outcome('duplicate') + outcome('dead_lettered');
    log(`  learned ${learned} events, ${notLearned} not (rejected, duplicate or dead-lettered)`);
    if (learned !== produced) throw new Error(`the learner learned ${learned} of ${produced} events`);
    const batches = count('reco_learning_batch_events');
    const meanBatch = sum('reco_learning_batch_events') / batches;
    const meanBatchMs = (sum('reco_learning_batch_seconds') / count('reco_learning_batch_seconds')) * 1000;
    log(
      `  ${batches} batches, ${meanBatch.toFixed(0)} events and ${meanBatchMs.toFixed(1)} ms each on average`,
    );
    log(
      `learned at ${Math.round(learnRate)} events/s (${Math.round(withLogRate)} with every window closed, the click log and the tombstones written)`,
    );

    // Half the measured rate (the setting), or a rate of one's own to find where freshness holds.
    const paced = pacedRate > 0 ? pacedRate : withLogRate / 2;
    log(`freshness: ${Math.round(paced)} events/s for ${pacedSeconds} s`);
    const before = histogram(await (await fetch(`${svc.baseUrl}/metrics`)).text());
    const start = performance.now();
    let sentPaced = 0;
    let s = 10_000_000;
    while (performance.now() - start < pacedSeconds * 1000) {
      const due = Math.floor(((performance.now() - start) / 1000) * paced);
      const msgs: { topic: 'imp' | 'clk'; key: string; value: string }[] = [];
      while (sentPaced + msgs.length < due) msgs.push(...slateEvents(s++, 'p', Date.now()));
      if (msgs.length) {
        await Promise.all(
          (['imp', 'clk'] as const).map((t) => {
            const m = msgs.filter((x) => x.topic === t).map(({ key, value }) => ({ key, value }));
            return m.length ? producer.send({ topic: topics[t], acks: 1, messages: m }) : undefined;
          }),
        );
        sentPaced += msgs.length;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const target = produced + sentPaced;
    while ((await committedTotal(pg, groupId)) < target) await new Promise((r) => setTimeout(r, 100));
    const after = histogram(await (await fetch(`${svc.baseUrl}/metrics`)).text());
    const p95 = quantileFromBuckets(before, after, 0.95) * 1000;
    const p50 = quantileFromBuckets(before, after, 0.5) * 1000;
    await producer.disconnect();

    const data = {
      events_per_s: withLogRate,
      committed_events_per_s: learnRate,
      raw_events_per_s: rawRate,
      ratio: withLogRate / rawRate,
      freshness_p95_ms: p95,
      freshness_p50_ms: p50,
      paced_events_per_s: paced,
      batches,
      mean_batch_events: meanBatch,
      mean_batch_ms: meanBatchMs,
      produced,
      produce_events_per_s: produceRate,
      partitions,
      machine: machine(),
    };
    emit(json, data, () =>
      [
        `bench:ingest: ${produced} events (impressions of 3 items, clicks joined and organic), ${partitions} partitions per topic, one learner; ${data.machine}`,
        formatTable(
          ['figure', 'value'],
          [
            [
              'learned end to end: consumed, deduped, joined, learned and committed, every window closed (negatives learned), every click and tombstone written; events/s',
              withLogRate,
            ],
            ['  of which: offsets committed for every event (windows still open), events/s', learnRate],
            ['baseline: raw kafkajs consume of the same messages, events/s', rawRate],
            ['ratio', data.ratio],
            [`freshness p95 at ${Math.round(paced)} events/s (event time → committed), ms`, p95],
            ['freshness p50, ms', p50],
            ['producer rate (for the record), events/s', produceRate],
          ],
        ),
        'Freshness quantiles are interpolated within the histogram buckets (0.05, 0.1, 0.25, 0.5, 1, 2 s, ...).',
      ].join('\n'),
    );
  } finally {
    await svc?.stop();
    await pg.end().catch(() => undefined);
    await db.drop();
    b.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:ingest failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
