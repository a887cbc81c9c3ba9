import { LearningService } from '../../src/modules/learning/learning.service';
import { ModelService } from '../../src/modules/model/model.service';
import { ModelStateRepository } from '../../src/modules/model/model-state.repository';
import { encodeModel, MODEL_FORMAT_VERSION } from '../../src/core/model';
import { readNewestModel } from '../../src/replay/reco-db-log';
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

  it('stores a model larger than a part in parts, and recovers it whole (replay reads it too)', async () => {
    const [first, second] = halves('ckp-');
    a = await startTestApp(ENV);
    await importTestItems(a);
    await send(a, [...first, ...second]);
    await a.reco.app.get(LearningService).closeAllJoins('test');
    const models = a.reco.app.get(ModelService);
    const payload = encodeModel(models.learningModel());
    const partBytes = Math.ceil(payload.byteLength / 5); // five parts (PostgreSQL's limit is 1 GB a value)
    await a.reco.app
      .get(ModelStateRepository)
      .writeCheckpoint(
        models.lastBatchId,
        MODEL_FORMAT_VERSION,
        payload,
        { from: models.lastBatchId + 1 },
        1,
        partBytes,
      );
    const parts: { part: number; n: number }[] = await a.reco.db.dataSource.query(
      'SELECT part, octet_length(bytes) AS n FROM model_snapshot_parts ORDER BY part',
    );
    expect(parts.map((p) => p.part)).toEqual([1, 2, 3, 4]);
    const learned = statsById(a);
    a = await restart(a);
    expectSameStats(statsById(a), learned);
    // The parts come back as the bytes that were written, for the service and for `reco replay --model-from-db`.
    const stored = await a.reco.app.get(ModelStateRepository).latestSnapshot();
    expect(Buffer.from(stored!.payload)).toEqual(Buffer.from(payload));
    const { snapshot } = await readNewestModel(a.reco.db.dataSource);
    expect(snapshot.itemIds).toEqual(models.learningModel().itemIds);
    // Older snapshots go with their parts.
    await send(a, [{ eventId: 'ckp-more', type: 'click', userId: 'u1', itemId: 'it-3', ts: Date.now() }]);
    await a.reco.app.get(LearningService).checkpoint();
    await send(a, [{ eventId: 'ckp-more2', type: 'click', userId: 'u1', itemId: 'it-4', ts: Date.now() }]);
    await a.reco.app.get(LearningService).checkpoint();
    const left: { n: string }[] = await a.reco.db.dataSource.query(
      'SELECT count(*) AS n FROM model_snapshot_parts',
    );
    expect(Number(left[0].n)).toBe(0);
  });
});
