import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An index on `clicks.learned_at`, for `LOG_RETENTION_DAYS`: a click row is also the dedupe record of its event id,
 * so it may go only once it was learned more than the dedupe horizon ago, whatever its event time (a backfill
 * learns clicks of months ago today). Deleting by `learned_at` through this index reads only the rows that go;
 * by `ts` it would read every old click learned recently again at every pass.
 */
export class ClicksLearnedAt1764518400000 implements MigrationInterface {
  name = 'ClicksLearnedAt1764518400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX clicks_learned_at_idx ON clicks (learned_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX clicks_learned_at_idx`);
  }
}
