import { randomUUID } from 'node:crypto';
import { ModelService } from '../../src/modules/model/model.service';
import type { TestApp } from './app';

export const LEARNING_ENV = { MODEL_DIM: '4', JOIN_WINDOW_MS: '1000', LOG_LEVEL: 'error' };
export const testItems = Array.from({ length: 12 }, (_, i) => `it-${i}`);

/** Per item id: the additive sufficient statistics the model learned (copied out). */
export function statsById(t: TestApp): Map<string, number[]> {
  const model = t.reco.app.get(ModelService).learningModel();
  const s = model.stats;
  const out = new Map<string, number[]>();
  model.itemIds.forEach((id, i) => {
    out.set(id, [
      ...s.xx.subarray(i * s.psize, (i + 1) * s.psize),
      ...s.xy.subarray(i * s.n, (i + 1) * s.n),
      s.count[i],
      s.weightSum[i],
    ]);
  });
  return out;
}

/** Same statistics within float-summation tolerance (batches may add the same terms in another order). */
export function expectSameStats(a: Map<string, number[]>, b: Map<string, number[]>): void {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  let nonzero = 0;
  for (const [id, va] of a) {
    const vb = b.get(id)!;
    expect(vb).toHaveLength(va.length);
    for (let k = 0; k < va.length; k++) {
      const diff = Math.abs(va[k] - vb[k]);
      if (diff > 1e-9 * (1 + Math.abs(va[k]))) {
        throw new Error(`item ${id}, statistic ${k}: ${va[k]} vs ${vb[k]}`);
      }
      if (va[k] !== 0) nonzero++;
    }
  }
  expect(nonzero).toBeGreaterThan(0);
}

export async function importTestItems(t: TestApp): Promise<void> {
  const body = testItems.map((id, i) => JSON.stringify({ id, group: `g${i % 3}` })).join('\n');
  const r = await t.http.post('/v1/items:import').set('content-type', 'application/x-ndjson').send(body);
  expect(r.status).toBe(200);
}

export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A sample's value in Prometheus text, by name and labels as written (`{source="kafka"}`); 0 when absent. */
export function metricValue(text: string, name: string, labels = ''): number {
  const escaped = labels.replace(/[{}"]/g, (c) => `\\${c}`);
  return Number(new RegExp(`^${name}${escaped} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

/** Open joins of a running service, read from its metrics (`reco_learning_joins{state="open"}`). */
export async function openJoinsOf(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const m = /^reco_learning_joins\{state="open"\} (\d+)/m.exec(text);
  if (!m) throw new Error('reco_learning_joins{state="open"} is not in /metrics');
  return Number(m[1]);
}

export async function waitForJoinsClosed(t: TestApp): Promise<void> {
  const models = t.reco.app.get(ModelService);
  await waitFor('join windows to close', () => Promise.resolve(models.joins.openCount === 0));
  await models.tombstoneArchive.drain(); // their tombstones are written behind the learning path
}

/**
 * A deterministic stream of `slates` impressions (3 items each), clicks on half of them, and organic clicks;
 * ids carry `tag` so that streams of different tests never collide.
 */
export function makeEvents(ts: number, slates = 8, tag = ''): Record<string, unknown>[] {
  const events: Record<string, unknown>[] = [];
  for (let s = 0; s < slates; s++) {
    const slateId = randomUUID();
    const user = `u${s % 5}`;
    const slateItems = [0, 1, 2].map((p) => ({
      itemId: testItems[(s * 3 + p) % testItems.length],
      position: p + 1,
      propensity: 0.2 + 0.1 * p,
    }));
    events.push({
      eventId: `${tag}imp-${s}`,
      type: 'impression',
      slateId,
      userId: user,
      ts,
      items: slateItems,
    });
    if (s % 2 === 0) {
      events.push({
        eventId: `${tag}clk-${s}`,
        type: 'click',
        slateId,
        userId: user,
        itemId: slateItems[s % 3].itemId,
        ts: ts + 10,
      });
    }
    if (s % 3 === 0) {
      events.push({
        eventId: `${tag}org-${s}`,
        type: 'click',
        userId: `u${s % 4}`,
        itemId: testItems[(s * 5) % testItems.length],
        ts: new Date(ts + 20).toISOString(),
      });
    }
  }
  return events;
}

/**
 * `count` impressions of 3 items, one a millisecond from `ts` (in order: the first ones close first), their ids
 * tagged with `tag` (a letter or two) so that streams of different tests never collide. Slate ids are UUIDs whose
 * fourth group is `variant` (hex, 8–b first).
 */
export function orderedImpressions(count: number, tag: string, variant: string, ts: number) {
  return Array.from({ length: count }, (_, s) => ({
    eventId: `${tag}-i${s}`,
    type: 'impression',
    slateId: `00000000-0000-4000-${variant}-${String(s).padStart(12, '0')}`,
    userId: `${tag}u${s % 7}`,
    ts: ts + s,
    items: [0, 1, 2].map((p) => ({ itemId: `it-${(s + p) % 12}`, position: p + 1, propensity: 0.3 })),
  }));
}
