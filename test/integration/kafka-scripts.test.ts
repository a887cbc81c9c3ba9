// docker/kafka/start.sh and stop.sh, on brokers of their own (own home, own ports) beside the run's
// shared one. They use the jars the run's broker was started from, so they run when that broker came
// from the script (always under CI here); with KAFKA_BROKERS or testcontainers they are skipped.
//
// A slow machine is made deterministic by a `setsid` on PATH that waits before it execs the real one:
// start.sh's child is then not java for that long, which is the window a loaded CI machine hit.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, KAFKA_TEST_ENV } from '../setup/kafka';

const kafkaDir = join(__dirname, '..', '..', 'docker', 'kafka');
const realSetsid = spawnSync('sh', ['-c', 'command -v setsid'], { encoding: 'utf8' }).stdout.trim();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function script(name: string, env: NodeJS.ProcessEnv, args: string[] = []): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(kafkaDir, name), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Pids of processes whose arguments hold this home's marker (what stop.sh looks for). */
function processesOf(home: string): string[] {
  const out = spawnSync('pgrep', ['-f', '--', `-Dreco.kafka.home=${home}`], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter((line) => line.trim().length > 0);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const viaScript = process.env[KAFKA_TEST_ENV.source] === 'script';
const describeScripts = viaScript && realSetsid ? describe : describe.skip;
if (!viaScript) {
  process.stderr.write("[kafka] skipping the start.sh tests: the run's broker did not come from start.sh\n");
}

describeScripts('docker/kafka start.sh and stop.sh (real broker)', () => {
  const homes: string[] = [];

  /** A fresh home, free ports, and a PATH whose setsid runs `body` before the real one. */
  async function setup(setsidBody: string): Promise<{ home: string; env: NodeJS.ProcessEnv }> {
    const home = mkdtempSync(join(tmpdir(), 'reco-kafka-home-'));
    homes.push(home);
    const bin = join(home, 'bin');
    spawnSync('mkdir', ['-p', bin]);
    writeFileSync(join(bin, 'setsid'), `#!/bin/sh\n${setsidBody}\nexec ${realSetsid} "$@"\n`);
    chmodSync(join(bin, 'setsid'), 0o755);
    const [port, controllerPort] = [await freePort(), await freePort()];
    const env = {
      ...process.env,
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      RECO_KAFKA_HOME: home,
      RECO_KAFKA_PORT: String(port),
      RECO_KAFKA_CONTROLLER_PORT: String(controllerPort),
    };
    return { home, env };
  }

  afterAll(async () => {
    for (const home of homes) {
      await script('stop.sh', { ...process.env, RECO_KAFKA_HOME: home });
      for (const pid of processesOf(home)) spawnSync('kill', ['-KILL', pid]);
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('waits for a broker whose exec is slow, then stop.sh leaves no process and no data', async () => {
    const { home, env } = await setup('sleep 1.5');
    const started = await script('start.sh', env);
    expect(started.stderr).not.toContain('exited during start');
    expect(started.code).toBe(0);
    const address = started.stdout.trim().split('\n').pop();
    expect(address).toBe(`127.0.0.1:${env.RECO_KAFKA_PORT}`);

    const status = await script('status.sh', env);
    expect(status.code).toBe(0);
    expect(status.stdout.trim()).toBe(address);
    const dataDir = readFileSync(join(home, 'data-dir'), 'utf8').trim();
    expect(existsSync(dataDir)).toBe(true);

    const stopped = await script('stop.sh', env);
    expect(stopped.code).toBe(0);
    expect(stopped.stderr).toMatch(/broker \(pid \d+\) stopped/);
    expect(processesOf(home)).toEqual([]);
    expect(existsSync(dataDir)).toBe(false);
    expect((await script('status.sh', env)).code).toBe(1);
  });

  it('reports a broker that dies at start with its log, and leaves nothing behind', async () => {
    // The child exits before it ever becomes java.
    const { home, env } = await setup('echo "setsid: refused by the test" >&2; exit 1');
    const started = await script('start.sh', env);
    expect(started.code).toBe(1);
    expect(started.stderr).toContain('broker exited during start');
    expect(started.stderr).toContain('setsid: refused by the test');
    expect(processesOf(home)).toEqual([]);
    expect(existsSync(join(home, 'data-dir'))).toBe(false);
  });

  it('gives up after RECO_KAFKA_START_TIMEOUT and stops the child even before it is java', async () => {
    // Still a shell in `sleep` when the 1 s timeout comes: stop.sh alone would not see it as the
    // broker, and it would exec java afterwards, a broker nobody owns.
    const { home, env } = await setup('sleep 4');
    const started = await script('start.sh', { ...env, RECO_KAFKA_START_TIMEOUT: '1' });
    expect(started.code).toBe(1);
    expect(started.stderr).toContain('broker not ready after 1s');
    await sleep(5_000); // past the sleep: a surviving child would be java by now
    expect(processesOf(home)).toEqual([]);
    expect(existsSync(join(home, 'data-dir'))).toBe(false);
  });

  it('takes the next free port pair when the default ports are taken and none is set', async () => {
    // Hold 39092 and 39093 (the run's own broker may hold them already: taken either way).
    const held: Server[] = [];
    for (const port of [39092, 39093]) {
      const server = createServer();
      const listening = await new Promise<boolean>((resolve) => {
        server.once('error', () => resolve(false));
        server.listen(port, '127.0.0.1', () => resolve(true));
      });
      if (listening) held.push(server);
    }
    try {
      const { home, env } = await setup('');
      delete env.RECO_KAFKA_PORT;
      delete env.RECO_KAFKA_CONTROLLER_PORT;
      const started = await script('start.sh', env);
      expect(started.code).toBe(0);
      const port = Number(started.stdout.trim().split('\n').pop()?.split(':')[1]);
      expect(port).toBeGreaterThanOrEqual(39094);
      expect((port - 39092) % 2).toBe(0);
      expect((await script('status.sh', env)).stdout.trim()).toBe(`127.0.0.1:${port}`);
      expect((await script('stop.sh', env)).code).toBe(0);
      expect(processesOf(home)).toEqual([]);
    } finally {
      for (const server of held) await new Promise((resolve) => server.close(resolve));
    }
  });
});
