import { LearningService } from '../../src/modules/learning/learning.service';
import { ModelService } from '../../src/modules/model/model.service';
import { readNewestModel } from '../../src/replay/reco-db-log';
import { encodeModel, itemIdPageNumber, PAGE_ITEMS } from '../../src/core/model';
import { startTestApp, type TestApp } from '../setup/app';
import { expectSameStats, importTestItems, LEARNING_ENV, makeEvents, statsById } from '../setup/learning';

/** Windows that stay open across every restart below: the open joins must survive them. */
const ENV = { ...LEARNING_ENV, JOIN_WINDOW_MS: '600000', CHECKPOINT_INTERVAL_MS: '3600000' };

type Events = Record<string, unknown>[];

/**
 * Impressions and clicks in two halves, each click in the other half from its impression: half of the slates
 * get their clicks after the impression (across a restart), the other half before it (pending).
 */
function halves(tag: string): [Events, Events] {
  const events = makeEvents(Date.now(), 24, tag);
  const slateOf = (e: Record<string, unknown>) => e.slateId as string | undefined;
  const slates = [...new Set(events.filter((e) => e.type === 'impression').map((e) => slateOf(e)!))];
  const early = new Set(slates.slice(0, 12));
  const first: Events = [];
  const second: Events = [];
  for (const e of events) {
    const s = slateOf(e);
    const impression = e.type === 'impression';
    if (!s) (first.length < second.length ? first : second).push(e);
    else if (early.has(s) === impression) first.push(e);
    else second.push(e);
  }
  return [first, second];
}

interface LogRow {
  batch_id: string;
  covered: boolean;
}

async function logRows(t: TestApp): Promise<LogRow[]> {
  return t.reco.db.dataSource.query(
    'SELECT batch_id, payload IS NULL AS covered FROM learning_log ORDER BY batch_id',
  );
}

async function newestSnapshot(
  t: TestApp,
): Promise<{ last_batch_id: string; has_image: boolean; joins_from: string | null }> {
  const rows = await t.reco.db.dataSource.query(
    `SELECT last_batch_id, joins IS NOT NULL AS has_image, joins_from FROM model_snapshots ORDER BY id DESC LIMIT 1`,
  );
  return rows[0];
}

const openJoins = (t: TestApp) => JSON.stringify(t.reco.app.get(ModelService).joins.image().open);

/** 2,100 more items after the 12 test items: 2,112 items, in pages of `PAGE_ITEMS`. */
const allPages = Array.from({ length: Math.ceil(2112 / PAGE_ITEMS) }, (_, p) => p);

async function importMoreItems(t: TestApp): Promise<void> {
  const body = Array.from({ length: 2100 }, (_, i) => JSON.stringify({ id: `pg-${i}`, group: `g${i % 3}` }));
  const r = await t.http
    .post('/v1/items:import')
    .set('content-type', 'application/x-ndjson')
    .send(body.join('\n'));
  expect(r.status).toBe(200);
}

/** A service on 2,112 items that learned a stream of events (tagged `tag`) with every window closed. */
async function learnedOnPages(tag: string): Promise<TestApp> {
  const t = await startTestApp(ENV);
  await importTestItems(t);
  await importMoreItems(t);
  const [first, second] = halves(tag);
  await send(t, [...first, ...second]);
  await t.reco.app.get(LearningService).closeAllJoins('test');
  return t;
}

async function send(t: TestApp, events: Events): Promise<void> {
  const r = await t.http.post('/v1/events').send({ events });
  expect(r.status).toBe(200);
  expect(r.body.accepted).toBe(events.length);
}

/** What a single process learns from the events with every window closed: the reference. */
async function cleanRun(events: Events): Promise<Map<string, number[]>> {
  const clean = await startTestApp(ENV);
  try {
    await importTestItems(clean);
    await send(clean, events);
    await clean.reco.app.get(LearningService).closeAllJoins('test');
    return statsById(clean);
  } finally {
    await clean.close();
  }
}

