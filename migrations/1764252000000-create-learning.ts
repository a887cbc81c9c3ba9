import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The exactly-once learning path (docs/exactly-once.md). One transaction per batch writes:
 *  - learning_log: the batch's learning updates (item, the user vector used, target, weight), enough to redo
 *    the batch's effect on the additive item statistics bit for bit;
 *  - slate_joins: slates waiting for their clicks until the join window closes (items NULL: a click came
 *    before its impression and waits in `pending` for it); a closed join stays as a tombstone for the dedupe
 *    horizon, so that a late click still finds its slate's positions; slate_id is the key, so the table is
 *    also the impressions' dedupe record;
 *  - clicks: every click learned, as it came (the log that export, replay and retraining read); its event id
 *    is the key, so the table is also the clicks' dedupe record;
 *  - consumer_offsets: the next Kafka offset per partition, stored here rather than in Kafka so it commits
 *    with the model's state.
 * model_snapshots holds periodic checkpoints of the whole model; recovery loads the newest and replays the
 * learning_log batches after it.
 */
export class CreateLearning1764252000000 implements MigrationInterface {
  name = 'CreateLearning1764252000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE learning_log (
        batch_id    bigserial   PRIMARY KEY,
        created_at  timestamptz NOT NULL DEFAULT now(),
        events      integer     NOT NULL,
        payload     bytea       NOT NULL
      )`);
    await q.query(`
      CREATE TABLE slate_joins (
        slate_id    text        PRIMARY KEY,
        user_id     text        NOT NULL,
        items       jsonb       NULL,
        clicked     jsonb       NOT NULL DEFAULT '[]'::jsonb,
        pending     jsonb       NOT NULL DEFAULT '[]'::jsonb,
        closes_at   timestamptz NOT NULL,
        closed      boolean     NOT NULL DEFAULT false
      )`);
    await q.query(`CREATE INDEX slate_joins_open_idx ON slate_joins (closes_at) WHERE NOT closed`);
    await q.query(`CREATE INDEX slate_joins_closed_idx ON slate_joins (closes_at) WHERE closed`);
    await q.query(`
      CREATE TABLE clicks (
        event_id    text        PRIMARY KEY,
        slate_id    text        NULL,
        user_id     text        NOT NULL,
        item_id     text        NOT NULL,
        position    integer     NULL,
        ts          timestamptz NOT NULL,
        learned_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX clicks_slate_idx ON clicks (slate_id) WHERE slate_id IS NOT NULL`);
    await q.query(`CREATE INDEX clicks_ts_idx ON clicks (ts)`);
    await q.query(`
      CREATE TABLE consumer_offsets (
        group_id     text    NOT NULL,
        topic        text    NOT NULL,
        partition    integer NOT NULL,
        next_offset  bigint  NOT NULL,
        PRIMARY KEY (group_id, topic, partition)
      )`);
    await q.query(`
      CREATE TABLE model_snapshots (
        id              bigserial   PRIMARY KEY,
        created_at      timestamptz NOT NULL DEFAULT now(),
        last_batch_id   bigint      NOT NULL,
        format_version  integer     NOT NULL,
        payload         bytea       NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE model_snapshots, consumer_offsets, clicks, slate_joins, learning_log`);
  }
}
