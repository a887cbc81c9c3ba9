import { joinHeapBytes } from '../../src/core/ingest/join-book';
import { ModelService } from '../../src/modules/model/model.service';
import {
  expectSameStats,
  importTestItems as importItems,
  LEARNING_ENV,
  makeEvents,
  orderedImpressions,
  statsById,
  waitFor,
  waitForJoinsClosed,
} from '../setup/learning';
import { LearningService } from '../../src/modules/learning/learning.service';
import { ImpressionLogService } from '../../src/modules/slates/impression-log.service';
import { startTestApp, type TestApp } from '../setup/app';

const ENV = LEARNING_ENV;

describe('events over HTTP: exactly-once learning (real PostgreSQL)', () => {
  let a: TestApp;
  let b: TestApp | undefined;
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('answers per event: accepted, duplicate, rejected with the field and rule', async () => {
    a = await startTestApp(ENV);
    await importItems(a);
    const r = await a.http.post('/v1/events').send({
      events: [
        { eventId: 'x1', type: 'click', userId: 'u', itemId: 'it-1', ts: Date.now() },
        { eventId: 'x1', type: 'click', userId: 'u', itemId: 'it-1', ts: Date.now() },
        { eventId: 'x2', type: 'purchase', userId: 'u', ts: Date.now() },
        { eventId: 'x3', type: 'click', userId: 'u', itemId: 'nope', ts: Date.now() },
        { eventId: 'x4', type: 'click', userId: 'u', ts: 'soon' },
        'not an object',
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ accepted: 1, duplicates: 1, rejected: 4 });
    const st = r.body.results.map((x: { status: string }) => x.status);
    expect(st).toEqual(['accepted', 'duplicate', 'rejected', 'rejected', 'rejected', 'rejected']);
    expect(r.body.results[2].issues[0].message).toBe('type must be one of click, impression');
    expect(r.body.results[3].issues[0]).toEqual({
      path: 'events[3].itemId',
      message: 'item "nope" is not in the catalogue',
    });
    const paths = r.body.results[4].issues.map((i: { path: string }) => i.path).sort();
    expect(paths).toEqual(['events[4].itemId', 'events[4].ts']);

    const again = await a.http
      .post('/v1/events')
      .send({ events: [{ eventId: 'x1', type: 'click', userId: 'u', itemId: 'it-1', ts: 1 }] });
    expect(again.body.results[0].status).toBe('duplicate');

    const tooMany = await a.http
      .post('/v1/events')
      .send({ events: Array.from({ length: 1001 }, () => ({})) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.issues[0]).toEqual({
      path: 'body.events',
      message: 'must hold at most 1000 events',
    });
  });

  it('learns each distinct event once, whatever the redeliveries, and recovers the same state after a restart', async () => {
    const ts = Date.now();
    const events = makeEvents(ts);
    // A: in three batches, with a whole batch redelivered and duplicates inside a batch.
    const third = Math.ceil(events.length / 3);
    const chunks = [events.slice(0, third), events.slice(third, 2 * third), events.slice(2 * third)];
    for (const c of chunks) expect((await a.http.post('/v1/events').send({ events: c })).status).toBe(200);
    const redelivered = await a.http.post('/v1/events').send({ events: [...chunks[1], chunks[1][0]] });
    expect(redelivered.body.accepted).toBe(0);
    expect(redelivered.body.duplicates).toBe(chunks[1].length + 1);
    await waitForJoinsClosed(a);

    // B: a clean single pass over the same distinct events (plus the first test's one accepted click).
    b = await startTestApp(ENV);
    await importItems(b);
    await b.http
      .post('/v1/events')
      .send({ events: [{ eventId: 'x1', type: 'click', userId: 'u', itemId: 'it-1', ts: Date.now() }] });
    expect((await b.http.post('/v1/events').send({ events })).body.accepted).toBe(events.length);
    await waitForJoinsClosed(b);

    const learnedA = statsById(a);
    expectSameStats(learnedA, statsById(b));

    // Restart A on its database: the model comes back from the learning log alone...
    await a.stop();
    a = await startTestApp(ENV, a.db);
    expectSameStats(statsById(a), learnedA);

    // ...and from a checkpoint plus the log written after it.
    await a.reco.app.get(LearningService).checkpoint();
    const more = [{ eventId: 'late-1', type: 'click', userId: 'u9', itemId: 'it-7', ts: Date.now() }];
    expect((await a.http.post('/v1/events').send({ events: more })).body.accepted).toBe(1);
    const afterMore = statsById(a);
    await a.stop();
    a = await startTestApp(ENV, a.db);
    expectSameStats(statsById(a), afterMore);
    const snaps: { n: string }[] = await a.reco.db.dataSource.query(
      'SELECT count(*) AS n FROM model_snapshots',
    );
    expect(Number(snaps[0].n)).toBe(1);
  });

  it('writes again, at recovery, tombstones that were still queued when the process stopped', async () => {
    // The tombstones of closed slates are written behind the learning path; a crash loses the queue. Deleting the
    // rows after they were written leaves the database exactly as such a crash would: the journals hold the closes.
    const events = makeEvents(Date.now(), 6, 'tomb-');
    expect((await a.http.post('/v1/events').send({ events })).body.accepted).toBe(events.length);
    await waitForJoinsClosed(a);
    const slateIds = events.filter((e) => e.type === 'impression').map((e) => e.slateId as string);
    const read = async (): Promise<unknown[]> =>
      a.reco.db.dataSource.query(
        'SELECT slate_id, user_id, items, clicked FROM slate_tombstones WHERE slate_id = ANY($1) ORDER BY slate_id',
        [slateIds],
      );
    const written = await read();
    expect(written).toHaveLength(slateIds.length);
    await a.reco.db.dataSource.query('DELETE FROM slate_tombstones WHERE slate_id = ANY($1)', [slateIds]);
    expect(await read()).toHaveLength(0);
    await a.stop();
    a = await startTestApp(ENV, a.db);
    expect(await read()).toEqual(written);
  });

  it('keeps at most RECENT_TOMBSTONES_MAX closed slates in memory and still deduplicates an older impression', async () => {
    const c = await startTestApp({ ...ENV, RECENT_TOMBSTONES_MAX: '1000' });
    try {
      await importItems(c);
      const ts = Date.now();
      const impressions = orderedImpressions(1200, 'cap', '8000', ts);
      for (const part of [impressions.slice(0, 600), impressions.slice(600)])
        expect((await c.http.post('/v1/events').send({ events: part })).body.accepted).toBe(part.length);
      await waitForJoinsClosed(c);
      const models = c.reco.app.get(ModelService);
      expect(models.joins.closedCount).toBe(1000);
      expect(models.joins.state(impressions[0].slateId)).toBeUndefined(); // only in slate_tombstones now
      const before = statsById(c);
      // The first slate's impression again, under another event id: a duplicate, found in PostgreSQL.
      const again = await c.http
        .post('/v1/events')
        .send({ events: [{ ...impressions[0], eventId: 'cap-again' }] });
      expect(again.body.results[0].status).toBe('duplicate');
      await new Promise((r) => setTimeout(r, 1500)); // a join wrongly opened would close and learn by now
      expectSameStats(statsById(c), before);
    } finally {
      await c.close();
    }
  });

  it('keeps the open joins within JOIN_MEMORY_MB: the oldest windows close early, and a click after that is learned late', async () => {
    // 1 MB holds ≈ 3,000 open slates of 3 items (joinHeapBytes); the window (10 min) closes none by itself.
    const c = await startTestApp({ ...ENV, JOIN_WINDOW_MS: '600000', JOIN_MEMORY_MB: '1' });
    try {
      await importItems(c);
      const ts = Date.now();
      const impressions = orderedImpressions(4000, 'mem', '9000', ts);
      for (let from = 0; from < impressions.length; from += 1000) {
        const part = impressions.slice(from, from + 1000);
        expect((await c.http.post('/v1/events').send({ events: part })).body.accepted).toBe(part.length);
      }
      const models = c.reco.app.get(ModelService);
      const limit = 1024 * 1024;
      const per = joinHeapBytes(3, 0, 0);
      // Within the limit after every batch (each batch closes what its own new joins would add past it).
      expect(models.joins.openBytes).toBeLessThanOrEqual(limit);
      expect(models.joins.openBytes).toBeGreaterThan(limit - per);
      const open = models.joins.openCount;
      expect(open).toBe(Math.floor(limit / per));
      // The oldest closed (their negatives learned), the newest open.
      expect(models.joins.state(impressions[0].slateId)?.kind).toBe('closed');
      expect(models.joins.state(impressions[4000 - open - 1].slateId)?.kind).toBe('closed');
      expect(models.joins.state(impressions[4000 - open].slateId)?.kind).toBe('open');
      const metrics = await c.http.get('/metrics');
      expect(metrics.text).toMatch(new RegExp(`^reco_joins_closed_early_total ${4000 - open}$`, 'm'));
      expect(metrics.text).toMatch(new RegExp(`^reco_learning_joins_bytes\\{of="limit"\\} ${limit}$`, 'm'));
      expect(metrics.text).toMatch(
        new RegExp(`^reco_learning_joins_bytes\\{of="used"\\} ${models.joins.openBytes}$`, 'm'),
      );
      // The window the learner really has: the oldest open slate came a moment ago, not 10 minutes.
      const waited = Number(/^reco_learning_join_window_seconds (\S+)$/m.exec(metrics.text)![1]);
      expect(waited).toBeGreaterThanOrEqual(0);
      expect(waited).toBeLessThan(60);
      // A click on an early-closed slate: accepted and learned as a late click (at its logged position).
      const first = impressions[0];
      const before = statsById(c).get('it-1')!;
      const click = await c.http.post('/v1/events').send({
        events: [
          {
            eventId: 'mem-c0',
            type: 'click',
            slateId: first.slateId,
            userId: first.userId,
            itemId: 'it-1',
            ts: Date.now(),
          },
        ],
      });
      expect(click.body.results[0].status).toBe('accepted');
      expect(statsById(c).get('it-1')).not.toEqual(before);
      expect(models.joins.state(first.slateId)?.kind).toBe('closed'); // not reopened
    } finally {
      await c.close();
    }
  });

  it('rebuilds the same open joins at a restart, and closes the oldest early when JOIN_MEMORY_MB was lowered', async () => {
    const env = { ...ENV, JOIN_WINDOW_MS: '600000' };
    let c = await startTestApp({ ...env, JOIN_MEMORY_MB: '2' }); // 2 MB: 6,000 slates of 3 items fit
    try {
      await importItems(c);
      const ts = Date.now();
      const impressions = orderedImpressions(4000, 'low', 'a000', ts);
      for (let from = 0; from < impressions.length; from += 1000)
        await c.http.post('/v1/events').send({ events: impressions.slice(from, from + 1000) });
      let models = c.reco.app.get(ModelService);
      expect(models.joins.openCount).toBe(4000);
      const bytes = models.joins.openBytes;
      await c.stop();
      // The same limit: the journals rebuild the same book.
      c = await startTestApp({ ...env, JOIN_MEMORY_MB: '2' }, c.db);
      models = c.reco.app.get(ModelService);
      expect(models.joins.openCount).toBe(4000);
      expect(models.joins.openBytes).toBe(bytes);
      await c.stop();
      // Half the limit: the learner's timer closes the oldest until the book fits.
      c = await startTestApp({ ...env, JOIN_MEMORY_MB: '1' }, c.db);
      models = c.reco.app.get(ModelService);
      const limit = 1024 * 1024;
      await waitFor('the book to fit the lower limit', () =>
        Promise.resolve(models.joins.openBytes <= limit),
      );
      const open = models.joins.openCount;
      expect(open).toBe(Math.floor(limit / joinHeapBytes(3, 0, 0)));
      expect(models.joins.state(impressions[4000 - open - 1].slateId)?.kind).toBe('closed');
      expect(models.joins.state(impressions[4000 - open].slateId)?.kind).toBe('open');
    } finally {
      await c.close();
    }
  });

  it('learns an impression that comes after its clicks waited a whole window (not a duplicate)', async () => {
    const slateId = '6f1d2c3b-4a59-4e7f-8a9b-0c1d2e3f4a5b';
    const click = await a.http.post('/v1/events').send({
      events: [
        { eventId: 'late-imp-c', type: 'click', slateId, userId: 'lu', itemId: 'it-2', ts: Date.now() },
      ],
    });
    expect(click.body.accepted).toBe(1);
    await waitForJoinsClosed(a); // the click waited JOIN_WINDOW_MS, then was learned as organic
    const impression = {
      eventId: 'late-imp-i',
      type: 'impression',
      slateId,
      userId: 'lu',
      ts: Date.now(),
      items: ['it-2', 'it-3', 'it-4'].map((itemId, k) => ({ itemId, position: k + 1, propensity: 0.5 })),
    };
    const first = await a.http.post('/v1/events').send({ events: [impression] });
    expect(first.body.results[0].status).toBe('accepted');
    const again = await a.http
      .post('/v1/events')
      .send({ events: [{ ...impression, eventId: 'late-imp-i2' }] });
    expect(again.body.results[0].status).toBe('duplicate'); // the same slate: learned once
    await waitForJoinsClosed(a);
    const rows: { items: unknown; clicked: string[] }[] = await a.reco.db.dataSource.query(
      'SELECT items, clicked FROM slate_tombstones WHERE slate_id = $1',
      [slateId],
    );
    // closed with its items; the item of the early click is not among its negatives
    expect(rows).toHaveLength(1);
    expect(rows[0].items).toHaveLength(3);
    expect(rows[0].clicked).toEqual(['it-2']);
  });

  it('learns from served slates in-process and lets a click personalise the next slate', async () => {
    const served = await a.http.post('/v1/slates').send({ userId: 'fresh-user', size: 3 });
    expect(served.status).toBe(200);
    const clicked = served.body.items[1].itemId;
    await a.reco.app.get(ImpressionLogService).flush();
    const r = await a.http.post('/v1/events').send({
      events: [
        {
          eventId: 'fu-1',
          type: 'click',
          slateId: served.body.slateId,
          userId: 'fresh-user',
          itemId: clicked,
          position: 2,
          ts: Date.now(),
        },
      ],
    });
    expect(r.body.accepted).toBe(1);
    const models = a.reco.app.get(ModelService);
    models.rebuild();
    // Not a trained user: served from a vector folded in from that click (computed when it is served).
    const snap = models.current();
    expect(snap.users.has('fresh-user')).toBe(false);
    const x = models.servingUser(snap, 'fresh-user');
    expect(x).toBeInstanceOf(Float32Array);
    expect(x).toHaveLength(snap.dim);
    expect(models.servingUser(snap, 'fresh-user')).toBe(x); // cached until the history or the snapshot changes
    expect(models.servingUser(snap, 'never-seen')).toBeUndefined();
    const metrics = await a.http.get('/metrics');
    expect(metrics.text).toMatch(/reco_events_total\{source="http",outcome="learned"\} \d+/);
    expect(metrics.text).toMatch(/reco_events_total\{source="serving",outcome="learned"\} \d+/);
  });
});
