import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../config/config';
import { openDatabase } from '../database/database';
import { InputFileError } from '../replay/input-file.error';
import { countSlates, DbLogStats, parseWindow, readRecoLogFromDb } from '../replay/reco-db-log';
import { CliError } from './cli-error';
import { withOverrides } from './env-overrides';

interface ExportFlags {
  since?: string;
  until?: string;
  out?: string;
  dataDir?: string;
  pageSize: number;
}

/** Write honouring backpressure: a million lines must not pile up in memory when stdout is slow. */
function writeLine(out: Writable, line: string): Promise<void> | undefined {
  if (out.write(line)) return undefined;
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      out.off('error', onError);
      resolve();
    };
    const onError = (e: Error): void => {
      out.off('drain', onDrain);
      reject(e);
    };
    out.once('drain', onDrain);
    out.once('error', onError);
  });
}

export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .description(
      "Stream the service's impression log (served slates with their propensities, clicks joined by slate id) as reco JSONL, oldest first.",
    )
    .option('--since <iso>', 'first serving time included (ISO 8601; no offset = UTC)')
    .option('--until <iso>', 'serving time excluded from here on (ISO 8601)')
    .option('--out <file>', 'write to this file instead of stdout')
    .option(
      '--data-dir <dir>',
      'embedded database directory when DATABASE_URL is unset (overrides RECO_DATA_DIR)',
    )
    .option(
      '--page-size <n>',
      'slates read per keyset page',
      (v: string) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected an integer ≥ 1');
        return n;
      },
      1000,
    )
    .addHelpText(
      'after',
      `
One impression per line (docs/ope.md, "reco JSONL"); organic clicks (no slate id) are left out and counted.
Examples:
  reco export --since 2026-11-20 --until 2026-11-27 > week.jsonl
  reco replay --format reco --log week.jsonl --policy '{"name":"greedy"}' ...`,
    )
    .action(async (flags: ExportFlags) => {
      let window;
      try {
        window = parseWindow(flags.since, flags.until);
      } catch (e) {
        if (e instanceof InputFileError) throw new CliError(e.message);
        throw e;
      }
      const config = loadConfig(withOverrides(process.env, { RECO_DATA_DIR: flags.dataDir }));
      const db = await openDatabase(config.database);
      const out: Writable = flags.out ? createWriteStream(flags.out) : process.stdout;
      const tty = process.stderr.isTTY === true;
      const stats = new DbLogStats();
      const t0 = Date.now();
      try {
        const total = tty ? await countSlates(db.dataSource, window).catch(() => 0) : 0;
        let lastReport = 0;
        for await (const rec of readRecoLogFromDb(db.dataSource, window, {
          pageSize: flags.pageSize,
          stats,
        })) {
          const wait = writeLine(out, JSON.stringify(rec) + '\n');
          if (wait) await wait;
          if (tty && Date.now() - lastReport > 200) {
            lastReport = Date.now();
            process.stderr.write(`\r exported ${stats.impressions}${total ? ` / ${total}` : ''} slates`);
          }
        }
        if (flags.out)
          await new Promise<void>((resolve, reject) =>
            out.end((e?: Error | null) => (e ? reject(e) : resolve())),
          );
        if (tty) process.stderr.write('\r\x1b[K');
        // One summary line on stderr (never stdout, which carries the log).
        process.stderr.write(
          `reco export: ${stats.impressions} impressions, ${stats.clicksJoined} clicks joined` +
            `${stats.clicksOnUnshownItems ? `, ${stats.clicksOnUnshownItems} clicks on unshown items left out` : ''}` +
            `, ${stats.organicClicks} organic clicks left out (${((Date.now() - t0) / 1000).toFixed(1)} s, from ${db.where})\n`,
        );
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EPIPE') return; // the reader (e.g. `| head`) went away
        if (e instanceof InputFileError) throw new CliError(e.message);
        throw e;
      } finally {
        await db.close();
      }
    });
}
