import type { DataSource } from 'typeorm';
import { buildServingSnapshot, type ServingSnapshot } from '../core/model';
import type { RecoImpression } from './reco-log.schema';
import { InputFileError } from './input-file.error';
import { snapshotModel } from '../database/model-snapshot';
import { sqlState } from '../database/sql-state';

/** A time window over `slates.served_at`: [since, until). */
export interface LogWindow {
  since?: Date;
  until?: Date;
}

/** What a pass over the database log saw besides the impressions it yielded. */
export class DbLogStats {
  impressions = 0;
  /** Click rows joined to a yielded impression (distinct (slate, item) pairs are what a record keeps). */
  clicksJoined = 0;
  /** Clicks whose slate_id names a yielded slate but whose item was not in it: left out (and counted). */
  clicksOnUnshownItems = 0;
  /** Clicks without slate_id (organic) whose ts falls in the window: not part of any impression, left out. */
  organicClicks = 0;
}

interface SlateRow {
  id: string;
  user_id: string;
  served_at: Date;
  served_key: string;
  policy: { name?: unknown } & Record<string, unknown>;
  seed: string;
  model_version: string;
  experiment_key: string | null;
  variant: string | null;
  context: Record<string, unknown> | null;
  requested_size: number;
  propensity_kind: 'exact' | 'monte_carlo';
  items: { itemId: string; position: number; propensity: number; inSlateProbability?: number }[];
}

/** Postgres "relation does not exist": the database has not been migrated. */
const UNDEFINED_TABLE = '42P01';

function windowSql(w: LogWindow, params: unknown[], column: string): string {
  const parts: string[] = [];
  if (w.since) {
    params.push(w.since.toISOString());
    parts.push(`${column} >= $${params.length}::timestamptz`);
  }
  if (w.until) {
    params.push(w.until.toISOString());
    parts.push(`${column} < $${params.length}::timestamptz`);
  }
  return parts.join(' AND ');
}

function toRecord(row: SlateRow, clicked: readonly string[]): RecoImpression {
  const items = row.items
    .slice()
    .sort((a, b) => a.position - b.position)
    .map((i) => ({
      item: i.itemId,
      position: i.position,
      propensity: i.propensity,
      ...(i.inSlateProbability !== undefined ? { inSlateProbability: i.inSlateProbability } : {}),
    }));
  const rec: RecoImpression = {
    type: 'impression',
    slateId: row.id,
    user: row.user_id,
    ts: row.served_at.toISOString(),
    policy: String(row.policy.name),
    policyConfig: row.policy,
    seed: Number(row.seed),
    modelVersion: row.model_version,
    requestedSize: row.requested_size,
    propensityKind: row.propensity_kind,
    items,
    clicks: [...clicked],
  };
  if (row.experiment_key !== null) rec.experiment = row.experiment_key;
  if (row.variant !== null) rec.variant = row.variant;
  if (row.context !== null) rec.context = row.context;
  return rec;
}

/**
 * Read the service's own log (table `slates`, clicks joined from `clicks` by slate_id) as reco JSONL
 * records, oldest first, in keyset pages of `pageSize` slates: `(served_at, id) > (last)` on the
 * served_at index, so a page costs the same at row 10 and at row 10 million and no cursor or transaction
 * stays open between pages (the service may keep writing). The key is served_at's text form, which keeps
 * PostgreSQL's microseconds (a JS Date would round them to milliseconds and could skip or repeat rows).
 *
 * Clicks: those with a slate_id are joined whatever their own time (a late click belongs to its slate);
 * a click on an item the slate did not show is left out and counted; organic clicks (no slate_id) are
 * not impressions of any policy and are left out, counted in `stats.organicClicks`.
 */
