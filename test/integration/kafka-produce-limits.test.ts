// What the service produces must fit the broker's size limits (message.max.bytes, 1 MB by default, and a
// topic's max.message.bytes): a send larger than that is refused whole, with MESSAGE_TOO_LARGE, and kafkajs puts
// all of a send's messages for one partition into one record batch. Real broker, real PostgreSQL.
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { impressionEvent } from '../../src/messaging/impression-event';
import { ModelService } from '../../src/modules/model/model.service';
import { startTestApp, type TestApp } from '../setup/app';
import { describeKafka, uniqueKafkaName } from '../setup/kafka';
import { importTestItems, LEARNING_ENV, metricValue as metric, waitFor } from '../setup/learning';

/** The broker's default message.max.bytes. */
const BROKER_DEFAULT_MAX_BYTES = 1_048_588;

describeKafka('producing within the broker size limits (real broker)', (kafka) => {
  let client: Kafka;
  let admin: Admin;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    client = new Kafka({ clientId: 'test', brokers: kafka.brokers, logLevel: logLevel.NOTHING });
    admin = client.admin();
    await admin.connect();
  });
  afterAll(async () => {
    for (const a of apps) await a.close();
    await admin?.disconnect();
  });

  const topicsFor = (tag: string) => ({
    KAFKA_TOPIC_IMPRESSIONS: uniqueKafkaName(`${tag}-imp`),
    KAFKA_TOPIC_CLICKS: uniqueKafkaName(`${tag}-clk`),
    KAFKA_TOPIC_DLQ: uniqueKafkaName(`${tag}-dlq`),
    KAFKA_GROUP_ID: uniqueKafkaName(`${tag}-grp`),
  });

  it('publishes a full batch of 1,000 served slates, more than the broker takes in one request', async () => {
    const topics = topicsFor('big');
    await admin.createTopics({
      topics: [topics.KAFKA_TOPIC_IMPRESSIONS, topics.KAFKA_TOPIC_CLICKS, topics.KAFKA_TOPIC_DLQ].map(
        (topic) => ({
          topic,
        }),
      ),
    });
    // A long flush interval: the log writes (and publishes) when 1,000 slates are waiting, as under load.
    const app = await startTestApp({
      ...LEARNING_ENV,
      JOIN_WINDOW_MS: '600000',
      IMPRESSION_FLUSH_MS: '10000',
      KAFKA_BROKERS: kafka.brokers.join(','),
      ...topics,
    });
    apps.push(app);
    // Item ids as a shop's catalogue may have them (paths of SKUs with variants), not the short ids of other tests.
    const catalogue = Array.from({ length: 50 }, (_, i) =>
      JSON.stringify({
        id: `shoes:sku-${String(i).padStart(6, '0')}:colour-navy:size-42:width-regular`,
        group: `g${i % 3}`,
      }),
    );
    const imported = await app.http
      .post('/v1/items:import')
      .set('content-type', 'application/x-ndjson')
      .send(catalogue.join('\n'));
    expect(imported.status).toBe(200);
    app.reco.app.get(ModelService).rebuild(); // serving sees the catalogue now, not at the next refresh

    const slates = 1000;
    const served: string[] = [];
    for (let k = 0; k < slates; k += 50) {
      const responses = await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          app.http.post('/v1/slates').send({ userId: `user-${k + j}`, size: 10, context: { page: 'home' } }),
        ),
      );
      for (const r of responses) {
        expect(r.status).toBe(200);
        served.push(r.body.slateId as string);
      }
    }
    // The premise: these slates' events, as published, are more than the broker takes in one record batch.
    await waitFor('the slates to be stored', async () => {
      const [{ n }] = await app.reco.db.dataSource.query('SELECT count(*)::int AS n FROM slates');
      return n === slates;
    });
    const first = await app.http.get(`/v1/slates/${served[0]}`);
    const eventBytes = Buffer.byteLength(
      JSON.stringify(impressionEvent({ ...first.body, servedAt: new Date(first.body.servedAt) })),
    );
    expect(eventBytes * slates).toBeGreaterThan(BROKER_DEFAULT_MAX_BYTES);

    // The learner consumes them back from the impressions topic: every one arrives, none is unpublished.
    await waitFor(
      'the learner to learn every published impression',
      async () =>
        metric(
          (await app.http.get('/metrics')).text,
          'reco_events_total',
          '{source="kafka",outcome="learned"}',
        ) >= slates,
      60_000,
    );
    const metrics = (await app.http.get('/metrics')).text;
    expect(metric(metrics, 'reco_events_total', '{source="kafka",outcome="learned"}')).toBe(slates);
    expect(metric(metrics, 'reco_impressions_unpublished_total')).toBe(0);
    const offsets = await admin.fetchTopicOffsets(topics.KAFKA_TOPIC_IMPRESSIONS);
    expect(offsets.reduce((s, p) => s + Number(p.high), 0)).toBe(slates);
  });

  it('dead-letters a fetched batch larger than the dead-letter topic takes, and never stalls on one letter too large for it', async () => {
    const topics = topicsFor('dlq');
    const dlqMaxBytes = 64 * 1024;
    await admin.createTopics({
      topics: [
        { topic: topics.KAFKA_TOPIC_IMPRESSIONS },
        { topic: topics.KAFKA_TOPIC_CLICKS },
        // A dead-letter topic that takes less than the clicks topic: a letter can be too large for it alone.
        {
          topic: topics.KAFKA_TOPIC_DLQ,
          configEntries: [{ name: 'max.message.bytes', value: String(dlqMaxBytes) }],
        },
      ],
    });
    const producer = client.producer();
    await producer.connect();
    // 3,000 small poison messages (≈ 1.6 MB, fetched together), then one of 100 KB, then a valid click.
    const small = Array.from({ length: 3000 }, (_, i) => ({
      key: `k${i}`,
      value: `{"not json ${i} ${'x'.repeat(480)}`,
    }));
    for (let k = 0; k < small.length; k += 500)
      await producer.send({ topic: topics.KAFKA_TOPIC_CLICKS, messages: small.slice(k, k + 500) });
    const huge = { key: 'huge', value: 'y'.repeat(100 * 1024) };
    await producer.send({ topic: topics.KAFKA_TOPIC_CLICKS, messages: [huge] });
    const click = {
      eventId: 'after-the-poison',
      type: 'click',
      userId: 'u1',
      itemId: 'it-1',
      ts: Date.now(),
    };
    await producer.send({
      topic: topics.KAFKA_TOPIC_CLICKS,
      messages: [{ key: 'u1', value: JSON.stringify(click) }],
    });
    await producer.disconnect();

    const app = await startTestApp({ ...LEARNING_ENV, KAFKA_BROKERS: kafka.brokers.join(','), ...topics });
    apps.push(app);
    await importTestItems(app);
    const poison = small.length + 1;
    await waitFor(
      'every poison message dead-lettered and the click after them learned',
      async () => {
        const m = (await app.http.get('/metrics')).text;
        return (
          metric(m, 'reco_events_total', '{source="kafka",outcome="dead_lettered"}') >= poison &&
          metric(m, 'reco_events_total', '{source="kafka",outcome="learned"}') >= 1
        );
      },
      90_000,
    );

    const dlq = client.consumer({ groupId: uniqueKafkaName('dlq-reader') });
    await dlq.connect();
    await dlq.subscribe({ topic: topics.KAFKA_TOPIC_DLQ, fromBeginning: true });
    const dead = new Map<string, { value: Buffer | null; headers: Record<string, string> }>();
    await dlq.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        dead.set(message.key?.toString() ?? '', { value: message.value, headers });
      },
    });
    await waitFor('the dead letters', async () => dead.size >= poison, 60_000);
    await dlq.disconnect();
    // Every small one with its bytes; the huge one without its value, saying why and where the original is.
    for (const m of small) expect(dead.get(m.key)?.value?.toString()).toBe(m.value);
    const letter = dead.get('huge')!;
    expect(letter.value).toBeNull();
    expect(letter.headers['reco-dlq-value-omitted']).toMatch(/more than .* takes/);
    expect(letter.headers['reco-dlq-source-topic']).toBe(topics.KAFKA_TOPIC_CLICKS);
    expect(Number(letter.headers['reco-dlq-source-offset'])).toBe(small.length);
    expect(letter.headers['reco-dlq-reason']).toMatch(/larger than/);
  });
});
