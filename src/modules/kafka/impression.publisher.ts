import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import { Counter } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '../../config/config';
import { impressionEvent } from '../../messaging/impression-event';
import { MetricsService } from '../metrics/metrics.service';
import { ImpressionDeliveryService } from '../slates/impression-delivery.service';
import { chunkMessages } from './produce-chunks';
import { KAFKA } from './kafka.tokens';

/**
 * With Kafka configured, every stored slate is published to the impressions topic (keyed by user, so one user's
 * events stay in order on one partition); the learner consumes it from there like any other event.
 */
@Injectable()
export class ImpressionPublisher implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(ImpressionPublisher.name);
  private producer?: Producer;
  private connected?: Promise<void>;
  private readonly unpublished: Counter;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(KAFKA) private readonly kafka: Kafka | null,
    private readonly delivery: ImpressionDeliveryService,
    metrics: MetricsService,
  ) {
    this.unpublished = new Counter({
      name: 'reco_impressions_unpublished_total',
      help: 'Stored slates whose publication to the impressions topic failed (the learner does not see them; they stay in the slates table).',
      registers: [metrics.registry],
    });
  }

  onModuleInit(): void {
    const k = this.config.kafka;
    if (k.mode !== 'kafka' || !this.kafka) return;
    this.producer = this.kafka.producer({
      allowAutoTopicCreation: true,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.delivery.addSink(async (batch) => {
      // A failed connect is tried again by the next batch (kept, its rejection would fail every later one).
      this.connected ??= this.producer!.connect().catch((e: unknown) => {
        this.connected = undefined;
        throw e;
      });
      const messages = batch.map((imp) => ({ key: imp.userId, value: JSON.stringify(impressionEvent(imp)) }));
      let sent = 0;
      try {
        await this.connected;
        // In requests the broker takes: one send of over 1 MB of impressions (1,000 in a full batch) was refused whole.
        for (const chunk of chunkMessages(messages, k.produceMaxBytes)) {
          await this.producer!.send({ topic: k.topics.impressions, acks: -1, messages: chunk });
          sent += chunk.length;
        }
      } catch (e) {
        this.unpublished.inc(batch.length - sent);
        throw e; // the impression log logs it
      }
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.connected)
      await this.producer
        ?.disconnect()
        .catch((e: unknown) => this.logger.warn({ err: e }, 'producer disconnect'));
  }
}
