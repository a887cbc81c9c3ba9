import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client } from 'pg';
import { log } from './report';

/** A throwaway database on the local PostgreSQL (or the server of `--database-url`). */
export async function tempDatabase(
  adminUrl: string,
  prefix: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${Date.now().toString(36)}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export interface Service {
  readonly baseUrl: string;
  readonly child: ChildProcess;
  /**
   * CPU seconds the service process has used so far (all its threads: user + system), or undefined where
   * /proc is not available. On a shared machine, CPU per request is steadier than requests per second.
   */
  cpuSeconds(): number | undefined;
  /**
   * CPU seconds of the service's main thread alone (its event loop: HTTP, validation, logging, learning), from
   * /proc/<pid>/task/<pid>/stat; undefined without /proc. The thread every request passes through twice, so
   * the one whose load caps the throughput first.
   */
  mainThreadCpuSeconds(): number | undefined;
  stop(): Promise<void>;
}

/** utime + stime of a process from /proc/<pid>/stat, in seconds (Linux; undefined elsewhere). */
function procCpuSeconds(pid: number | undefined, thread = false): number | undefined {
  if (pid === undefined) return undefined;
  const f = procStat(pid, thread);
  return f === undefined ? undefined : (f.utime + f.stime) / CLOCK_TICKS;
}

interface ProcStat {
  ppid: number;
  /** Clock ticks of the process itself (all its threads). */
  utime: number;
  stime: number;
  /** Clock ticks of its children that have exited and that it has waited for. */
  cutime: number;
  cstime: number;
}

/** /proc/<pid>/stat, or with `thread` /proc/<pid>/task/<pid>/stat: the main thread's own counters. */
function procStat(pid: number, thread = false): ProcStat | undefined {
  try {
    // Fields after the command name (which may hold spaces, hence the last ')'): ppid is field 4, utime, stime,
    // cutime and cstime are 14 to 17.
    const stat = readFileSync(thread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(fields[1]),
      utime: Number(fields[11]),
      stime: Number(fields[12]),
      cutime: Number(fields[13]),
      cstime: Number(fields[14]),
    };
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds used so far by the PostgreSQL server(s) on this machine, or undefined where /proc is not
 * available: every process whose /proc/<pid>/comm is `postgres` (postmaster, backends, background processes),
 * with the pids rescanned at each call. The value is a cumulative counter, so a phase's cost is the difference
 * of two calls:
 * - utime + stime of every live postgres process (a backend that starts mid-phase counts from 0, since it
 *   was not there at the start, so all of its CPU falls in the phase);
 * - plus cutime + cstime of every postmaster (a postgres process whose parent is not one): the CPU of its
 *   children that have exited and been reaped, so a backend that exits mid-phase (the pool's idle timeout) does
 *   not take its CPU with it, nor make the counter go backwards.
 * A backend reaped between the read of its own stat and its postmaster's within one call is counted twice (or,
 * in the other order, missed once): a pool keeps its connections, so this is rare; it does not accumulate.
 * Undefined also when no postgres process runs here; only meaningful when the database is on this machine.
 */
export function postgresCpuSeconds(): number | undefined {
  let pids: number[];
  try {
    pids = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number);
  } catch {
    return undefined;
  }
  const stats = new Map<number, ProcStat>();
  for (const pid of pids) {
    let comm: string;
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue; // exited since the scan
    }
    if (comm !== 'postgres') continue;
    const st = procStat(pid);
    if (st !== undefined) stats.set(pid, st);
  }
  if (stats.size === 0) return undefined; // no PostgreSQL server on this machine
  let ticks = 0;
  for (const st of stats.values()) {
    ticks += st.utime + st.stime;
    if (!stats.has(st.ppid)) ticks += st.cutime + st.cstime;
  }
  return ticks / CLOCK_TICKS;
}

/**
 * CPU seconds all the machine's cores have spent busy so far (user, nice, system, irq, softirq from the `cpu`
 * line of /proc/stat: any process, and the kernel), or undefined where /proc is not available. Against the CPU of
 * the processes a bench accounts for, it shows how much went to anything else (other jobs, kernel threads).
 */
export function machineBusyCpuSeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const [user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).slice(1).map(Number);
    const ticks = user + nice + system + irq + softirq;
    return Number.isFinite(ticks) ? ticks / CLOCK_TICKS : undefined;
  } catch {
    return undefined;
  }
}

// USER_HZ: 100 on every Linux configuration Node supports.
const CLOCK_TICKS = 100;

/** A free TCP port on loopback (the kernel picks it; closed again before the service binds it). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/**
 * `reco serve` from dist/ as a child process, as in production; resolves once /health/live answers. `nodeArgs`: more
 * options for its `node` (e.g. a `--require` preload).
 */
export async function startService(env: Record<string, string>, nodeArgs: string[] = []): Promise<Service> {
  const cli = join(__dirname, '..', '..', 'src', 'cli.js');
  const port = await freePort();
  // BENCH_CHILD_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the service, not the bench.
  const args = [...(process.env.BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean), ...nodeArgs];
  const child = spawn(process.execPath, [...args, cli, 'serve', '--port', String(port)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`reco serve exited with ${child.exitCode}:\n${err}`);
    const ok = await fetch(`${baseUrl}/health/live`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`reco serve did not start in 90 s:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  log(`service up on port ${port}`);
  return {
    baseUrl,
    child,
    cpuSeconds: () => procCpuSeconds(child.pid),
    mainThreadCpuSeconds: () => procCpuSeconds(child.pid, true),
    async stop() {
      if (child.exitCode !== null) return;
      const done = new Promise((r) => child.on('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await done;
      clearTimeout(t);
    },
  };
}

export async function importItems(baseUrl: string, n: number, groups = 20): Promise<void> {
  for (let start = 0; start < n; start += 50_000) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(n, start + 50_000); i++)
      lines.push(JSON.stringify({ id: `item-${i}`, group: `g${i % groups}` }));
    const r = await fetch(`${baseUrl}/v1/items:import`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: lines.join('\n'),
    });
    if (r.status !== 200) throw new Error(`import failed: ${r.status} ${await r.text()}`);
  }
}
