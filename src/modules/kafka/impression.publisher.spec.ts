import type { Kafka, Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import type { AppConfig } from '../../config/config';
import type { MetricsService } from '../metrics/metrics.service';
import { testImpression } from '../slates/impression.fixture';
import type { ImpressionDeliveryService, ImpressionSink } from '../slates/impression-delivery.service';
import { impressionEvent } from '../../messaging/impression-event';
import { ImpressionPublisher } from './impression.publisher';
import { messageBytes } from './produce-chunks';

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
    const log = { addSink: (s: ImpressionSink) => (sink = s) } as unknown as ImpressionDeliveryService;
    const config = {
      kafka: { mode: 'kafka', produceMaxBytes: 900_000, topics: { impressions: 'imps' } },
    } as unknown as AppConfig;
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

  it('sends a batch in requests of at most KAFKA_PRODUCE_MAX_BYTES, and counts only what was not sent', async () => {
    const requests: number[] = [];
    let refuseFrom = Infinity;
    const producer = {
      connect: () => Promise.resolve(),
      send: (r: { messages: { key: string; value: string }[] }) => {
        if (requests.length >= refuseFrom) return Promise.reject(new Error('broker gone'));
        requests.push(r.messages.reduce((s, m) => s + messageBytes(m), 0));
        return Promise.resolve([]);
      },
      disconnect: () => Promise.resolve(),
    } as unknown as Producer;
    let sink: ImpressionSink | undefined;
    const log = { addSink: (s: ImpressionSink) => (sink = s) } as unknown as ImpressionDeliveryService;
    const limit = 4000;
    const config = {
      kafka: { mode: 'kafka', produceMaxBytes: limit, topics: { impressions: 'imps' } },
    } as unknown as AppConfig;
    const registry = new Registry();
    const kafka = { producer: () => producer } as unknown as Kafka;
    new ImpressionPublisher(config, kafka, log, { registry } as MetricsService).onModuleInit();
    const batch = Array.from({ length: 40 }, () => impression);
    await sink!(batch);
    expect(requests.length).toBeGreaterThan(1);
    for (const bytes of requests) expect(bytes).toBeLessThanOrEqual(limit);
    const perRequest = Math.floor(
      limit / messageBytes({ key: 'u1', value: JSON.stringify(impressionEvent(impression)) }),
    );
    expect(requests).toHaveLength(Math.ceil(40 / perRequest));

    // The broker goes away after two requests of the next batch: the rest of it is counted as unpublished.
    requests.length = 0;
    refuseFrom = 2;
    await expect(sink!(batch)).rejects.toThrow(/broker gone/);
    const unpublished = await registry.getSingleMetric('reco_impressions_unpublished_total')!.get();
    expect(unpublished.values[0].value).toBe(40 - 2 * perRequest);
  });
});
