import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import {
  Partitioners,
  type Consumer,
  type EachBatchPayload,
  type IHeaders,
  type Kafka,
  type Message,
  type Producer,
} from 'kafkajs';
import { Counter, Gauge } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '../../config/config';
import type { RecoEvent } from '../../messaging/event.schema';
import { LearningService } from '../learning/learning.service';
import { MetricsService } from '../metrics/metrics.service';
import { ModelStateRepository, type OffsetCommit } from '../model/model-state.repository';
import { decodeEventMessage } from './decode-message';
import { chunkMessages, isMessageTooLarge, messageBytes } from './produce-chunks';
import { KAFKA } from './kafka.tokens';

const MAX_BACKOFF_MS = 10_000;
/**
 * Partitions handled at once. Their batches are learned together, in one transaction (see `learnTogether`):
 * fewer, larger transactions under a backlog, and under low lag an event waits for at most the transaction
 * in flight, not for every other partition's batch in turn.
 */
const PARTITIONS_CONCURRENTLY = 16;

/**
 * The Kafka learner: a consumer group on the impressions and clicks topics, batch by batch (`eachBatch`),
 * with offsets kept in PostgreSQL and committed in the same transaction as what the batch taught the model.
 * On joining the group it seeks every assigned partition to the offset PostgreSQL holds, so after a crash it
 * resumes exactly where the last committed batch ended (and the event-id dedupe absorbs any overlap).
 * Poison messages go to the dead-letter topic with their original bytes and headers naming why and where from;
 * the batch goes on. A database outage stops the batch and retries it with backoff: nothing is skipped.
 */
