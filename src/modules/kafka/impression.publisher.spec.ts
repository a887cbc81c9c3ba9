import type { Kafka, Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import type { AppConfig } from '../../config/config';
import type { MetricsService } from '../metrics/metrics.service';
import { testImpression } from '../slates/impression.fixture';
import type { ImpressionLogService, ImpressionSink } from '../slates/impression-log.service';
import { ImpressionPublisher } from './impression.publisher';

const impression = testImpression('0190c3a0-0000-7000-8000-000000000001', 'u1');

describe('ImpressionPublisher', () => {
  it('connects again after a failed connect: one broker outage does not stop publishing for good', async () => {
    let connects = 0;
    const sent: string[] = [];
    const producer = {
      connect: () => (++connects === 1 ? Promise.reject(new Error('broker unreachable')) : Promise.resolve()),
      send: (r: { topic: string; messages: { key: string }[] }) => {
        sent.push(...r.messages.map((m) => `${r.topic}:${m.key}`));
        return Promise.resolve([]);
      },
      disconnect: () => Promise.resolve(),
    } as unknown as Producer;
    const kafka = { producer: () => producer } as unknown as Kafka;
    let sink: ImpressionSink | undefined;
    const log = { addSink: (s: ImpressionSink) => (sink = s) } as unknown as ImpressionLogService;
    const config = { kafka: { mode: 'kafka', topics: { impressions: 'imps' } } } as unknown as AppConfig;
    const registry = new Registry();
    new ImpressionPublisher(config, kafka, log, { registry } as MetricsService).onModuleInit();
    await expect(sink!([impression, impression])).rejects.toThrow(/broker unreachable/);
    const unpublished = await registry.getSingleMetric('reco_impressions_unpublished_total')!.get();
    expect(unpublished.values[0].value).toBe(2);
    await sink!([impression]);
    await sink!([impression]);
    expect(connects).toBe(2); // once more after the failure, then kept
    expect(sent).toEqual(['imps:u1', 'imps:u1']);
  });
});
