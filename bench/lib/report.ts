import * as os from 'node:os';

/**
 * Shared benchmark output: every bench prints a table for people and, with `--json`, exactly one JSON object
 * on stdout for machines (progress goes to stderr so that `--json` output stays parseable).
 */

/** True if `--name` is among the arguments. */
export function hasFlag(name: string, argv: string[] = process.argv.slice(2)): boolean {
  return argv.includes(`--${name}`);
}

/** Value of `--name value` or `--name=value`, else `fallback`. */
export function flagValue(name: string, fallback: string, argv: string[] = process.argv.slice(2)): string {
  for (let k = 0; k < argv.length; k++) {
    if (argv[k] === `--${name}` && k + 1 < argv.length) return argv[k + 1];
    if (argv[k].startsWith(`--${name}=`)) return argv[k].slice(name.length + 3);
  }
  return fallback;
}

/** Progress and notes: stderr, so stdout carries only the table or the JSON object. */
export function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

export type Cell = string | number;

/** A plain-text table with right-aligned numbers. */
export function formatTable(headers: string[], rows: Cell[][]): string {
  const text = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const widths = headers.map((h, k) => Math.max(h.length, ...text.map((r) => (r[k] ?? '').length)));
  const line = (cells: string[], numeric: boolean[]): string =>
    cells.map((c, k) => (numeric[k] ? c.padStart(widths[k]) : c.padEnd(widths[k]))).join('  ');
  const numericCol = headers.map((_, k) => rows.every((r) => typeof r[k] === 'number'));
  return [
    line(headers, numericCol),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...text.map((r) => line(r, numericCol)),
  ].join('\n');
}

/** A number with about four significant digits, without exponent noise for ordinary magnitudes. */
export function fmt(x: number): string {
  if (Number.isNaN(x)) return '-';
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e7 || a < 1e-3)) return x.toExponential(3);
  if (a >= 1000) return Math.round(x).toString();
  return Number(x.toPrecision(4)).toString();
}

/** Print either the JSON object (with `--json`) or the human text. */
export function emit(json: boolean, data: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(data)}\n` : `${text()}\n`);
}

/** Wall-clock milliseconds of one call. */
export function timeMs(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** The q-quantile of xs by rank (the value at ⌊q·n⌋ of the sorted copy, clamped to the last). */
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Short description of the machine, for the record, with the 1-minute load average: the sandbox is shared, and
 * a load above the core count means the figures are pessimistic.
 */
export function machine(): string {
  const load = os.loadavg()[0].toFixed(1);
  return `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, ${os.platform()}, load ${load}`;
}
