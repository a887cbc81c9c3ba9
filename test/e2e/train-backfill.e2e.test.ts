import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestApp, type TestApp } from '../setup/app';
import { ensureBuilt, runCli } from '../setup/cli';
import { createTestDatabase, type TestDatabase } from '../setup/db';
import { ImpressionLogService } from '../../src/modules/slates/impression-log.service';
import { ModelService } from '../../src/modules/model/model.service';
import {
  expectSameStats,
  importTestItems,
  LEARNING_ENV,
  makeEvents,
  statsById,
  waitForJoinsClosed,
} from '../setup/learning';

describe('reco train --from: backfill through the exactly-once learning path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reco-train-'));
  let live: TestApp | undefined;
  let target: TestDatabase | undefined;
  let rebuilt: TestApp | undefined;
  beforeAll(() => ensureBuilt());
  afterAll(async () => {
    await live?.close();
    await rebuilt?.close();
    if (!rebuilt) await target?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rebuilds the model live learning built, learns nothing twice, and reports bad lines', async () => {
    const events = makeEvents(Date.now(), 40, 'bf-');
    live = await startTestApp(LEARNING_ENV);
    await importTestItems(live);
    expect((await live.http.post('/v1/events').send({ events })).body.accepted).toBe(events.length);
    await waitForJoinsClosed(live);

    const file = join(dir, 'events.jsonl');
    const lines = events.map((e) => JSON.stringify(e));
    lines.splice(3, 0, '{"broken json', JSON.stringify({ eventId: 'x', type: 'click', userId: 'u' }));
    writeFileSync(file, `${lines.join('\n')}\n`);

    // The target database holds the catalogue only.
    target = await createTestDatabase();
    const setup = await startTestApp(LEARNING_ENV, target);
    await importTestItems(setup);
    await setup.stop();

    const env = { DATABASE_URL: target.url, MODEL_DIM: LEARNING_ENV.MODEL_DIM, JOIN_WINDOW_MS: '60000' };
    const first = runCli(['train', '--from', file, '--json'], env);
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    const summary = JSON.parse(first.stdout) as Record<string, unknown> & {
      firstBadLines: { line: number; problem: string }[];
    };
    expect(summary).toMatchObject({
      lines: events.length + 2,
      events: events.length,
      accepted: events.length,
      duplicates: 0,
      badLines: 2,
    });
    expect(summary.firstBadLines.map((b) => b.line)).toEqual([4, 5]);
    expect(summary.firstBadLines[0].problem).toMatch(/not valid JSON/);
    expect(summary.firstBadLines[1].problem).toMatch(/itemId|ts/);

    const again = runCli(['train', '--from', file, '--json'], env);
    expect(JSON.parse(again.stdout)).toMatchObject({ accepted: 0, duplicates: events.length });

    rebuilt = await startTestApp(LEARNING_ENV, target);
    expectSameStats(statsById(rebuilt), statsById(live));
  });

  it("--from-db rebuilds the learned state from the service's own log, and equals what live learning built", async () => {
    const db = await createTestDatabase();
    let app: TestApp | undefined = await startTestApp(LEARNING_ENV, db);
    try {
      await importTestItems(app);
      app.reco.app.get(ModelService).rebuild();
      // Served slates (logged and learned in process), clicks on some of them, and organic clicks.
      for (let k = 0; k < 30; k++) {
        const served = await app.http.post('/v1/slates').send({ userId: `u${k % 4}`, size: 3 });
        expect(served.status).toBe(200);
        await app.reco.app.get(ImpressionLogService).flush();
        const events: Record<string, unknown>[] = [];
        if (k % 2 === 0) {
          const it = served.body.items[k % 3];
          events.push({
            eventId: `db-c${k}`,
            type: 'click',
            slateId: served.body.slateId,
            userId: `u${k % 4}`,
            itemId: it.itemId,
            ts: Date.now(),
          });
        }
        if (k % 5 === 0)
          events.push({
            eventId: `db-o${k}`,
            type: 'click',
            userId: `u${k % 4}`,
            itemId: `it-${k % 12}`,
            ts: Date.now(),
          });
        if (events.length)
          expect((await app.http.post('/v1/events').send({ events })).body.accepted).toBe(events.length);
      }
      await waitForJoinsClosed(app);
      const learned = statsById(app);
      await app.stop();
      app = undefined;

      const r = runCli(['train', '--from-db', '--json'], {
        DATABASE_URL: db.url,
        MODEL_DIM: LEARNING_ENV.MODEL_DIM,
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        badLines: 0,
        duplicates: 0,
        rejected: 0,
        accepted: 30 + 15 + 6,
      });

      app = await startTestApp(LEARNING_ENV, db);
      expectSameStats(statsById(app), learned);
      const staging: { t: string | null }[] = await app.reco.db.dataSource.query(
        `SELECT to_regclass('clicks_rebuild_source') AS t`,
      );
      expect(staging[0].t).toBeNull();
    } finally {
      await app?.stop();
      await db.drop();
    }
  });

  it('names a missing input file', () => {
    const r = runCli(['train', '--from', join(dir, 'nope.jsonl')], {
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--from: cannot read .*nope\.jsonl/);
  });
});
