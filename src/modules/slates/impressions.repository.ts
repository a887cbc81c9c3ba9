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
    // One statement per batch (arrays unnested server-side); ON CONFLICT makes a retried flush harmless.
    await this.dataSource.query(
      `INSERT INTO slates (id, user_id, served_at, policy, seed, model_version, experiment_key, variant, context,
                           requested_size, propensity_kind, simulated_slates, items)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::jsonb[], $5::bigint[], $6::text[],
                            $7::text[], $8::text[], $9::jsonb[], $10::int[], $11::text[], $12::int[], $13::jsonb[])
       ON CONFLICT (id) DO NOTHING`,
      [
        impressions.map((i) => i.slateId),
        impressions.map((i) => i.userId),
        impressions.map((i) => i.servedAt.toISOString()),
        impressions.map((i) => JSON.stringify(i.policy)),
        impressions.map((i) => i.seed),
        impressions.map((i) => i.modelVersion),
        impressions.map((i) => i.experiment?.key ?? null),
        impressions.map((i) => i.experiment?.variant ?? null),
        impressions.map((i) => (i.context ? JSON.stringify(i.context) : null)),
        impressions.map((i) => i.requestedSize),
        impressions.map((i) => i.propensityKind),
        impressions.map((i) => i.simulatedSlates),
        impressions.map((i) => JSON.stringify(i.items)),
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
