import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The join state moves from rows (`slate_joins`, written three times per slate) into the learner's memory,
 * made durable like the model itself, and the click log is written behind (docs/exactly-once.md):
 *  - learning_log.journal: what the batch changed in the join book (`JoinDelta`) and the clicks it accepted,
 *    as JSON, in the batch's transaction; a batch that only opened or closed joins has a row with no updates;
 *    the clicks reach the `clicks` table after the commit (and again at recovery, idempotently);
 *  - model_snapshots.joins: the open joins at the checkpoint (binary `JoinBookImage`);
 *  - slate_tombstones: a row per closed slate, written by the batch that closes it, kept for the dedupe horizon
 *    (the impressions' dedupe record, and where a late click finds its slate's positions). The memory holds
 *    only open joins (about rate × window), whatever the horizon.
 * `slate_joins`'s closed rows move to `slate_tombstones` here; its open rows are read once at start when no
 * checkpoint holds a book yet (an upgrade), and the first checkpoint that does empties it.
 * The binary columns are stored uncompressed (STORAGE EXTERNAL): they are mostly floats, which pglz barely
 * shrinks, and trying costs a checkpoint of 10^4 items several seconds of the database's CPU.
 */
export class JoinsInLearningLog1764259200000 implements MigrationInterface {
  name = 'JoinsInLearningLog1764259200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE learning_log ADD COLUMN journal bytea NULL`);
    await q.query(`ALTER TABLE model_snapshots ADD COLUMN joins bytea NULL`);
    await q.query(`
      CREATE TABLE slate_tombstones (
        slate_id   text        PRIMARY KEY,
        user_id    text        NOT NULL,
        items      jsonb       NULL,
        clicked    jsonb       NOT NULL DEFAULT '[]'::jsonb,
        closed_at  timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX slate_tombstones_closed_at_idx ON slate_tombstones (closed_at)`);
    // A closed row with no items held the clicks that waited for it in `pending`: their items are `clicked`.
    await q.query(`
      INSERT INTO slate_tombstones (slate_id, user_id, items, clicked, closed_at)
      SELECT slate_id, user_id, items,
             CASE WHEN items IS NULL
                  THEN (SELECT coalesce(jsonb_agg(p -> 'itemId'), '[]'::jsonb) FROM jsonb_array_elements(pending) p)
                  ELSE clicked END,
             closes_at
      FROM slate_joins WHERE closed`);
    await q.query(`DELETE FROM slate_joins WHERE closed`);
    for (const [table, column] of [
      ['learning_log', 'payload'],
      ['learning_log', 'journal'],
      ['model_snapshots', 'payload'],
      ['model_snapshots', 'joins'],
    ])
      await q.query(`ALTER TABLE ${table} ALTER COLUMN ${column} SET STORAGE EXTERNAL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE slate_tombstones`);
    await q.query(`ALTER TABLE learning_log ALTER COLUMN payload SET STORAGE EXTENDED`);
    await q.query(`ALTER TABLE model_snapshots ALTER COLUMN payload SET STORAGE EXTENDED`);
    await q.query(`ALTER TABLE model_snapshots DROP COLUMN joins`);
    await q.query(`ALTER TABLE learning_log DROP COLUMN journal`);
  }
}
