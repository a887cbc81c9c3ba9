// Proves the Kafka path on a real broker with the client reco uses (kafkajs 2.2.4): admin,
// idempotent produce, a consumer group with eachBatch and manual commits, resuming at the
// committed offset, and transactions seen through read_committed (what exactly-once builds on).
// Kafka 4 dropped old protocol versions (KIP-896) and kafkajs is unmaintained, so this test is
// also the check that the version pinned in docker/kafka/pom.xml still speaks kafkajs' protocol.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel, Partitioners, type Admin, type Consumer } from 'kafkajs';
import { describeKafka, KAFKA_TEST_ENV, pinnedKafkaVersion, uniqueKafkaName } from '../setup/kafka';

interface Received {
  partition: number;
  offset: string;
  key: string;
  value: string;
}

const TIMEOUT_MS = 60_000;

/** Runs a group consumer with autoCommit off, committing after each batch, until `count` arrive. */
async function consumeWithManualCommits(
  consumer: Consumer,
  topic: string,
  count: number,
): Promise<{ received: Received[]; batches: number }> {
  const received: Received[] = [];
  let batches = 0;
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`got ${received.length} of ${count} messages in 30 s`)),
      30_000,
    );
    consumer
      .run({
        autoCommit: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
          if (batch.isEmpty()) return;
          batches += 1;
          for (const message of batch.messages) {
            received.push({
              partition: batch.partition,
              offset: message.offset,
              key: message.key?.toString() ?? '',
              value: message.value?.toString() ?? '',
            });
            resolveOffset(message.offset);
          }
          // The committed offset is the next one to read, hence + 1.
          const next = (BigInt(batch.lastOffset()) + 1n).toString();
          await consumer.commitOffsets([{ topic, partition: batch.partition, offset: next }]);
          await heartbeat();
          if (received.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  return { received, batches };
}

describe('the pinned Kafka version', () => {
  it('is the same in docker/docker-compose.yml as in docker/kafka/pom.xml', () => {
    const compose = readFileSync(join(__dirname, '..', '..', 'docker', 'docker-compose.yml'), 'utf8');
    expect(/image:\s*apache\/kafka:(\S+)/.exec(compose)?.[1]).toBe(pinnedKafkaVersion());
  });
});

describeKafka('Kafka broker with kafkajs', (kafka) => {
  let client: Kafka;
  let admin: Admin;
  const topic = uniqueKafkaName('broker-test');
  const groupId = uniqueKafkaName('broker-test-group');
  const consumers: Consumer[] = [];

  const newConsumer = (options: { groupId: string; readUncommitted?: boolean }): Consumer => {
    const consumer = client.consumer({ ...options, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
    consumers.push(consumer);
    return consumer;
  };

  beforeAll(async () => {
    client = new Kafka({
      clientId: 'reco-kafka-broker-test',
      brokers: kafka.brokers,
      logLevel: logLevel.NOTHING,
    });
    admin = client.admin();
    await admin.connect();
  });

  afterAll(async () => {
    for (const consumer of consumers) await consumer.disconnect();
    await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin?.disconnect();
  });

  // Only the script's broker has a log here to read; KAFKA_BROKERS or a container may be any version.
  const itOnScriptBroker = process.env[KAFKA_TEST_ENV.source] === 'script' ? it : it.skip;

  itOnScriptBroker('runs the Kafka version pinned in docker/kafka/pom.xml', () => {
    expect(kafka.source).toBe('script');
    const home = process.env.RECO_KAFKA_HOME ?? join(__dirname, '..', '..', '.kafka');
    const log = readFileSync(join(home, 'broker.log'), 'utf8');
    expect(log).toContain(`Kafka version: ${pinnedKafkaVersion()}`);
  });

  it('answers admin requests: cluster, topic creation and metadata', async () => {
    const cluster = await admin.describeCluster();
    expect(cluster.brokers.length).toBeGreaterThanOrEqual(1);
    expect(cluster.controller).not.toBeNull();

    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true })).toBe(
      true,
    );
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    const partitions = metadata.topics[0]!.partitions;
    expect(partitions.map((p) => p.partitionId).sort()).toEqual([0, 1]);
    for (const p of partitions) expect(p.leader).toBeGreaterThanOrEqual(0);
  });

  it(
    'produces, consumes in a group with eachBatch and manual commits, and a second consumer resumes at the commit',
    async () => {
      const producer = client.producer({
        idempotent: true,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      try {
        const first = Array.from({ length: 20 }, (_, i) => ({ key: `k${i % 4}`, value: `first-${i}` }));
        await producer.send({ topic, acks: -1, messages: first });

        const one = newConsumer({ groupId });
        await one.connect();
        const run1 = await consumeWithManualCommits(one, topic, first.length);
        expect(run1.batches).toBeGreaterThanOrEqual(1);
        expect(run1.received.map((m) => m.value).sort()).toEqual(first.map((m) => m.value).sort());
        // Per key (hence per partition) order is the send order.
        for (const key of ['k0', 'k1', 'k2', 'k3']) {
          const sent = first.filter((m) => m.key === key).map((m) => m.value);
          expect(run1.received.filter((m) => m.key === key).map((m) => m.value)).toEqual(sent);
        }
        await one.disconnect();

        // The group's committed offsets are each partition's end: everything was committed.
        const ends = await admin.fetchTopicOffsets(topic);
        const committed = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions;
        for (const end of ends) {
          expect(committed.find((c) => c.partition === end.partition)?.offset).toBe(end.high);
        }

        const second = Array.from({ length: 6 }, (_, i) => ({ key: `k${i % 4}`, value: `second-${i}` }));
        await producer.send({ topic, acks: -1, messages: second });

        // Same group, new member: starts at the committed offsets, so sees only the new messages.
        const two = newConsumer({ groupId });
        await two.connect();
        const run2 = await consumeWithManualCommits(two, topic, second.length);
        expect(run2.received.map((m) => m.value).sort()).toEqual(second.map((m) => m.value).sort());
        for (const end of ends) {
          const firstRead = run2.received.find((m) => m.partition === end.partition);
          if (firstRead) expect(firstRead.offset).toBe(end.high);
        }
      } finally {
        await producer.disconnect();
      }
    },
    TIMEOUT_MS,
  );

  it(
    'commits and aborts transactions; a read_committed consumer sees only the committed ones',
    async () => {
      const txTopic = uniqueKafkaName('broker-test-tx');
      await admin.createTopics({ topics: [{ topic: txTopic, numPartitions: 1 }], waitForLeaders: true });
      const producer = client.producer({
        transactionalId: uniqueKafkaName('broker-test-tx-id'),
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      try {
        const aborted = await producer.transaction();
        await aborted.send({ topic: txTopic, messages: [{ key: 'a', value: 'aborted' }] });
        await aborted.abort();

        const committed = await producer.transaction();
        await committed.send({ topic: txTopic, messages: [{ key: 'c', value: 'committed' }] });
        // Offsets committed inside the transaction, as a read-process-write consumer would.
        await committed.sendOffsets({
          consumerGroupId: groupId,
          topics: [{ topic, partitions: [{ partition: 0, offset: '0' }] }],
        });
        await committed.commit();

        const reader = newConsumer({ groupId: uniqueKafkaName('broker-test-rc'), readUncommitted: false });
        await reader.connect();
        const { received } = await consumeWithManualCommits(reader, txTopic, 1);
        expect(received.map((m) => m.value)).toEqual(['committed']);

        const offsets = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions;
        expect(offsets.find((p) => p.partition === 0)?.offset).toBe('0');
      } finally {
        await producer.disconnect();
        await admin.deleteTopics({ topics: [txTopic] }).catch(() => undefined);
      }
    },
    TIMEOUT_MS,
  );
});
