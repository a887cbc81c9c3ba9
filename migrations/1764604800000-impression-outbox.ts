import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Stored slates not yet handed to the learner (in-process, or the impressions topic with Kafka): one row a
 * written batch, made in the same transaction as its slates and deleted once every sink took them. A row still
 * there at `due_at` (a crash between the write and the delivery, a learner or broker that failed) is delivered
 * again by the service, with backoff (`attempts`). Small: rows live milliseconds unless delivery fails.
 */
export class ImpressionOutbox1764604800000 implements MigrationInterface {
  name = 'ImpressionOutbox1764604800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE impression_outbox (
        id          bigserial   PRIMARY KEY,
        slate_ids   uuid[]      NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        due_at      timestamptz NOT NULL,
        attempts    integer     NOT NULL DEFAULT 0
      )`);
    await q.query(`CREATE INDEX impression_outbox_due_idx ON impression_outbox (due_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE impression_outbox`);
  }
}
