import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The join state moves from rows (`slate_joins`, written three times per slate) into the learner's memory,
 * made durable like the model itself, and the click log is written behind (docs/exactly-once.md):
 *  - learning_log.journal: what the batch changed in the join book (`JoinDelta`) and the clicks it accepted,
 *    as JSON, in the batch's transaction; a batch that only opened or closed joins has a row with no updates;
 *    the clicks reach the `clicks` table after the commit (and again at recovery, idempotently);
 *  - model_snapshots.joins: the whole book at the checkpoint (JSON of `JoinBookImage`).
 * `slate_joins` stays, read once at start when no checkpoint holds a book yet (an upgrade), and emptied by
 * the first checkpoint that does.
 * The binary columns are stored uncompressed (STORAGE EXTERNAL): they are mostly floats, which pglz barely
 * shrinks, and trying costs a checkpoint of 10^4 items several seconds of the database's CPU.
 */
export class JoinsInLearningLog1764259200000 implements MigrationInterface {
  name = 'JoinsInLearningLog1764259200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE learning_log ADD COLUMN journal bytea NULL`);
    await q.query(`ALTER TABLE model_snapshots ADD COLUMN joins bytea NULL`);
    for (const [table, column] of [
      ['learning_log', 'payload'],
      ['learning_log', 'journal'],
      ['model_snapshots', 'payload'],
      ['model_snapshots', 'joins'],
    ])
      await q.query(`ALTER TABLE ${table} ALTER COLUMN ${column} SET STORAGE EXTERNAL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE learning_log ALTER COLUMN payload SET STORAGE EXTENDED`);
    await q.query(`ALTER TABLE model_snapshots ALTER COLUMN payload SET STORAGE EXTENDED`);
    await q.query(`ALTER TABLE model_snapshots DROP COLUMN joins`);
    await q.query(`ALTER TABLE learning_log DROP COLUMN journal`);
  }
}