@Injectable()
export class LearningConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(LearningConsumer.name);
  private consumer?: Consumer;
  private producer?: Producer;
  private stopping = false;
  private readonly deadLettered: Counter;
  private readonly lag: Gauge;
  /** Batches waiting for the transaction in flight to finish; they are learned together next. */
  private waiting?: { events: RecoEvent[]; offsets: OffsetCommit[]; settle: ((e?: unknown) => void)[] };
  private inFlight = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(KAFKA) private readonly kafka: Kafka | null,
    private readonly learning: LearningService,
    private readonly state: ModelStateRepository,
    metrics: MetricsService,
  ) {
    this.deadLettered = new Counter({
      name: 'reco_events_dead_lettered_total',
      help: 'Messages sent to the dead-letter topic, by source topic.',
      labelNames: ['topic'] as const,
      registers: [metrics.registry],
    });
    this.lag = new Gauge({
      name: 'reco_consumer_lag_messages',
      help: 'High watermark minus the next offset to learn, per topic and partition (at the last batch).',
      labelNames: ['topic', 'partition'] as const,
      registers: [metrics.registry],
    });
  }

  private starting?: Promise<void>;

  /** Start in the background: the HTTP service must come up (and say it is not ready) while Kafka is away. */
  onApplicationBootstrap(): void {
    if (this.config.kafka.mode !== 'kafka' || !this.kafka) return;
    this.starting = this.startWithRetry();
  }

  private async startWithRetry(): Promise<void> {
    let delay = 500;
    while (!this.stopping) {
      try {
        await this.start();
        return;
      } catch (e) {
        this.logger.error({ err: e, retryInMs: delay, msg: 'could not start the Kafka consumer; retrying' });
        await this.consumer?.disconnect().catch(() => undefined);
        await this.producer?.disconnect().catch(() => undefined);
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(MAX_BACKOFF_MS, delay * 2);
      }
    }
  }

  private async start(): Promise<void> {
    const k = this.config.kafka;
    if (k.mode !== 'kafka' || !this.kafka) return;
    this.producer = this.kafka.producer({
      allowAutoTopicCreation: true,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await this.producer.connect();
    this.consumer = this.kafka.consumer({
      groupId: k.groupId,
      sessionTimeout: k.sessionTimeoutMs,
      heartbeatInterval: Math.min(3000, Math.floor(k.sessionTimeoutMs / 3)),
      maxBytesPerPartition: 4 * 1024 * 1024,
      allowAutoTopicCreation: true,
    });
    const { GROUP_JOIN } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, ({ payload }) => {
      void this.seekToStoredOffsets(payload.memberAssignment).catch((e: unknown) =>
        this.logger.error({ err: e }, 'could not seek to the stored offsets'),
      );
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [k.topics.impressions, k.topics.clicks], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: PARTITIONS_CONCURRENTLY,
      eachBatch: (payload) => this.handleBatch(payload),
    });
    this.logger.log({
      msg: 'learning from Kafka',
      topics: [k.topics.impressions, k.topics.clicks],
      groupId: k.groupId,
    });
  }

  /** Finish the batch in hand, commit, leave the group, then checkpoint the model (SIGTERM). */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.starting;
    await this.consumer
      ?.disconnect()
      .catch((e: unknown) => this.logger.warn({ err: e }, 'consumer disconnect'));
    await this.producer?.disconnect().catch(() => undefined);
    if (this.consumer) {
      await this.learning
        .checkpoint()
        .catch((e: unknown) => this.logger.warn({ err: e }, 'checkpoint at shutdown failed'));
    }
  }

  private async seekToStoredOffsets(assignment: Record<string, number[]>): Promise<void> {
    const k = this.config.kafka;
    if (k.mode !== 'kafka' || !this.consumer) return;
    for (const [topic, partitions] of Object.entries(assignment)) {
      const stored = await this.state.readOffsets(k.groupId, topic);
      for (const partition of partitions) {
        const offset = stored.get(partition);
        if (offset !== undefined) this.consumer.seek({ topic, partition, offset });
      }
    }
  }

  private async handleBatch({
    batch,
    resolveOffset,
    heartbeat,
    isRunning,
    isStale,
    commitOffsetsIfNecessary,
  }: EachBatchPayload): Promise<void> {
    const k = this.config.kafka;
    if (k.mode !== 'kafka' || batch.messages.length === 0) return;
    const expected = batch.topic === k.topics.impressions ? 'impression' : 'click';
    const events: RecoEvent[] = [];
    const poison: { message: (typeof batch.messages)[number]; reason: string }[] = [];
    for (const message of batch.messages) {
      const d = decodeEventMessage(message.value, expected);
      if (d.ok) events.push(d.event);
      else poison.push({ message, reason: d.reason });
    }
    const last = batch.messages[batch.messages.length - 1].offset;
    const nextOffset = (BigInt(last) + 1n).toString();

    // Dead letters first (at least once: a crash before the commit below sends them again), in produce requests
    // the broker takes: a fetched batch holds up to 4 MB, and one send of more than the topic's
    // max.message.bytes was refused whole, again at every retry, and stalled the partition.
    if (poison.length) {
      const at = new Date().toISOString();
      const letters = poison.map(({ message, reason }) => ({
        key: message.key,
        value: message.value,
        headers: {
          ...copyHeaders(message.headers),
          'reco-dlq-reason': reason.slice(0, 1000),
          'reco-dlq-source-topic': batch.topic,
          'reco-dlq-source-partition': String(batch.partition),
          'reco-dlq-source-offset': message.offset,
          'reco-dlq-at': at,
        },
      }));
      for (const chunk of chunkMessages(letters, k.produceMaxBytes)) {
        const sent = await this.withRetry('dead-letter', isRunning, heartbeat, () =>
          this.sendDeadLetters(k.topics.dlq, chunk),
        );
        if (!sent) return;
      }
      this.deadLettered.inc({ topic: batch.topic }, poison.length);
      this.learning.countEvents('kafka', 'dead_lettered', poison.length);
      this.logger.warn({
        msg: 'dead-lettered messages',
        topic: batch.topic,
        partition: batch.partition,
        count: poison.length,
        first: poison[0].reason,
      });
    }

    // Learn and commit the position in one transaction; retry (never skip) while the database is down.
    const ok = await this.withRetry('learn', isRunning, heartbeat, () =>
      this.learnTogether(events, {
        groupId: k.groupId,
        topic: batch.topic,
        partition: batch.partition,
        nextOffset,
      }),
    );
    if (!ok || isStale()) return;
    resolveOffset(last);
    this.lag.set(
      { topic: batch.topic, partition: String(batch.partition) },
      Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(nextOffset))),
    );
    // Kafka's own committed offset only feeds lag tools; PostgreSQL's is the one we resume from.
    await commitOffsetsIfNecessary().catch(() => undefined);
    await heartbeat().catch(() => undefined);
  }

  /**
   * Learn one partition's batch together with the batches of other partitions that arrive while a transaction
   * is in flight (group commit): one transaction holds all their events and all their offsets, so each batch
   * still commits atomically with its position. Resolves once that transaction committed; rejects if it
   * failed (then every batch in it retries, nothing changed). Order does not matter across partitions
   * (docs/exactly-once.md), and one partition never has two batches in hand at once.
   */
  private learnTogether(events: RecoEvent[], offset: OffsetCommit): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w = (this.waiting ??= { events: [], offsets: [], settle: [] });
      for (const e of events) w.events.push(e);
      w.offsets.push(offset);
      w.settle.push((err?: unknown) => (err === undefined ? resolve() : reject(err as Error)));
      this.flush();
    });
  }

  private flush(): void {
    const w = this.waiting;
    if (this.inFlight || !w) return;
    this.waiting = undefined;
    this.inFlight = true;
    void this.learning
      .learn(w.events, 'kafka', w.offsets)
      .then(
        () => w.settle.forEach((s) => s()),
        (e: unknown) => w.settle.forEach((s) => s(e ?? new Error('learning failed'))),
      )
      .finally(() => {
        this.inFlight = false;
        this.flush();
      });
  }

  /**
   * Send dead letters; a run the broker refuses as too large is halved, and a single letter it refuses is sent
   * without its value (header `reco-dlq-value-omitted`; its source topic, partition and offset say where the
   * original is), so that no message can hold its partition back.
   */
  private async sendDeadLetters(topic: string, letters: Message[]): Promise<void> {
    try {
      await this.producer!.send({ topic, acks: -1, messages: letters });
    } catch (e) {
      if (!isMessageTooLarge(e)) throw e;
      if (letters.length > 1) {
        const half = letters.length >> 1;
        await this.sendDeadLetters(topic, letters.slice(0, half));
        await this.sendDeadLetters(topic, letters.slice(half));
        return;
      }
      const [letter] = letters;
      const bytes = messageBytes(letter);
      this.logger.warn({ msg: 'dead letter too large for its topic: sent without its value', topic, bytes });
      await this.producer!.send({
        topic,
        acks: -1,
        messages: [
          {
            key: letter.key,
            value: null,
            headers: {
              ...letter.headers,
              'reco-dlq-value-omitted': `${bytes} bytes, more than ${topic} takes; the original is at the source offset`,
            },
          },
        ],
      });
    }
  }

  /** Run `work` until it succeeds, backing off, heartbeating; false if the consumer is stopping. */
  private async withRetry(
    what: string,
    isRunning: () => boolean,
    heartbeat: () => Promise<void>,
    work: () => Promise<unknown>,
  ): Promise<boolean> {
    let delay = 200;
    for (;;) {
      try {
        await work();
        return true;
      } catch (e) {
        if (this.stopping || !isRunning()) return false;
        this.logger.warn({ err: e, retryInMs: delay, msg: `${what} failed; retrying` });
        await new Promise((r) => setTimeout(r, delay));
        await heartbeat().catch(() => undefined);
        delay = Math.min(MAX_BACKOFF_MS, delay * 2);
      }
    }
  }
}

function copyHeaders(h: IHeaders | undefined): IHeaders {
  return h ? { ...h } : {};
}
