/**
 * node dist/bench/lib/cpuprofile-summary.js FILE.cpuprofile [--from US --to US] [--requests N] [--top K]
 *
 * Where the service's CPU went, from a V8 .cpuprofile (BENCH_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR"):
 * shares by area of the request path, then self time by function. `--from`/`--to` keep the samples of one
 * load phase (bench:http prints each phase's window in the same monotonic microseconds); `--requests` adds
 * milliseconds per request. Samples are wall-clock: on a loaded machine, time the process spent preempted
 * lands in whatever it was running (a socket write, typically), so compare shares within one run.
 */
import { readFileSync } from 'node:fs';
import { flagValue, log } from './report';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

type Match = (f: CallFrame) => boolean;
const url =
  (re: RegExp): Match =>
  (f) =>
    re.test(f.url);

/** Areas that own everything called under them (the first match in the stack wins). */
const OWNING: [string, Match][] = [
  [
    'core: serveSlate',
    (f) => f.functionName === 'serveSlate' || /\/src\/core\//.test(f.url) || f.url.startsWith('wasm'),
  ],
  ['learning and model (in-process)', url(/\/src\/modules\/(learning|model|events)\//)],
  [
    'impression log (write-behind, pg)',
    url(/impression-log|impressions\.repository|node_modules\/(pg|pg-protocol|typeorm)\//),
  ],
];
/** Other areas: a sample goes to the match nearest its leaf. */
const NEAREST: [string, Match][] = [
  [
    'response (res.json, sendJson)',
    url(/express\/lib\/response|node_modules\/(etag|fresh)\/|common\/http\/send-json/),
  ],
  ['slates controller and service', url(/\/src\/modules\/slates\//)],
  ['logging (pino, pino-http)', url(/node_modules\/(pino|pino-http|pino-std-serializers|nestjs-pino)\//)],
  ['metrics', url(/prom-client|\/src\/modules\/metrics\//)],
  ['validation (zod)', url(/zod|\/src\/common\/validation\//)],
  ['body parsing', url(/body-parser|raw-body|iconv-lite|type-is|content-type|common\/http\/json-body/)],
  ['nest pipeline', url(/@nestjs\//)],
  ['express router', url(/node_modules\/(router|express|path-to-regexp|parseurl|finalhandler)\//)],
  [
    'node http and sockets',
    (f) => /^node:(_http|net|internal\/streams?)/.test(f.url) || f.functionName === 'writev',
  ],
  ['GC', (f) => f.functionName === '(garbage collector)'],
  ['idle', (f) => f.functionName === '(idle)' || f.functionName === '(program)'],
];

function main(): void {
  const file = process.argv[2];
  if (!file || file.startsWith('--')) {
    log('usage: cpuprofile-summary FILE.cpuprofile [--from US --to US] [--requests N] [--top K]');
    process.exit(2);
  }
  const from = Number(flagValue('from', '0'));
  const to = Number(flagValue('to', String(Number.MAX_SAFE_INTEGER)));
  const requests = Number(flagValue('requests', '0'));
  const top = Number(flagValue('top', '25'));
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const areas = new Map<string, number>();
  const self = new Map<string, number>();
  let total = 0;
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    if (t < from || t > to) continue;
    total += dt;
    const frames: CallFrame[] = [];
    for (let id: number | undefined = p.samples[i]; id !== undefined; id = parent.get(id)) {
      frames.push(byId.get(id)!.callFrame);
    }
    const area =
      OWNING.find(([, m]) => frames.some(m))?.[0] ??
      frames.map((f) => NEAREST.find(([, m]) => m(f))?.[0]).find((a) => a !== undefined) ??
      'other';
    areas.set(area, (areas.get(area) ?? 0) + dt);
    const leaf = frames[0];
    const name = `${leaf.functionName || '(anonymous)'} ${leaf.url.split('/').slice(-2).join('/')}:${leaf.lineNumber + 1}`;
    self.set(name, (self.get(name) ?? 0) + dt);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const perRequest = (us: number) => (requests > 0 ? `  ${(us / requests / 1000).toFixed(3)} ms/req` : '');
  const lines = [`${(total / 1e6).toFixed(2)} s of samples${requests > 0 ? `, ${requests} requests` : ''}`];
  lines.push('', 'by area:');
  for (const [a, us] of [...areas].sort((x, y) => y[1] - x[1]))
    lines.push(`${pct(us)}${perRequest(us)}  ${a}`);
  lines.push('', 'self time by function:');
  for (const [f, us] of [...self].sort((x, y) => y[1] - x[1]).slice(0, top)) lines.push(`${pct(us)}  ${f}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main();
