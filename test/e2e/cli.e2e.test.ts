import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, runCli as reco, serveCli } from '../setup/cli';
import { createTestDatabase } from '../setup/db';

describe('reco CLI (built)', () => {
  beforeAll(() => ensureBuilt());

  it('prints help for the program and every command', () => {
    const top = reco(['--help']);
    expect(top.status).toBe(0);
    for (const c of ['serve', 'migrate', 'config']) {
      expect(top.stdout).toContain(c);
      const sub = reco([c, '--help']);
      expect(sub.status).toBe(0);
      expect(sub.stdout).toContain(`Usage: reco ${c}`);
    }
  });

  it('stops on bad configuration with one line per bad key, naming the key, the problem and the form', () => {
    const r = reco(['serve'], { PORT: 'eighty', LOG_LEVEL: 'chatty', KAFKA_BROKERS: 'localhost' });
    expect(r.status).toBe(78);
    const lines = r.stderr.split('\n').filter((l) => l.trim().startsWith('- '));
    expect(lines).toHaveLength(3);
    expect(r.stderr).toMatch(/PORT="eighty": must be a whole number/);
    expect(r.stderr).toMatch(
      /LOG_LEVEL="chatty": must be one of fatal, error, warn, info, debug, trace, silent/,
    );
    expect(r.stderr).toMatch(/KAFKA_BROKERS="localhost": each broker must look like host:port/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
  });

  it('rejects unknown options with exit code 2', () => {
    const r = reco(['serve', '--bogus']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--bogus'/);
  });

  it('migrates an external database, then finds it up to date', async () => {
    const db = await createTestDatabase();
    try {
      const first = reco(['migrate'], { DATABASE_URL: db.url });
      expect(first.stderr).toBe('');
      expect(first.status).toBe(0);
      expect(first.stdout).toMatch(/applied \d+ migration\(s\)/);
      const second = reco(['migrate'], { DATABASE_URL: db.url });
      expect(second.stdout).toMatch(/is up to date/);
    } finally {
      await db.drop();
    }
  });

  it('serves on the embedded default, logs its mode as JSON, and stops cleanly on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reco-cli-'));
    try {
      const served = await serveCli(['--data-dir', dir]);
      try {
        expect(served.startLine).toMatchObject({
          level: 30,
          database: { mode: 'embedded' },
          events: { mode: 'http' },
        });
        expect((await fetch(`${served.baseUrl}/health/ready`)).status).toBe(200);
        // At info, every request but probes and scrapes is logged, with its request and its status.
        const ping = await fetch(`${served.baseUrl}/v1/ping`, {
          headers: { authorization: 'Bearer s3cret-token', cookie: 'session=s3cret-cookie' },
        });
        expect(ping.status).toBe(200);
        for (let i = 0; i < 50 && !served.output().includes('"url":"/v1/ping"'); i++)
          await new Promise((r) => setTimeout(r, 20));
        const line = served
          .output()
          .split('\n')
          .find((l) => l.includes('"url":"/v1/ping"'));
        expect(JSON.parse(line!)).toMatchObject({
          level: 30,
          req: {
            method: 'GET',
            url: '/v1/ping',
            headers: { authorization: '[redacted]', cookie: '[redacted]' },
          },
          res: { statusCode: 200 },
          msg: 'request completed',
        });
        // Credentials never reach the logs.
        expect(served.output()).not.toContain('s3cret');
      } finally {
        expect(await served.stop()).toBe(0);
      }
      expect(served.output()).toContain('shutting down');
      expect(served.output()).not.toContain('"url":"/health/ready"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
