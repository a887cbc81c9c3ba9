import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Stored slates not yet handed to the learner (in-process, or the impressions topic with Kafka): one row a
 * written batch, made in the same transaction as its slates and deleted once every sink took them. A row still
 * there at `due_at` (a crash between the write and the delivery, a learner or broker that failed) is delivered
 * again by the service, with backoff (`attempts`): every slate served from `first_served_at` to `last_served_at`
 * (by `slates_served_at_idx`), a superset of the batch when other batches or replicas served in that interval,
 * which the learner drops as known. A row is ≈ 60 bytes whatever the batch (a list of ids was TOASTed, and cost
 * a third more PostgreSQL CPU a slate in bench:http).
 */
export class ImpressionOutbox1764604800000 implements MigrationInterface {
  name = 'ImpressionOutbox1764604800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE impression_outbox (
        id               bigserial   PRIMARY KEY,
        first_served_at  timestamptz NOT NULL,
        last_served_at   timestamptz NOT NULL,
        slates           integer     NOT NULL,
        created_at       timestamptz NOT NULL DEFAULT now(),
        due_at           timestamptz NOT NULL,
        attempts         integer     NOT NULL DEFAULT 0
      )`);
    await q.query(`CREATE INDEX impression_outbox_due_idx ON impression_outbox (due_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE impression_outbox`);
  }
}
