import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { APP_CONFIG, type AppConfig } from '../../config/config';

/** Readiness of the Kafka cluster: a metadata round trip through a long-lived admin client. */
@Injectable()
export class KafkaHealthIndicator implements OnModuleDestroy {
  private admin?: Admin;
  private connected?: Promise<void>;

  constructor(
    private readonly health: HealthIndicatorService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async check(key: string, timeoutMs = 3000) {
    const session = this.health.check(key);
    const kafka = this.config.kafka;
    if (kafka.mode !== 'kafka') return session.up({ mode: 'http' });
    try {
      if (!this.admin) {
        this.admin = new Kafka({
          clientId: `${kafka.clientId}-health`,
          brokers: kafka.brokers,
          connectionTimeout: timeoutMs,
          logLevel: logLevel.NOTHING,
          retry: { retries: 0 },
        }).admin();
      }
      this.connected ??= this.admin.connect();
      const cluster = await withTimeout(
        this.connected.then(() => this.admin!.describeCluster()),
        timeoutMs,
      );
      return session.up({ brokers: cluster.brokers.length, controller: cluster.controller });
    } catch (e) {
      // Reconnect from scratch on the next probe.
      this.connected = undefined;
      await this.admin?.disconnect().catch(() => undefined);
      this.admin = undefined;
      return session.down({ message: (e as Error).message });
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.admin?.disconnect().catch(() => undefined);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
