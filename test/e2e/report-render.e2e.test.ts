import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { screenshotHtml } from '../../src/replay/render-check';
import { ensureBuilt, repoRoot, runCli } from '../setup/cli';

const isCi = process.env.CI === 'true' || process.env.CI === '1';
const browser = ['chromium', 'chromium-browser', 'google-chrome'].find(
  (b) => spawnSync('which', [b]).status === 0,
);
const MISSING =
  'no Chromium on PATH: install it with `apt-get install -y chromium` (the report render check needs it)';
if (!browser && !isCi) process.stderr.write(`[report-render] skipped: ${MISSING}\n`);
// Under CI a missing browser is a failure, not a skip: the check would otherwise silently never run.
const maybe = browser || isCi ? it : it.skip;

interface Png {
  width: number;
  height: number;
  /** Distinct RGB colours among the decoded pixels (a blank page has one). */
  colours: number;
  /** Share of pixels that are not the most common colour (the page background). */
  inked: number;
}

/** Decode an 8-bit RGB/RGBA, non-interlaced PNG (what Chromium writes) enough to count its colours. */
function decodePng(path: string): Png {
  const b = readFileSync(path);
  expect(b.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  expect(b.subarray(12, 16).toString('ascii')).toBe('IHDR');
  const width = b.readUInt32BE(16);
  const height = b.readUInt32BE(20);
  const depth = b[24];
  const colourType = b[25];
  expect(depth).toBe(8);
  expect([2, 6]).toContain(colourType);
  const bpp = colourType === 6 ? 4 : 3;
  const idat: Buffer[] = [];
  for (let off = 8; off < b.length;) {
    const len = b.readUInt32BE(off);
    const type = b.subarray(off + 4, off + 8).toString('ascii');
    if (type === 'IDAT') idat.push(b.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const cur = Buffer.alloc(stride);
  const prev = Buffer.alloc(stride);
  const counts = new Map<number, number>();
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? cur[x - bpp] : 0;
      const up = prev[x];
      const c = x >= bpp ? prev[x - bpp] : 0;
      let pred = 0;
      if (f === 1) pred = a;
      else if (f === 2) pred = up;
      else if (f === 3) pred = (a + up) >> 1;
      else if (f === 4) {
        const p = a + up - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - up);
        const pc = Math.abs(p - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? up : c;
      }
      cur[x] = (line[x] + pred) & 0xff;
    }
    for (let x = 0; x < stride; x += bpp) {
      const key = (cur[x] << 16) | (cur[x + 1] << 8) | cur[x + 2];
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    cur.copy(prev);
  }
  const top = Math.max(...counts.values());
  return { width, height, colours: counts.size, inked: 1 - top / (width * height) };
}

describe('the replay report renders in headless Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reco-report-'));

  maybe('writes a self-contained report whose screenshot is a non-blank page of the expected size', () => {
    if (!browser) throw new Error(`CI=true: ${MISSING}`);
    ensureBuilt();
    // A small synthetic reco log (uniform logger, cascade clicks) and a fixed slate to evaluate, with replay
    // so that the report also draws the cumulative-reward chart.
    const log = join(dir, 'week.jsonl');
    const gen = spawnSync(
      process.execPath,
      [join(repoRoot, 'dist/src/replay/synthetic-reco-log.js'), log, '3000', '5'],
      {
        encoding: 'utf8',
      },
    );
    expect(gen.status).toBe(0);
    const policy = join(dir, 'POLICY.json');
    writeFileSync(
      policy,
      JSON.stringify({ kind: 'fixed', name: 'top3', slate: ['sku-1', 'sku-3', 'sku-5'] }),
    );
    const html = join(dir, 'report.html');
    const r = runCli([
      'replay',
      '--format',
      'reco',
      '--log',
      log,
      '--policy',
      policy,
      '--bootstrap',
      '100',
      '--truth',
      '0.1747',
      '--report',
      html,
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const text = readFileSync(html, 'utf8');
    // Self-contained: nothing to fetch when opened offline.
    expect(text).not.toMatch(/<script|<link|src="http|url\(http/i);

    const png = join(dir, 'report.png');
    const shot = screenshotHtml(html, png, 960, 1750);
    expect(shot.message).toContain(png);
    expect(shot.ok).toBe(true);
    expect(existsSync(png)).toBe(true);

    // The same browser on a blank page, as the baseline of "nothing rendered".
    const blankHtml = join(dir, 'blank.html');
    writeFileSync(blankHtml, '<!doctype html><html><body></body></html>');
    const blankPng = join(dir, 'blank.png');
    screenshotHtml(blankHtml, blankPng, 960, 1750);

    const img = decodePng(png);
    expect([img.width, img.height]).toEqual([960, 1750]);
    process.stderr.write(
      `[report-render] ${png}: ${statSync(png).size} bytes, ${img.width}×${img.height}, ${img.colours} colours, ${(img.inked * 100).toFixed(1)}% non-background` +
        (existsSync(blankPng) ? `; blank page: ${statSync(blankPng).size} bytes` : '') +
        '\n',
    );
    // A blank page is one colour; the report has text (anti-aliased: many greys), bars and charts.
    expect(img.colours).toBeGreaterThan(50);
    expect(img.inked).toBeGreaterThan(0.02);
    if (existsSync(blankPng)) {
      const blank = decodePng(blankPng);
      expect(blank.colours).toBeLessThanOrEqual(2);
      expect(statSync(png).size).toBeGreaterThan(5 * statSync(blankPng).size);
    }
  });
});
