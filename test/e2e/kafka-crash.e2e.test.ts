import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { startTestApp, type TestApp } from '../setup/app';
import { ensureBuilt, serveCli, type ServedCli } from '../setup/cli';
import { createTestDatabase, type TestDatabase } from '../setup/db';
import { describeKafka, uniqueKafkaName } from '../setup/kafka';
import {
  expectSameStats,
  LEARNING_ENV,
  makeEvents,
  openJoinsOf,
  statsById,
  testItems,
  waitFor,
  waitForJoinsClosed,
} from '../setup/learning';

// A join window longer than any one outage (a killed learner's partitions move after the 6 s session timeout),
// so that which clicks join their slates does not depend on when the crashes happened.
const ENV = {
  ...LEARNING_ENV,
  JOIN_WINDOW_MS: '30000',
  CHECKPOINT_INTERVAL_MS: '1000',
  KAFKA_SESSION_TIMEOUT_MS: '6000',
};

describeKafka(
  'crash safety: SIGKILL mid-stream (real broker, real PostgreSQL, the built service)',
  (kafka) => {
    let db: TestDatabase;
    let recovered: TestApp | undefined;
    let clean: TestApp | undefined;
    let child: ServedCli | undefined;
    beforeAll(async () => {
      ensureBuilt();
      db = await createTestDatabase();
    });
    afterAll(async () => {
      child?.child.kill('SIGKILL');
      await recovered?.stop();
      await db?.drop();
      await clean?.close();
    });

    it('learns exactly what a clean single pass learns, after being killed three times', async () => {
      const topics = {
        KAFKA_TOPIC_IMPRESSIONS: uniqueKafkaName('imp'),
        KAFKA_TOPIC_CLICKS: uniqueKafkaName('clk'),
        KAFKA_TOPIC_DLQ: uniqueKafkaName('dlq'),
        KAFKA_GROUP_ID: uniqueKafkaName('grp'),
      };
      // The child logs at info: its start line is how serveCli knows it is up.
      const env = {
        ...ENV,
        LOG_LEVEL: 'info',
        ...topics,
        DATABASE_URL: db.url,
        KAFKA_BROKERS: kafka.brokers.join(','),
      };
      const client = new Kafka({
        clientId: 'crash-test',
        brokers: kafka.brokers,
        logLevel: logLevel.NOTHING,
      });
      const admin = client.admin();
      await admin.connect();
      await admin.createTopics({
        topics: [topics.KAFKA_TOPIC_IMPRESSIONS, topics.KAFKA_TOPIC_CLICKS].map((topic) => ({
          topic,
          numPartitions: 3,
        })),
      });
      const producer = client.producer();
      await producer.connect();

      child = await serveCli([], env);
      const body = testItems.map((id, i) => JSON.stringify({ id, group: `g${i % 3}` })).join('\n');
      const imported = await fetch(`${child.baseUrl}/v1/items:import`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body,
      });
      expect(imported.status).toBe(200);

      const events = makeEvents(Date.now(), 400, 'crash-');
      const chunks: Record<string, unknown>[][] = [];
      for (let k = 0; k < events.length; k += 60) chunks.push(events.slice(k, k + 60));
      const killAfter = new Set([3, 7, 11]);
      for (let c = 0; c < chunks.length; c++) {
        const imp = chunks[c].filter((e) => e.type === 'impression');
        const clk = chunks[c].filter((e) => e.type === 'click');
        await producer.send({
          topic: topics.KAFKA_TOPIC_IMPRESSIONS,
          messages: imp.map((e) => ({ key: String(e.userId), value: JSON.stringify(e) })),
        });
        // Every click twice: redelivery must not count.
        await producer.send({
          topic: topics.KAFKA_TOPIC_CLICKS,
          messages: [...clk, ...clk].map((e) => ({ key: String(e.userId), value: JSON.stringify(e) })),
        });
        await new Promise((r) => setTimeout(r, 150));
        if (killAfter.has(c)) {
          child.child.kill('SIGKILL');
          await child.stop();
          child = await serveCli([], env);
        }
      }
      await producer.disconnect();

      const ends = new Map<string, number>();
      for (const topic of [topics.KAFKA_TOPIC_IMPRESSIONS, topics.KAFKA_TOPIC_CLICKS]) {
        for (const p of await admin.fetchTopicOffsets(topic))
          ends.set(`${topic}/${p.partition}`, Number(p.high));
      }
      await admin.disconnect();
      const pg = new Client({ connectionString: db.url });
      await pg.connect();
      try {
        await waitFor(
          'the restarted service to reach the end of both topics',
          async () => {
            const rows = (
              await pg.query(
                'SELECT topic, partition, next_offset FROM consumer_offsets WHERE group_id = $1',
                [topics.KAFKA_GROUP_ID],
              )
            ).rows as { topic: string; partition: number; next_offset: string }[];
            const got = new Map(rows.map((r) => [`${r.topic}/${r.partition}`, Number(r.next_offset)]));
            return [...ends].every(([k, end]) => end === 0 || got.get(k) === end);
          },
          90_000,
        );
        await waitFor(
          'every join window to close',
          async () => (await openJoinsOf(child!.baseUrl)) === 0,
          60_000,
        ).catch((e: unknown) => {
          // the service's own last words, when it is the service that failed
          throw new Error(`${(e as Error).message}\nservice output (tail):\n${child!.output().slice(-4000)}`);
        });
        const snaps = Number((await pg.query('SELECT count(*) AS n FROM model_snapshots')).rows[0].n);
        expect(snaps).toBeGreaterThan(0);
      } finally {
        await pg.end();
      }
      expect(await child.stop()).toBe(0); // SIGTERM: finish the batch, commit, checkpoint
      child = undefined;

      // The state in PostgreSQL (checkpoint + learning log), loaded by a fresh process without Kafka...
      recovered = await startTestApp({ ...ENV }, db);
      // ...equals a clean single pass over the distinct events.
      clean = await startTestApp({ ...ENV, JOIN_WINDOW_MS: '1000' });
      const r = await clean.http
        .post('/v1/items:import')
        .set('content-type', 'application/x-ndjson')
        .send(body);
      expect(r.status).toBe(200);
      for (let k = 0; k < events.length; k += 1000) {
        const res = await clean.http.post('/v1/events').send({ events: events.slice(k, k + 1000) });
        expect(res.body.accepted).toBe(Math.min(1000, events.length - k));
      }
      await waitForJoinsClosed(clean);
      expectSameStats(statsById(recovered), statsById(clean));
    });
  },
);