describe('checkpoints and the open joins (real PostgreSQL)', () => {
  let a: TestApp | undefined;
  afterEach(async () => {
    await a?.close();
    a = undefined;
  });

  const restart = async (t: TestApp): Promise<TestApp> => {
    await t.stop();
    return startTestApp(ENV, t.db);
  };

  it('keeps the journals the open joins need instead of writing them, and rebuilds the joins from them', async () => {
    const [first, second] = halves('ckj-');
    a = await startTestApp(ENV);
    await importTestItems(a);
    await send(a, first.slice(0, 10));
    await send(a, first.slice(10));
    const joinsBefore = openJoins(a);
    expect(a.reco.app.get(ModelService).joins.openCount).toBeGreaterThan(10);

    await a.reco.app.get(LearningService).checkpoint();
    const snap = await newestSnapshot(a);
    expect(snap.has_image).toBe(false);
    const rows = await logRows(a);
    // The batches the open joins need are kept (the first one put the oldest open join), their updates dropped.
    expect(rows.map((r) => r.batch_id)).toEqual([snap.joins_from, snap.last_batch_id]);
    expect(rows.every((r) => r.covered)).toBe(true);

    a = await restart(a);
    expect(openJoins(a)).toBe(joinsBefore);

    // The second half clicks the first half's slates and brings the impressions of its early clicks.
    await send(a, second);
    await a.reco.app.get(LearningService).checkpoint();
    const snap2 = await newestSnapshot(a);
    expect(snap2.has_image).toBe(false);
    expect(Number(snap2.joins_from)).toBe(Number(snap.joins_from)); // the first slates are still open
    const joinsAfter = openJoins(a);
    const after = statsById(a);
    a = await restart(a);
    expect(openJoins(a)).toBe(joinsAfter);
    expectSameStats(statsById(a), after);

    // Every window closes: the model equals a single pass with no restart and no checkpoint.
    await a.reco.app.get(LearningService).closeAllJoins('test');
    const learned = statsById(a);
    await a.reco.app.get(LearningService).checkpoint();
    const snap3 = await newestSnapshot(a);
    expect(Number(snap3.joins_from)).toBe(Number(snap3.last_batch_id) + 1); // nothing open: no journal kept
    expect(await logRows(a)).toEqual([]);
    a = await restart(a);
    expectSameStats(statsById(a), learned);
    expectSameStats(learned, await cleanRun([...first, ...second]));
  });

  it('writes an image when the journals are gone (an upgrade), until the joins from it have closed', async () => {
    const [first, second] = halves('cki-');
    a = await startTestApp(ENV);
    await importTestItems(a);
    await send(a, first);
    const models = a.reco.app.get(ModelService);
    // As after an older version's checkpoint: its image held the book, and it deleted every journal it covered.
    models.journalsFrom = models.lastBatchId + 1;
    await a.reco.app.get(LearningService).checkpoint();
    const snap = await newestSnapshot(a);
    expect(snap).toMatchObject({ has_image: true, joins_from: null });
    expect(await logRows(a)).toEqual([]);
    const joinsBefore = openJoins(a);

    a = await restart(a);
    expect(openJoins(a)).toBe(joinsBefore);
    await send(a, second);
    await a.reco.app.get(LearningService).checkpoint();
    // The joins loaded from the image are still open and no journal rebuilds them: an image again.
    expect(await newestSnapshot(a)).toMatchObject({ has_image: true, joins_from: null });
    a = await restart(a);

    await a.reco.app.get(LearningService).closeAllJoins('test');
    await a.reco.app.get(LearningService).checkpoint();
    expect(await newestSnapshot(a)).toMatchObject({ has_image: false });
    const learned = statsById(a);
    a = await restart(a);
    expectSameStats(statsById(a), learned);
    expectSameStats(learned, await cleanRun([...first, ...second]));
  });

  it('writes only the pages of changed items, and recovers the model from its head and newest pages', async () => {
    a = await learnedOnPages('ckp-');
    const learning = a.reco.app.get(LearningService);
    const pagesOf = async (): Promise<{ page: number; snapshot_id: string }[]> =>
      a!.reco.db.dataSource.query(
        'SELECT page, snapshot_id::text FROM model_pages ORDER BY snapshot_id, page',
      );
    const newest = async (): Promise<number[]> => {
      const rows = await pagesOf();
      const last = rows.reduce((m, x) => (Number(x.snapshot_id) > m ? Number(x.snapshot_id) : m), 0);
      return rows.filter((x) => Number(x.snapshot_id) === last).map((x) => x.page);
    };
    await learning.checkpoint();
    // A new model: every item is new, and so are the ids (one id page: 2,112 of 65,536).
    expect(await newest()).toEqual([itemIdPageNumber(0), ...allPages]);
    // A click on one item of the last page (index 12 + 2,090 = 2,102): only that page is written again (no id).
    await send(a, [{ eventId: 'ckp-p2', type: 'click', userId: 'u1', itemId: 'pg-2090', ts: Date.now() }]);
    await learning.checkpoint();
    expect(await newest()).toEqual([Math.floor(2102 / PAGE_ITEMS)]);
    const learned = statsById(a);
    a = await restart(a);
    expectSameStats(statsById(a), learned);
    // `reco replay --model-from-db` reads the same model.
    const { snapshot } = await readNewestModel(a.reco.db.dataSource);
    expect(snapshot.itemIds).toEqual(a.reco.app.get(ModelService).learningModel().itemIds);
    // Rows that no kept snapshot needs go: two more checkpoints that change it-3's page only.
    for (const id of ['ckp-p0a', 'ckp-p0b']) {
      await send(a, [{ eventId: id, type: 'click', userId: 'u2', itemId: 'it-3', ts: Date.now() }]);
      await a.reco.app.get(LearningService).checkpoint();
    }
    const rows = await pagesOf();
    const perPage = allPages.map((p) => rows.filter((x) => x.page === p).length);
    // it-3's page: the two kept snapshots' own rows; the others: their newest row only
    const it3 = Math.floor(3 / PAGE_ITEMS); // it-3 is the catalogue's 4th item
    expect(perPage).toEqual(allPages.map((p) => (p === it3 ? 2 : 1)));
    expect(rows.filter((x) => x.page === itemIdPageNumber(0)).length).toBe(1); // the ids, written once
    const again = statsById(a);
    a = await restart(a);
    expectSameStats(statsById(a), again);
  });

  it('solves stale posteriors on the solver thread before it encodes, none on the serving thread', async () => {
    // The longest refresh interval (1 s): no rebuild solves them first, so the clicked items are stale at the checkpoint.
    a = await startTestApp({ ...ENV, MODEL_REFRESH_MS: '1000' });
    await importTestItems(a);
    const models = a.reco.app.get(ModelService);
    await a.reco.app.get(LearningService).checkpoint();
    await send(
      a,
      ['it-1', 'it-4', 'it-7'].map((itemId, k) => ({
        eventId: `stale-${k}`,
        type: 'click',
        userId: 'u1',
        itemId,
        ts: Date.now(),
      })),
    );
    const model = models.learningModel();
    expect(model.dirtyCount).toBeGreaterThan(0);
    // What the checkpoint's encoding solves in place (on this thread) and when.
    const inPlace: number[] = [];
    const refresh = model.refreshPosteriors.bind(model);
    model.refreshPosteriors = (limit?: number) => {
      const n = refresh(limit);
      inPlace.push(n);
      return n;
    };
    try {
      await a.reco.app.get(LearningService).checkpoint();
    } finally {
      model.refreshPosteriors = refresh;
    }
    expect(inPlace).toEqual([0]);
    expect(model.dirtyCount).toBe(0);
    // Solved by the job as the in-place solve would have: a restart from the checkpoint has the same model.
    const learned = statsById(a);
    const meansOf = (m: typeof model): number[] => Array.from(m.itemMean.subarray(0, m.numItems * m.n));
    const means = meansOf(model);
    a = await restart(a);
    expectSameStats(statsById(a), learned);
    expect(meansOf(a.reco.app.get(ModelService).learningModel())).toEqual(means);
  });

  it('reads a whole-model snapshot of an older version, and then writes every page and the ids', async () => {
    a = await learnedOnPages('ckv-');
    const models = a.reco.app.get(ModelService);
    // What an older version's checkpoint left: the whole model in format 1, no pages.
    await a.reco.db.dataSource.query(
      `INSERT INTO model_snapshots (last_batch_id, format_version, payload, joins_from) VALUES ($1, 1, $2, $3)`,
      [models.lastBatchId, Buffer.from(encodeModel(models.learningModel())), models.lastBatchId + 1],
    );
    const learned = statsById(a);
    a = await restart(a);
    expectSameStats(statsById(a), learned);
    await send(a, [{ eventId: 'ckv-more', type: 'click', userId: 'u1', itemId: 'it-3', ts: Date.now() }]);
    await a.reco.app.get(LearningService).checkpoint();
    const pages: { n: string }[] = await a.reco.db.dataSource.query(
      `SELECT count(*) AS n FROM model_pages WHERE snapshot_id = (SELECT max(id) FROM model_snapshots)`,
    );
    // Every page and the id page, although only it-3's changed since the load.
    expect(Number(pages[0].n)).toBe(allPages.length + 1);
    const after = statsById(a);
    a = await restart(a);
    expectSameStats(statsById(a), after);
  });
});
