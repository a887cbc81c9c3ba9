import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { PolicyConfig } from '../../core/policies/policy-config.schema';
import type { Impression } from './impression';

/** Persistence port for served slates. */
export abstract class ImpressionsRepository {
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

@Injectable()
export class TypeOrmImpressionsRepository extends ImpressionsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    super();
  }

  async insertMany(impressions: readonly Impression[]): Promise<void> {
    if (impressions.length === 0) return;
    // One statement per batch, the rows as one JSON array expanded server-side: one native
    // JSON.stringify instead of the driver quoting 13 array literals element by element (the items'
    // JSON twice over). A jsonb column takes JSON null as the value null, hence NULLIF for an absent
    // context (SQL NULL, as before). ON CONFLICT makes a retried flush harmless.
    await this.dataSource.query(
      `INSERT INTO slates (id, user_id, served_at, policy, seed, model_version, experiment_key, variant, context,
                           requested_size, propensity_kind, simulated_slates, items)
       SELECT id, user_id, served_at, policy, seed, model_version, experiment_key, variant,
              NULLIF(context, 'null'::jsonb), requested_size, propensity_kind, simulated_slates, items
       FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, user_id text, served_at timestamptz, policy jsonb,
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
