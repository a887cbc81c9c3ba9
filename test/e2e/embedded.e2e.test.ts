import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, serveCli } from '../setup/cli';

// Through the built CLI, as a newcomer runs it: PGlite loads its WASM with a dynamic import, which
// jest's module sandbox does not allow, and a child process is the real thing anyway.
describe('embedded default (PGlite through the pg driver)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reco-embedded-'));
  beforeAll(() => ensureBuilt());
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves with no DATABASE_URL, and keeps its data across a restart', async () => {
    const first = await serveCli(['--data-dir', dir]);
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
    } finally {
      expect(await first.stop()).toBe(0);
    }

    const second = await serveCli(['--data-dir', dir]);
    try {
      expect(second.startLine.migrationsApplied).toEqual([]);
      const r = await fetch(`${second.baseUrl}/v1/items/kept`);
      expect(r.status).toBe(200);
      expect(await r.json()).toMatchObject({ id: 'kept', group: 'g', attributes: { n: 1 }, active: true });
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });
});
