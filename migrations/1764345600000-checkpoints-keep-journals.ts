import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Checkpoints stop writing the open joins (docs/exactly-once.md, "Checkpoints"). A join book of rate × window
 * open slates was written whole at every checkpoint: ≈ 280 bytes an open slate, so 2,000 slates a second
 * and a 30-minute window made a 1 GB image a minute (PostgreSQL's limit for one bytea). The learning log
 * already holds every join's state in its journals, so a checkpoint now keeps the journals the open joins
 * need instead:
 *  - model_snapshots.joins_from: recovery replays the journals of the batches from this one up to
 *    last_batch_id into an empty book (their updates are in the snapshot), then the log after it as before;
 *    NULL: the snapshot's `joins` image holds the book (an image is still written when the journals that
 *    would rebuild it are gone, after an upgrade);
 *  - learning_log.payload is NULL for a batch that a checkpoint covers but whose journal is kept.
 */
export class CheckpointsKeepJournals1764345600000 implements MigrationInterface {
  name = 'CheckpointsKeepJournals1764345600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE model_snapshots ADD COLUMN joins_from bigint NULL`);
    await q.query(`ALTER TABLE learning_log ALTER COLUMN payload DROP NOT NULL`);
  }

  /**
   * Back to images. The older version cannot rebuild a book from journals: the open joins of a snapshot that
   * has no image are lost to it (their slates are learned as if never clicked: no negatives).
   */
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM learning_log WHERE payload IS NULL`);
    await q.query(`ALTER TABLE learning_log ALTER COLUMN payload SET NOT NULL`);
    await q.query(`ALTER TABLE model_snapshots DROP COLUMN joins_from`);
  }
}
