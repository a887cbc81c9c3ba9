import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, serveCli } from '../setup/cli';
import { waitFor } from '../setup/learning';

// Through the built CLI, as a newcomer runs it: PGlite loads its WASM with a dynamic import, which
// jest's module sandbox does not allow, and a child process is the real thing anyway.
describe('embedded default (PGlite through the pg driver)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reco-embedded-'));
  beforeAll(() => ensureBuilt());
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves with no DATABASE_URL, and keeps its data (items, a checkpoint) across a restart', async () => {
    const env = { CHECKPOINT_INTERVAL_MS: '1000' };
    const first = await serveCli(['--data-dir', dir], env);
    try {
      expect(first.startLine.database.mode).toBe('embedded');
      expect(first.startLine.events.mode).toBe('http');
      expect((first.startLine.migrationsApplied as string[]).length).toBeGreaterThan(0);
      expect((await fetch(`${first.baseUrl}/health/ready`)).status).toBe(200);
      const put = await fetch(`${first.baseUrl}/v1/items/kept`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ group: 'g', attributes: { n: 1 } }),
      });
      expect(put.status).toBe(201);
      // Slates served together are logged in one batch (PGlite takes the INSERT: it has no COPY FROM STDIN).
      const slate = (k: number): Promise<Response> =>
        fetch(`${first.baseUrl}/v1/slates`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ userId: `u${k}`, size: 1, context: { k } }),
        });
      await waitFor('the item in the serving model', async () => (await slate(0)).status === 200);
      const served = await Promise.all(
        [1, 2, 3].map(async (k) => {
          const r = await slate(k);
          expect(r.status).toBe(200);
          return ((await r.json()) as { slateId: string }).slateId;
        }),
      );
      for (const id of served) {
        await waitFor(`slate ${id} in the log`, async () => {
          const r = await fetch(`${first.baseUrl}/v1/slates/${id}`);
          return r.status === 200;
        });
      }
      expect(first.output()).not.toContain('impression write failed');
      // Handed to the learner, each batch with its outbox entry (one statement on PGlite), and the outbox's
      // first pass (claims with FOR UPDATE SKIP LOCKED) ran at start without an error.
      await waitFor('the served slates learned', async () => {
        const metrics = await (await fetch(`${first.baseUrl}/metrics`)).text();
        return /^reco_events_total\{source="serving",outcome="learned"\} 4$/m.test(metrics);
      });
      expect(first.output()).not.toContain('impression sink failed');
      expect(first.output()).not.toContain('redelivering stored slates failed');
      // A click learned, then a checkpoint (the model's head and pages, on PGlite).
      const click = { eventId: 'e1', type: 'click', userId: 'u', itemId: 'kept', ts: Date.now() };
      const learned = await fetch(`${first.baseUrl}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ events: [click] }),
      });
      expect(((await learned.json()) as { accepted: number }).accepted).toBe(1);
      await waitFor('a checkpoint', () =>
        Promise.resolve(first.output().includes('model checkpoint written')),
      );
      expect(first.output()).not.toContain('checkpoint failed');
    } finally {
      expect(await first.stop()).toBe(0);
    }

    const second = await serveCli(['--data-dir', dir], env);
    try {
      expect(second.startLine.migrationsApplied).toEqual([]);
      expect(second.output()).toMatch(/"msg":"model recovered","fromCheckpoint":true/);
      const r = await fetch(`${second.baseUrl}/v1/items/kept`);
      expect(r.status).toBe(200);
      expect(await r.json()).toMatchObject({ id: 'kept', group: 'g', attributes: { n: 1 }, active: true });
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });
});
