import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Served slates (impressions). One row per slate, its items as a jsonb array
 * `[{ itemId, position, score, propensity, inSlateProbability }]`: one insert per slate keeps the serving
 * path cheap, and the log is read back whole (joins, replay, export), never one item at a time.
 */
export class CreateSlates1764248400000 implements MigrationInterface {
  name = 'CreateSlates1764248400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE slates (
        id                uuid        PRIMARY KEY,
        user_id           text        NOT NULL,
        served_at         timestamptz NOT NULL,
        policy            jsonb       NOT NULL,
        seed              bigint      NOT NULL,
        model_version     text        NOT NULL,
        experiment_key    text        NULL,
        variant           text        NULL,
        context           jsonb       NULL,
        requested_size    integer     NOT NULL,
        propensity_kind   text        NOT NULL,
        simulated_slates  integer     NOT NULL,
        items             jsonb       NOT NULL
      )`);
    await q.query(`CREATE INDEX slates_served_at_idx ON slates (served_at)`);
    await q.query(`CREATE INDEX slates_user_served_idx ON slates (user_id, served_at DESC)`);
    await q.query(
      `CREATE INDEX slates_experiment_idx ON slates (experiment_key, variant) WHERE experiment_key IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE slates`);
  }
}
