import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

/**
 * Screenshot an HTML report with headless Chromium, to check it renders without network.
 * Usage (after `npm run build`): node dist/src/replay/render-check.js REPORT.html OUT.png
 * Returns false (and says why) when no Chromium is installed; the caller decides whether that fails.
 */
export function screenshotHtml(
  htmlPath: string,
  pngPath: string,
  width = 960,
  height = 1750,
): { ok: boolean; message: string } {
  const browser = ['chromium', 'chromium-browser', 'google-chrome'].find(
    (b) => spawnSync('which', [b]).status === 0,
  );
  if (!browser) return { ok: false, message: 'no chromium on PATH (apt-get install -y chromium)' };
  const r = spawnSync(
    browser,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--hide-scrollbars',
      `--window-size=${width},${height}`,
      `--screenshot=${pngPath}`,
      `file://${htmlPath.startsWith('/') ? htmlPath : `${process.cwd()}/${htmlPath}`}`,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const ok = existsSync(pngPath) && statSync(pngPath).size > 10_000;
  return {
    ok,
    message: ok ? `${pngPath}: ${statSync(pngPath).size} bytes` : `chromium failed: ${r.stderr?.slice(-300)}`,
  };
}

if (require.main === module) {
  const [html, png] = process.argv.slice(2);
  if (!html || !png) {
    process.stderr.write('usage: node dist/src/replay/render-check.js REPORT.html OUT.png\n');
    process.exit(2);
  }
  const r = screenshotHtml(html, png);
  process.stdout.write(`${r.message}\n`);
  process.exit(r.ok ? 0 : 1);
}
