import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { PoolClient } from 'pg';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../../config/config';
import type { PolicyConfig } from '../../core/policies/policy-config.schema';
import { copyIn, hasCopyFromStdin } from '../../database/copy-in';
import { sqlState } from '../../database/sql-state';
import type { Impression } from './impression';

/** Persistence port for served slates. */
export abstract class ImpressionsRepository {
  /** Store a batch; a slate already stored (a retried batch whose first write did commit) is skipped. */
  abstract insertMany(impressions: readonly Impression[]): Promise<void>;
  abstract findById(slateId: string): Promise<Impression | null>;
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

  async insertMany(impressions: readonly Impression[]): Promise<void> {
    if (impressions.length === 0) return;
    if (this.copy && impressions.length > 1) {
      try {
        await this.copyRows(impressions);
        return;
      } catch (e) {
        // COPY has no ON CONFLICT: a slate already stored refuses the whole batch. The INSERT skips it.
        if (sqlState(e) !== UNIQUE_VIOLATION) throw e;
      }
    }
    await this.insertRows(impressions);
  }

  /**
   * One INSERT, the rows as one JSON array expanded server-side: one native JSON.stringify instead of the
   * driver quoting 13 array literals element by element. `json_to_recordset` over a `json` parameter, not
   * `jsonb_to_recordset` over `jsonb`: the server then parses each jsonb column's text once instead of the
   * whole array into jsonb first (≈ 40 against ≈ 60 µs of server CPU a slate, docs/benchmarks.md). A jsonb
   * column takes JSON null as the value null, hence NULLIF for an absent context (SQL NULL). ON CONFLICT makes a
   * retried row harmless.
   */
  private async insertRows(impressions: readonly Impression[]): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO slates (${COLUMNS})
       SELECT id, user_id, served_at, policy, seed, model_version, experiment_key, variant,
              NULLIF(context, 'null'::jsonb), requested_size, propensity_kind, simulated_slates, items
       FROM json_to_recordset($1::json) AS x(id uuid, user_id text, served_at timestamptz, policy jsonb,
            seed bigint, model_version text, experiment_key text, variant text, context jsonb,
            requested_size int, propensity_kind text, simulated_slates int, items jsonb)
       ON CONFLICT (id) DO NOTHING`,
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
      ],
    );
  }

  /**
   * COPY FROM STDIN in text format: the server parses each column once, with no JSON array to take apart first
   * (≈ 25–30 µs of server CPU a slate against ≈ 40 for the INSERT). COPY has no ON CONFLICT: a slate already
   * stored (a retried batch whose first try committed) fails the batch with a unique violation, and `insertMany`
   * writes the batch again through the INSERT, which skips it.
   */
  private async copyRows(impressions: readonly Impression[]): Promise<void> {
    let text = '';
    for (const i of impressions) text += copyLine(i);
    const runner = this.dataSource.createQueryRunner();
    try {
      const client = (await runner.connect()) as PoolClient;
      await copyIn(client, `COPY slates (${COLUMNS}) FROM STDIN`, [text]);
    } finally {
      await runner.release();
    }
  }

  async findById(slateId: string): Promise<Impression | null> {
    const rows: SlateRow[] = await this.dataSource.query(`SELECT * FROM slates WHERE id = $1`, [slateId]);
    if (rows.length === 0) return null;
    const r = rows[0];
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
