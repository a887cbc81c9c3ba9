import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { PoolClient } from 'pg';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../../config/config';
import type { PolicyConfig } from '../../core/policies/policy-config.schema';
import { copyIn, hasCopyFromStdin } from '../../database/copy-in';
import { sqlState } from '../../database/sql-state';
import type { Impression } from './impression';

/**
 * A batch of stored slates not yet delivered to every sink (a row of `impression_outbox`): the slates served from
 * `from` to `to` (inclusive), `slates` of them in the batch; other slates served in that interval are delivered
 * with them (the learner drops those it has).
 */
export interface OutboxEntry {
  id: string;
  from: Date;
  to: Date;
  slates: number;
  /** Deliveries tried from the outbox before this one. */
  attempts: number;
}

/** Persistence port for served slates. */
export abstract class ImpressionsRepository {
  /**
   * Store a batch; a slate already stored (a retried batch whose first write did commit) is skipped. With
   * `outbox`, the same transaction records the slates it stored as not yet delivered, due for redelivery in
   * `dueInMs`, and the entry's id is returned (null when it stored none).
   */
  abstract insertMany(
    impressions: readonly Impression[],
    outbox?: { dueInMs: number },
  ): Promise<string | null>;
  abstract findById(slateId: string): Promise<Impression | null>;
  /**
   * Up to `limit` stored slates served from `from` to `to` (inclusive), in serving order (then id), after
   * `after` (the last one of the previous page) when given.
   */
  abstract findServed(
    from: Date,
    to: Date,
    limit: number,
    after?: { servedAt: Date; slateId: string },
  ): Promise<Impression[]>;
  /** Outbox entries delivered: deleted. */
  abstract delivered(outboxIds: readonly string[]): Promise<void>;
  /**
   * Up to `limit` outbox entries due now, claimed: each one's next try is pushed back by `retryMs` · 2^attempts
   * (at most `maxRetryMs`) before it is returned, so that another replica's pass skips it, and a delivery that
   * fails again is retried later by itself. Rows another transaction holds are skipped.
   */
  abstract claimDue(limit: number, retryMs: number, maxRetryMs: number): Promise<OutboxEntry[]>;
  /** How many entries wait in the outbox, and how long ago the oldest was written (null: none). */
  abstract outboxBacklog(): Promise<{ batches: number; oldestMs: number | null }>;
}

interface SlateRow {
  id: string;
  user_id: string;
  served_at: Date;
  policy: PolicyConfig;
  seed: string;
  model_version: string;
  experiment_key: string | null;
  variant: string | null;
  context: Record<string, unknown> | null;
  requested_size: number;
  propensity_kind: 'exact' | 'monte_carlo';
  simulated_slates: number;
  items: Impression['items'];
}

/** SQLSTATE unique_violation. */
const UNIQUE_VIOLATION = '23505';

const COLUMNS =
  'id, user_id, served_at, policy, seed, model_version, experiment_key, variant, context, requested_size, ' +
  'propensity_kind, simulated_slates, items';

