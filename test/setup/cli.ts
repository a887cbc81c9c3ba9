import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const repoRoot = join(__dirname, '..', '..');
export const cliPath = join(repoRoot, 'dist', 'src', 'cli.js');

let built = false;

/** Build dist/ once per test file that runs the compiled CLI (swc takes about a second), so it is never stale. */
export function ensureBuilt(): void {
  if (built && existsSync(cliPath)) return;
  const b = spawnSync('npm', ['run', '-s', 'build'], { cwd: repoRoot, encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`build failed: ${b.stderr}`);
  built = true;
}

/** The environment without the variables a test must set itself. */
export function cleanEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const base = { ...process.env };
  delete base.DATABASE_URL;
  delete base.KAFKA_BROKERS;
  return { ...base, ...env };
}

export function runCli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [cliPath, ...args], {
    env: cleanEnv(env),
    encoding: 'utf8',
    timeout: 60_000,
  });
}

export interface ServedCli {
  readonly child: ChildProcess;
  readonly port: number;
  readonly baseUrl: string;
  /** The parsed JSON start line ("reco listening ..."). */
  readonly startLine: Record<string, unknown> & { database: { mode: string }; events: { mode: string } };
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** `reco serve --port 0 ...` as a child process; resolves once it logs its start line. */
export async function serveCli(args: string[], env: Record<string, string> = {}): Promise<ServedCli> {
  const child = spawn(process.execPath, [cliPath, 'serve', '--port', '0', ...args], {
    env: cleanEnv({ LOG_LEVEL: 'info', ...env }),
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const startLine = await new Promise<ServedCli['startLine']>((resolve, reject) => {
    const timer = setTimeout(() => {
      clearInterval(poll);
      child.kill('SIGKILL');
      reject(new Error(`no start line within 60 s:\n${out}`));
    }, 60_000);
    const poll = setInterval(() => {
      const line = out.split('\n').find((l) => l.includes('reco listening'));
      if (line) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve(JSON.parse(line) as ServedCli['startLine']);
      }
    }, 50);
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`reco serve exited with ${code} before starting:\n${out}`));
    });
  });
  const port = (startLine.http as { port: number }).port;
  return {
    child,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    startLine,
    output: () => out,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
