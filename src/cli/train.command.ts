import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import type { DataSource } from 'typeorm';
import { createRecoApp } from '../app';
import { zodIssues } from '../common/validation/zod-issues';
import { loadConfig, type AppConfig } from '../config/config';
import { openDatabase } from '../database/database';
import { runMigrationsLocked } from '../database/migrate';
import { RecoEventSchema, type RecoEvent } from '../messaging/event.schema';
import { fastParseEvent } from '../messaging/fast-event';
import { LearningService } from '../modules/learning/learning.service';
import { recoImpressionSchema, type RecoImpression } from '../replay/reco-log.schema';
import { CliError } from './cli-error';
import { withOverrides } from './env-overrides';

const BATCH = 5000;

/** A line of a backfill file: a raw event, or an impression as `reco export` writes it (with its clicks). */
export function eventsOfLine(json: unknown): { events: RecoEvent[] } | { error: string } {
  const fast = fastParseEvent(json); // the line was parsed for this call: it may be returned as is
  if (fast) return { events: [fast] };
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
    .option(
      '--from <file>',
      'JSONL: raw click/impression events, or impressions as `reco export` writes them',
    )
    .option(
      '--from-db',
      "rebuild the database's learning state from its own log (served slates and clicks): stop the service first",
      false,
    )
    .option(
      '--data-dir <dir>',
      'embedded database directory when DATABASE_URL is unset (overrides RECO_DATA_DIR)',
    )
    .option('--json', 'print the summary as one JSON object', false)
    .addHelpText(
      'after',
      '\nBad lines are counted and reported by line number, never learned. Running it twice learns nothing twice.\n' +
        '--from-db keeps the log (slates, clicks) and the Kafka offsets, clears the learned state (learning log, checkpoints,\n' +
        'joins) and learns the log again in time order; if it is interrupted, running it again carries on.',
    )
    .action(async (opts: { from?: string; fromDb: boolean; dataDir?: string; json: boolean }) => {
      if (Boolean(opts.from) === opts.fromDb)
        throw new CliError('give exactly one of --from FILE and --from-db');
      // Kafka stays off: the events come from the log, and the learner must not consume topics meanwhile.
      const config = loadConfig(
        withOverrides(process.env, {
          RECO_DATA_DIR: opts.dataDir,
          KAFKA_BROKERS: '',
          LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
        }),
      );
      let source: (
        ds: DataSource,
      ) => AsyncIterable<{ line: number; json: unknown } | { line: number; error: string }>;
      if (opts.from) {
        const file = opts.from;
        const input = createReadStream(file);
        await new Promise<void>((resolve, reject) => {
          input.once('open', () => resolve());
          input.once('error', (e) => reject(new CliError(`--from: cannot read ${file}: ${e.message}`)));
        });
        source = () => fileLines(input);
      } else {
        await prepareRebuild(config);
        source = (ds) => databaseLog(ds);
      }
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
        for await (const item of source(reco.db.dataSource)) {
          summary.lines++;
          const r = 'error' in item ? item : eventsOfLine(item.json);
          if ('error' in r) {
            summary.badLines++;
            if (summary.firstBadLines.length < 20)
              summary.firstBadLines.push({ line: item.line, problem: r.error });
            continue;
          }
          batch.push(...r.events);
          if (batch.length >= BATCH) await flush();
        }
        await flush();
        await learning.closeAllJoins('train');
        await learning.checkpoint();
        if (opts.fromDb) await finishRebuild(reco.db.dataSource);
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

/** Non-empty lines of a file, parsed (or why not), with their 1-based numbers. */
async function* fileLines(
  input: NodeJS.ReadableStream,
): AsyncGenerator<{ line: number; json: unknown } | { line: number; error: string }> {
  let n = 0;
  for await (const text of createInterface({ input, crlfDelay: Infinity })) {
    n++;
    if (text.trim() === '') continue;
    try {
      yield { line: n, json: JSON.parse(text) as unknown };
    } catch (e) {
      yield { line: n, error: `not valid JSON: ${(e as Error).message}` };
    }
  }
}

const STAGING = 'clicks_rebuild_source';

/**
 * Before a rebuild: copy the click log aside (the `clicks` table is also the clicks' dedupe record, so it must
 * start empty), and clear the learned state. Kept idempotent: when the copy already exists, an earlier rebuild
 * was interrupted and this one carries on from where it stopped (what it learned is deduplicated).
 */
async function prepareRebuild(config: AppConfig): Promise<void> {
  const db = await openDatabase(config.database);
  try {
    if (config.database.runMigrations) await runMigrationsLocked(db.dataSource);
    await db.dataSource.transaction(async (m) => {
      const exists: { t: string | null }[] = await m.query(`SELECT to_regclass($1) AS t`, [STAGING]);
      if (exists[0].t) return;
      await m.query(`CREATE TABLE ${STAGING} AS SELECT * FROM clicks`);
      await m.query(
        `TRUNCATE clicks, learning_log, model_pages, model_snapshots, slate_joins, slate_tombstones`,
      );
    });
  } finally {
    await db.close();
  }
}

async function finishRebuild(ds: DataSource): Promise<void> {
  await ds.query(`DROP TABLE IF EXISTS ${STAGING}`);
}

/** The service's own log in time order: each served slate as an impression event, each click as it came. */
// Read through the app's own data source: the embedded database cannot be opened twice.
async function* databaseLog(ds: DataSource): AsyncGenerator<{ line: number; json: unknown }> {
  {
    const page = 5000;
    const slates = keyset<{
      id: string;
      user_id: string;
      at: string;
      items: { itemId: string; position: number; propensity: number }[];
    }>(
      ds,
      `SELECT id::text AS id, user_id, (extract(epoch FROM served_at) * 1000)::float8 AS at, items FROM slates
       WHERE (served_at, id::text) > (to_timestamp($1 / 1000.0), $2) ORDER BY served_at, id::text LIMIT ${page}`,
      (r) => [Number(r.at), r.id],
    );
    const clicks = keyset<{
      event_id: string;
      slate_id: string | null;
      user_id: string;
      item_id: string;
      position: number | null;
      at: string;
    }>(
      ds,
      `SELECT event_id, slate_id, user_id, item_id, position, (extract(epoch FROM ts) * 1000)::float8 AS at FROM ${STAGING}
       WHERE (ts, event_id) > (to_timestamp($1 / 1000.0), $2) ORDER BY ts, event_id LIMIT ${page}`,
      (r) => [Number(r.at), r.event_id],
    );
    let s = await slates.next();
    let c = await clicks.next();
    let n = 0;
    // Merge by time; at equal times the slate first, so that a click finds its impression already learned.
    while (!s.done || !c.done) {
      n++;
      if (!s.done && (c.done || Number(s.value.at) <= Number(c.value.at))) {
        const r = s.value;
        const ts = Math.round(Number(r.at));
        yield {
          line: n,
          json: {
            eventId: `impression:${r.id}`,
            type: 'impression',
            slateId: r.id,
            userId: r.user_id,
            ts,
            items: r.items.map((it) => ({
              itemId: it.itemId,
              position: it.position,
              propensity: Math.max(it.propensity, 1e-9),
            })),
          },
        };
        s = await slates.next();
      } else if (!c.done) {
        const r = c.value;
        yield {
          line: n,
          json: {
            eventId: r.event_id,
            type: 'click',
            ...(r.slate_id ? { slateId: r.slate_id } : {}),
            userId: r.user_id,
            itemId: r.item_id,
            ...(r.position !== null ? { position: r.position } : {}),
            ts: Math.round(Number(r.at)),
          },
        };
        c = await clicks.next();
      }
    }
  }
}

/** Rows of a keyset-paginated query whose two parameters are the last row's (time in ms, id). */
async function* keyset<R>(ds: DataSource, sql: string, key: (r: R) => [number, string]): AsyncGenerator<R> {
  let after: [number, string] = [Date.parse('0001-01-01T00:00:00Z'), '']; // before any logged time
  for (;;) {
    const rows: R[] = await ds.query(sql, after);
    if (rows.length === 0) return;
    yield* rows;
    after = key(rows[rows.length - 1]);
  }
}