@Injectable()
export class TypeOrmImpressionsRepository extends ImpressionsRepository {
  /** COPY where the server has it (`hasCopyFromStdin`), else the INSERT. */
  private readonly copy: boolean;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    super();
    this.copy = hasCopyFromStdin(config.database);
  }

  async insertMany(impressions: readonly Impression[], outbox?: { dueInMs: number }): Promise<string | null> {
    if (impressions.length === 0) return null;
    if (this.copy && impressions.length > 1) {
      try {
        return await this.copyRows(impressions, outbox);
      } catch (e) {
        // COPY has no ON CONFLICT: a slate already stored refuses the whole batch. The INSERT skips it.
        if (sqlState(e) !== UNIQUE_VIOLATION) throw e;
      }
    }
    return this.insertRows(impressions, outbox);
  }

  /**
   * One INSERT, the rows as one JSON array expanded server-side: one native JSON.stringify instead of the
   * driver quoting 13 array literals element by element. `json_to_recordset` over a `json` parameter, not
   * `jsonb_to_recordset` over `jsonb`: the server then parses each jsonb column's text once instead of the
   * whole array into jsonb first (≈ 40 against ≈ 60 µs of server CPU a slate, docs/benchmarks.md). A jsonb
   * column takes JSON null as the value null, hence NULLIF for an absent context (SQL NULL). ON CONFLICT makes a
   * retried row harmless.
   */
  private async insertRows(
    impressions: readonly Impression[],
    outbox: { dueInMs: number } | undefined,
  ): Promise<string | null> {
    const insert = `INSERT INTO slates (${COLUMNS})
       SELECT id, user_id, served_at, policy, seed, model_version, experiment_key, variant,
              NULLIF(context, 'null'::jsonb), requested_size, propensity_kind, simulated_slates, items
       FROM json_to_recordset($1::json) AS x(id uuid, user_id text, served_at timestamptz, policy jsonb,
            seed bigint, model_version text, experiment_key text, variant text, context jsonb,
            requested_size int, propensity_kind text, simulated_slates int, items jsonb)
       ON CONFLICT (id) DO NOTHING`;
    // With the outbox, one statement (so one transaction) stores the slates and the entry of those it stored.
    const rows: { id: string }[] = await this.dataSource.query(
      outbox
        ? `WITH stored AS (${insert} RETURNING served_at)
           INSERT INTO impression_outbox (first_served_at, last_served_at, slates, due_at)
           SELECT min(served_at), max(served_at), count(*), now() + $2 * interval '1 millisecond'
           FROM stored HAVING count(*) > 0
           RETURNING id::text AS id`
        : insert,
      [
        JSON.stringify(
          impressions.map((i) => ({
            id: i.slateId,
            user_id: i.userId,
            served_at: i.servedAt.toISOString(),
            policy: i.policy,
            seed: i.seed,
            model_version: i.modelVersion,
            experiment_key: i.experiment?.key ?? null,
            variant: i.experiment?.variant ?? null,
            context: i.context,
            requested_size: i.requestedSize,
            propensity_kind: i.propensityKind,
            simulated_slates: i.simulatedSlates,
            items: i.items,
          })),
        ),
        ...(outbox ? [outbox.dueInMs] : []),
      ],
    );
    return outbox ? (rows[0]?.id ?? null) : null;
  }

  /**
   * COPY FROM STDIN in text format: the server parses each column once, with no JSON array to take apart first
   * (≈ 25–30 µs of server CPU a slate against ≈ 40 for the INSERT). COPY has no ON CONFLICT: a slate already
   * stored (a retried batch whose first try committed) fails the batch with a unique violation, and `insertMany`
   * writes the batch again through the INSERT, which skips it.
   */
  private async copyRows(
    impressions: readonly Impression[],
    outbox: { dueInMs: number } | undefined,
  ): Promise<string | null> {
    let text = '';
    for (const i of impressions) text += copyLine(i);
    const runner = this.dataSource.createQueryRunner();
    try {
      const client = (await runner.connect()) as PoolClient;
      if (!outbox) {
        await copyIn(client, `COPY slates (${COLUMNS}) FROM STDIN`, [text]);
        return null;
      }
      let first = impressions[0].servedAt.getTime();
      let last = first;
      for (const i of impressions) {
        const t = i.servedAt.getTime();
        if (t < first) first = t;
        else if (t > last) last = t;
      }
      try {
        // BEGIN and the entry in one round trip (simple protocol: our own values, written as literals).
        const opened = (await client.query(
          `BEGIN; INSERT INTO impression_outbox (first_served_at, last_served_at, slates, due_at)
           VALUES ('${new Date(first).toISOString()}', '${new Date(last).toISOString()}', ${impressions.length},
                   now() + interval '${Math.round(outbox.dueInMs)} milliseconds')
           RETURNING id::text AS id`,
        )) as unknown as { rows: { id: string }[] }[];
        await copyIn(client, `COPY slates (${COLUMNS}) FROM STDIN`, [text]);
        await client.query('COMMIT');
        return opened[1].rows[0].id;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    } finally {
      await runner.release();
    }
  }

  async findById(slateId: string): Promise<Impression | null> {
    const rows: SlateRow[] = await this.dataSource.query(`SELECT * FROM slates WHERE id = $1`, [slateId]);
    return rows.length === 0 ? null : toImpression(rows[0]);
  }

  async findServed(
    from: Date,
    to: Date,
    limit: number,
    after?: { servedAt: Date; slateId: string },
  ): Promise<Impression[]> {
    const rows: SlateRow[] = await this.dataSource.query(
      after
        ? `SELECT * FROM slates WHERE served_at BETWEEN $1 AND $2 AND (served_at, id) > ($4, $5::uuid)
           ORDER BY served_at, id LIMIT $3`
        : `SELECT * FROM slates WHERE served_at BETWEEN $1 AND $2 ORDER BY served_at, id LIMIT $3`,
      after ? [from, to, limit, after.servedAt, after.slateId] : [from, to, limit],
    );
    return rows.map(toImpression);
  }

  async delivered(outboxIds: readonly string[]): Promise<void> {
    if (outboxIds.length === 0) return;
    await this.dataSource.query(`DELETE FROM impression_outbox WHERE id = ANY($1::bigint[])`, [outboxIds]);
  }

  async claimDue(limit: number, retryMs: number, maxRetryMs: number): Promise<OutboxEntry[]> {
    const rows: {
      id: string;
      first_served_at: Date;
      last_served_at: Date;
      slates: number;
      attempts: number;
    }[] = await this.dataSource.query(
      // In a WITH: TypeORM answers a bare UPDATE with [rows, count], a SELECT with its rows.
      `WITH claimed AS (
         UPDATE impression_outbox
         SET attempts = attempts + 1,
             due_at = now() + least($2 * power(2, least(attempts, 30)), $3) * interval '1 millisecond'
         WHERE id IN (SELECT id FROM impression_outbox WHERE due_at <= now()
                      ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING id, first_served_at, last_served_at, slates, attempts)
       SELECT id::text AS id, first_served_at, last_served_at, slates, attempts - 1 AS attempts FROM claimed`,
      [limit, retryMs, maxRetryMs],
    );
    return rows
      .map((r) => ({
        id: r.id,
        from: r.first_served_at,
        to: r.last_served_at,
        slates: r.slates,
        attempts: r.attempts,
      }))
      .sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  }

  async outboxBacklog(): Promise<{ batches: number; oldestMs: number | null }> {
    const [r] = (await this.dataSource.query(
      `SELECT count(*)::int AS n, (extract(epoch FROM now() - min(created_at)) * 1000)::float8 AS oldest
       FROM impression_outbox`,
    )) as { n: number; oldest: number | null }[];
    return { batches: r.n, oldestMs: r.oldest };
  }
}

