import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '@nestjs/common';

/** One kafkajs client per process, logging through Nest's logger (kafkajs' own is noisy and unstructured). */
export function createKafka(opts: { brokers: string[]; clientId: string }, logger: Logger): Kafka {
  return new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    connectionTimeout: 5000,
    retry: { initialRetryTime: 200, retries: 10 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...rest } = log;
        if (level <= logLevel.ERROR) logger.error({ msg: `kafkajs: ${message}`, ...rest });
        else logger.warn({ msg: `kafkajs: ${message}`, ...rest });
      },
  });
}
