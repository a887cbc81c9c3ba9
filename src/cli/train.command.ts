import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { createRecoApp } from '../app';
import { zodIssues } from '../common/validation/zod-issues';
import { loadConfig } from '../config/config';
import { RecoEventSchema, type RecoEvent } from '../messaging/event.schema';
import { LearningService } from '../modules/learning/learning.service';
import { recoImpressionSchema, type RecoImpression } from '../replay/reco-log.schema';
import { CliError } from './cli-error';
import { withOverrides } from './env-overrides';

const BATCH = 5000;

/** A line of a backfill file: a raw event, or an impression as `reco export` writes it (with its clicks). */
export function eventsOfLine(json: unknown): { events: RecoEvent[] } | { error: string } {
  const asEvent = RecoEventSchema.safeParse(json);
  if (asEvent.success) return { events: [asEvent.data] };
  const asImpression = recoImpressionSchema.safeParse(json);
  if (asImpression.success) return { events: fromExport(asImpression.data) };
  const looksExported = typeof json === 'object' && json !== null && 'user' in json && 'items' in json;
  const issues = zodIssues(looksExported ? asImpression.error : asEvent.error);
  return { error: issues.map((i) => `${i.path}: ${i.message}`).join('; ') };
}

/** An exported impression as the events the service learned it from (deterministic ids: re-runs dedupe). */
function fromExport(imp: RecoImpression): RecoEvent[] {
  const ts = typeof imp.ts === 'number' ? imp.ts : Date.parse(imp.ts);
  const events: RecoEvent[] = [
    {
      eventId: `impression:${imp.slateId}`,
      type: 'impression',
      slateId: imp.slateId,
      userId: imp.user,
      ts,
      items: imp.items.map((s) => ({ itemId: s.item, position: s.position, propensity: s.propensity })),
    },
  ];
  for (const itemId of imp.clicks) {
    events.push({
      eventId: `${imp.slateId}:click:${itemId}`,
      type: 'click',
      slateId: imp.slateId,
      userId: imp.user,
      itemId,
      ts,
    });
  }
  return events;
}

export function registerTrainCommand(program: Command): void {
  program
    .command('train')
    .description(
      'Backfill: learn logged events through the same exactly-once path as live ingestion (deduplicated, joined, ' +
        'committed with the model), at full speed, then close every join window and checkpoint the model.',
    )
    .requiredOption(
      '--from <file>',
      'JSONL: raw click/impression events, or impressions as `reco export` writes them',
    )
    .option(
      '--data-dir <dir>',
      'embedded database directory when DATABASE_URL is unset (overrides RECO_DATA_DIR)',
    )
    .option('--json', 'print the summary as one JSON object', false)
    .addHelpText(
      'after',
      '\nBad lines are counted and reported by line number, never learned. Running it twice learns nothing twice.',
    )
    .action(async (opts: { from: string; dataDir?: string; json: boolean }) => {
      // Kafka stays off: the events come from the file, and the learner must not consume topics meanwhile.
      const config = loadConfig(
        withOverrides(process.env, {
          RECO_DATA_DIR: opts.dataDir,
          KAFKA_BROKERS: '',
          LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
        }),
      );
      const input = createReadStream(opts.from);
      await new Promise<void>((resolve, reject) => {
        input.once('open', () => resolve());
        input.once('error', (e) => reject(new CliError(`--from: cannot read ${opts.from}: ${e.message}`)));
      });
      const reco = await createRecoApp(config);
      const learning = reco.app.get(LearningService);
      const tty = process.stderr.isTTY;
      const summary = {
        lines: 0,
        events: 0,
        accepted: 0,
        duplicates: 0,
        rejected: 0,
        badLines: 0,
        firstBadLines: [] as { line: number; problem: string }[],
      };
      const started = Date.now();
      let batch: RecoEvent[] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        const r = await learning.learn(batch, 'train');
        for (const o of r.outcomes) {
          if (o.status === 'accepted') summary.accepted++;
          else if (o.status === 'duplicate') summary.duplicates++;
          else summary.rejected++;
        }
        summary.events += batch.length;
        batch = [];
        if (tty) {
          const rate = summary.events / Math.max(0.001, (Date.now() - started) / 1000);
          process.stderr.write(
            `\r  ${summary.lines} lines, ${summary.events} events, ${Math.round(rate)} events/s   `,
          );
        }
      };
      try {
        let n = 0;
        for await (const line of createInterface({ input, crlfDelay: Infinity })) {
          n++;
          if (line.trim() === '') continue;
          summary.lines++;
          let json: unknown;
          try {
            json = JSON.parse(line);
          } catch (e) {
            summary.badLines++;
            if (summary.firstBadLines.length < 20)
              summary.firstBadLines.push({ line: n, problem: `not valid JSON: ${(e as Error).message}` });
            continue;
          }
          const r = eventsOfLine(json);
          if ('error' in r) {
            summary.badLines++;
            if (summary.firstBadLines.length < 20) summary.firstBadLines.push({ line: n, problem: r.error });
            continue;
          }
          batch.push(...r.events);
          if (batch.length >= BATCH) await flush();
        }
        await flush();
        await learning.closeAllJoins('train');
        await learning.checkpoint();
      } finally {
        if (tty) process.stderr.write('\n');
        await reco.close();
      }
      const seconds = (Date.now() - started) / 1000;
      const out = { ...summary, seconds, eventsPerSecond: summary.events / Math.max(seconds, 0.001) };
      if (opts.json) process.stdout.write(`${JSON.stringify(out)}\n`);
      else {
        process.stdout.write(
          `learned ${out.accepted} events (${out.duplicates} duplicates, ${out.rejected} rejected) from ${out.lines} lines ` +
            `in ${seconds.toFixed(1)} s (${Math.round(out.eventsPerSecond)} events/s); ${out.badLines} bad lines\n`,
        );
        for (const b of out.firstBadLines) process.stdout.write(`  line ${b.line}: ${b.problem}\n`);
      }
    });
}
