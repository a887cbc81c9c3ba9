import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestApp, type TestApp } from '../setup/app';
import { ensureBuilt, runCli } from '../setup/cli';
import { createTestDatabase, type TestDatabase } from '../setup/db';
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

  it('names a missing input file', () => {
    const r = runCli(['train', '--from', join(dir, 'nope.jsonl')], {
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--from: cannot read .*nope\.jsonl/);
  });
});
