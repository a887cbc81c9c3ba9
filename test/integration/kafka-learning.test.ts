import { Kafka, logLevel } from 'kafkajs';
import { startTestApp, type TestApp } from '../setup/app';
import { describeKafka, uniqueKafkaName } from '../setup/kafka';
import {
  expectSameStats,
  importTestItems,
  LEARNING_ENV,
  makeEvents,
  statsById,
  waitFor,
  waitForJoinsClosed,
} from '../setup/learning';

describeKafka('learning from Kafka (real broker, real PostgreSQL)', (kafka) => {
  let a: TestApp | undefined;
  let b: TestApp | undefined;
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('learns each distinct event once, dead-letters poison with its reason, and matches a clean pass', async () => {
    const topics = {
      KAFKA_TOPIC_IMPRESSIONS: uniqueKafkaName('imp'),
      KAFKA_TOPIC_CLICKS: uniqueKafkaName('clk'),
      KAFKA_TOPIC_DLQ: uniqueKafkaName('dlq'),
      KAFKA_GROUP_ID: uniqueKafkaName('grp'),
    };
    const client = new Kafka({ clientId: 'test', brokers: kafka.brokers, logLevel: logLevel.NOTHING });
    const admin = client.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [topics.KAFKA_TOPIC_IMPRESSIONS, topics.KAFKA_TOPIC_CLICKS, topics.KAFKA_TOPIC_DLQ].map(
        (topic) => ({
          topic,
          numPartitions: 2,
        }),
      ),
    });

    const events = makeEvents(Date.now(), 30, 'k-');
    const impressions = events.filter((e) => e.type === 'impression');
    const clicks = events.filter((e) => e.type === 'click');
    const poison = [
      { value: '{not json' },
      { value: JSON.stringify({ eventId: 'p1', type: 'click', userId: 5, itemId: 'it-1', ts: 1 }) },
      { value: JSON.stringify({ eventId: 'p2', type: 'hover', userId: 'u', ts: 1 }) },
      { value: 'x'.repeat(70 * 1024) },
      { value: JSON.stringify(impressions[0]) }, // an impression on the clicks topic
    ];

    a = await startTestApp({ ...LEARNING_ENV, KAFKA_BROKERS: kafka.brokers.join(','), ...topics });
    await importTestItems(a);

    const producer = client.producer();
    await producer.connect();
    const asMessages = (xs: Record<string, unknown>[]) =>
      xs.map((e) => ({ key: String(e.userId), value: JSON.stringify(e) }));
    await producer.send({ topic: topics.KAFKA_TOPIC_IMPRESSIONS, messages: asMessages(impressions) });
    // Clicks twice (a producer retry or replay), with the poison in between.
    await producer.send({ topic: topics.KAFKA_TOPIC_CLICKS, messages: asMessages(clicks) });
    await producer.send({
      topic: topics.KAFKA_TOPIC_CLICKS,
      messages: poison.map((p) => ({ ...p, headers: { origin: 'test' } })),
    });
    await producer.send({ topic: topics.KAFKA_TOPIC_CLICKS, messages: asMessages(clicks) });
    await producer.disconnect();

    // Everything consumed: the offsets PostgreSQL holds reach the end of every partition.
    const ends = new Map<string, number>();
    for (const topic of [topics.KAFKA_TOPIC_IMPRESSIONS, topics.KAFKA_TOPIC_CLICKS]) {
      for (const p of await admin.fetchTopicOffsets(topic))
        ends.set(`${topic}/${p.partition}`, Number(p.high));
    }
    await waitFor(
      'the consumer to reach the end of both topics',
      async () => {
        const rows: { topic: string; partition: number; next_offset: string }[] =
          await a!.reco.db.dataSource.query(
            'SELECT topic, partition, next_offset FROM consumer_offsets WHERE group_id = $1',
            [topics.KAFKA_GROUP_ID],
          );
        const got = new Map(rows.map((r) => [`${r.topic}/${r.partition}`, Number(r.next_offset)]));
        return [...ends].every(([k, end]) => end === 0 || got.get(k) === end);
      },
      60_000,
    );
    await waitForJoinsClosed(a);

    const metrics = (await a.http.get('/metrics')).text;
    const count = (outcome: string) =>
      Number(
        new RegExp(`reco_events_total\\{source="kafka",outcome="${outcome}"\\} (\\d+)`).exec(metrics)?.[1] ??
          0,
      );
    expect(count('learned')).toBe(events.length);
    expect(count('duplicate')).toBe(clicks.length);
    expect(count('dead_lettered')).toBe(poison.length);

    // The dead-letter topic holds the original bytes, with headers naming the reason and the source.
    const dlq = client.consumer({ groupId: uniqueKafkaName('dlq-reader') });
    await dlq.connect();
    await dlq.subscribe({ topic: topics.KAFKA_TOPIC_DLQ, fromBeginning: true });
    const dead: { value: string; headers: Record<string, string> }[] = [];
    await dlq.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        dead.push({ value: message.value?.toString() ?? '', headers });
      },
    });
    await waitFor('the dead letters', async () => dead.length >= poison.length, 30_000);
    await dlq.disconnect();
    expect(dead).toHaveLength(poison.length);
    expect(dead.map((d) => d.value).sort()).toEqual(poison.map((p) => p.value).sort());
    for (const d of dead) {
      expect(d.headers['reco-dlq-source-topic']).toBe(topics.KAFKA_TOPIC_CLICKS);
      expect(d.headers['reco-dlq-source-partition']).toMatch(/^\d+$/);
      expect(d.headers['reco-dlq-source-offset']).toMatch(/^\d+$/);
      expect(d.headers.origin).toBe('test');
    }
    const reasons = dead.map((d) => d.headers['reco-dlq-reason']).join('\n');
    expect(reasons).toMatch(/not valid JSON/);
    expect(reasons).toMatch(/userId: Invalid input: expected string/);
    expect(reasons).toMatch(/type must be one of click, impression/);
    expect(reasons).toMatch(/larger than/);
    expect(reasons).toMatch(/does not belong on this topic/);
    await admin.disconnect();

    // A clean single pass over the distinct events, over HTTP, learns the same statistics.
    b = await startTestApp(LEARNING_ENV);
    await importTestItems(b);
    expect((await b.http.post('/v1/events').send({ events })).body.accepted).toBe(events.length);
    await waitForJoinsClosed(b);
    expectSameStats(statsById(a), statsById(b));
  });
});