export async function* readRecoLogFromDb(
  ds: DataSource,
  window: LogWindow = {},
  opts: { pageSize?: number; stats?: DbLogStats } = {},
): AsyncGenerator<RecoImpression> {
  const pageSize = opts.pageSize ?? 1000;
  const stats = opts.stats ?? new DbLogStats();
  let last: { key: string; id: string } | null = null;
  // Checked first, rather than caught: TypeORM logs a failed query on stdout, which carries the export.
  await requireTables(ds, ['slates', 'clicks']);
  try {
    for (;;) {
      const params: unknown[] = [];
      const conds: string[] = [];
      const w = windowSql(window, params, 'served_at');
      if (w) conds.push(w);
      if (last) {
        params.push(last.key, last.id);
        conds.push(`(served_at, id) > ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
      }
      params.push(pageSize);
      const rows: SlateRow[] = await ds.query(
        `SELECT id::text AS id, user_id, served_at, served_at::text AS served_key, policy, seed, model_version,
                experiment_key, variant, context, requested_size, propensity_kind, items
           FROM slates ${conds.length ? `WHERE ${conds.join(' AND ')}` : ''}
          ORDER BY served_at, id
          LIMIT $${params.length}`,
        params,
      );
      if (rows.length === 0) break;
      const clickRows: { slate_id: string; item_id: string }[] = await ds.query(
        `SELECT slate_id, item_id FROM clicks WHERE slate_id = ANY($1::text[]) ORDER BY ts, event_id`,
        [rows.map((r) => r.id)],
      );
      const bySlate = new Map<string, string[]>();
      for (const c of clickRows) {
        let list = bySlate.get(c.slate_id);
        if (!list) bySlate.set(c.slate_id, (list = []));
        list.push(c.item_id);
      }
      for (const row of rows) {
        const shown = new Set(row.items.map((i) => i.itemId));
        const clicked = new Set<string>();
        for (const item of bySlate.get(row.id) ?? []) {
          if (!shown.has(item)) stats.clicksOnUnshownItems++;
          else {
            stats.clicksJoined++;
            clicked.add(item);
          }
        }
        stats.impressions++;
        yield toRecord(row, [...clicked]);
      }
      const tail = rows[rows.length - 1];
      last = { key: tail.served_key, id: tail.id };
      if (rows.length < pageSize) break;
    }
    const params: unknown[] = [];
    const w = windowSql(window, params, 'ts');
    const [{ n }] = (await ds.query(
      `SELECT count(*)::int AS n FROM clicks WHERE slate_id IS NULL${w ? ` AND ${w}` : ''}`,
      params,
    )) as { n: number }[];
    stats.organicClicks = n;
  } catch (e) {
    if (sqlState(e) === UNDEFINED_TABLE)
      throw new InputFileError(
        `the database has no impression log (${(e as Error).message}); run \`reco migrate\` or point DATABASE_URL at the service's database`,
      );
    throw e;
  }
}

async function requireTables(ds: DataSource, tables: string[]): Promise<void> {
  const rows: { name: string; ok: boolean }[] = await ds.query(
    `SELECT t AS name, to_regclass(t) IS NOT NULL AS ok FROM unnest($1::text[]) AS t`,
    [tables],
  );
  const missing = rows.filter((r) => !r.ok).map((r) => r.name);
  if (missing.length)
    throw new InputFileError(
      `the database has no ${missing.join(', ')} table: run \`reco migrate\` or point DATABASE_URL at the service's database`,
    );
}

/** Number of slates in the window (for a progress bar; one index range count). */
export async function countSlates(ds: DataSource, window: LogWindow = {}): Promise<number> {
  const params: unknown[] = [];
  const w = windowSql(window, params, 'served_at');
  const [{ n }] = (await ds.query(
    `SELECT count(*)::int AS n FROM slates${w ? ` WHERE ${w}` : ''}`,
    params,
  )) as { n: number }[];
  return n;
}

/** Parse `--since`/`--until`: ISO 8601 (a date, or a date-time with or without offset; no offset = UTC). */
export function parseWindowDate(flag: string, value: string): Date {
  const iso = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
  if (!iso.test(value))
    throw new InputFileError(`option '${flag}': expected an ISO 8601 date or date-time, got '${value}'`);
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/.test(value) && value.length > 10;
  const d = new Date(hasZone || value.length === 10 ? value : `${value}Z`);
  if (Number.isNaN(d.getTime())) throw new InputFileError(`option '${flag}': not a valid date '${value}'`);
  return d;
}

/** Both bounds parsed and ordered. */
export function parseWindow(since?: string, until?: string): LogWindow {
  const w: LogWindow = {};
  if (since !== undefined) w.since = parseWindowDate('--since <iso>', since);
  if (until !== undefined) w.until = parseWindowDate('--until <iso>', until);
  if (w.since && w.until && w.since >= w.until)
    throw new InputFileError(`option '--until <iso>' must be after --since (${since} ≥ ${until})`);
  return w;
}

/** The newest model checkpoint (`model_snapshots`), as a serving snapshot. */
export async function readNewestModel(
  ds: DataSource,
): Promise<{ snapshot: ServingSnapshot; source: string }> {
  await requireTables(ds, ['model_snapshots']);
  const rows: { id: string; created_at: Date; format_version: number; payload: Buffer }[] = await ds.query(
    `SELECT id::text AS id, created_at, format_version, payload FROM model_snapshots ORDER BY model_snapshots.id DESC LIMIT 1`,
  );
  if (rows.length === 0)
    throw new InputFileError(
      '--model-from-db: no model checkpoint in model_snapshots yet (the service writes one every CHECKPOINT_INTERVAL_MS)',
    );
  const r = rows[0];
  try {
    return {
      snapshot: buildServingSnapshot(
        await snapshotModel(ds, {
          id: r.id,
          formatVersion: r.format_version,
          payload: r.payload,
        }),
      ),
      source: `model_snapshots #${r.id} (${r.created_at.toISOString()})`,
    };
  } catch (e) {
    throw new InputFileError(`--model-from-db: model_snapshots #${r.id}: ${(e as Error).message}`);
  }
}