function toImpression(r: SlateRow): Impression {
  return {
    slateId: r.id,
    userId: r.user_id,
    servedAt: r.served_at,
    policy: r.policy,
    seed: Number(r.seed),
    modelVersion: r.model_version,
    experiment: r.experiment_key && r.variant ? { key: r.experiment_key, variant: r.variant } : null,
    context: r.context,
    requestedSize: r.requested_size,
    propensityKind: r.propensity_kind,
    simulatedSlates: r.simulated_slates,
    items: r.items,
  };
}

/**
 * One row of COPY's text format: columns separated by tabs, `\\N` for NULL, and in a value a backslash, newline,
 * carriage return or tab written as a backslash sequence. JSON.stringify never writes a raw control character
 * (it writes `\\n`, `\\u0000`, ...), so in JSON only backslashes need doubling.
 */
export function copyLine(i: Impression): string {
  return (
    `${i.slateId}\t${copyText(i.userId)}\t${i.servedAt.toISOString()}\t${copyJson(i.policy)}\t${i.seed}\t` +
    `${copyText(i.modelVersion)}\t${i.experiment ? copyText(i.experiment.key) : '\\N'}\t` +
    `${i.experiment ? copyText(i.experiment.variant) : '\\N'}\t${i.context === null ? '\\N' : copyJson(i.context)}\t` +
    `${i.requestedSize}\t${i.propensityKind}\t${i.simulatedSlates}\t${copyJson(i.items)}\n`
  );
}

const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_SPECIAL_ALL = /[\\\n\r\t]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function copyText(s: string): string {
  return COPY_SPECIAL.test(s) ? s.replace(COPY_SPECIAL_ALL, (c) => COPY_ESCAPES[c]) : s;
}

function copyJson(v: unknown): string {
  const json = JSON.stringify(v);
  return json.includes('\\') ? json.replace(/\\/g, '\\\\') : json;
}
