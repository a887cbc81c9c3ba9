import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A checkpoint's model in pages (`src/core/model/paged.ts`): `model_snapshots.payload` holds the head
 * (format_version 2) and `model_pages` the pages of items (`PAGE_ITEMS`: one item a page), each row written by
 * the checkpoint that found one of its items changed. A snapshot's model is its head and, for every page, the
 * newest row written at or before it. Written whole, the model was 4.5 KB an item at d = 32 at every checkpoint: 532 MB at 10^5 items,
 * and past PostgreSQL's 1 GB for one value above ≈ 1.9·10^5 (the checkpoint failed, and the log was never
 * truncated). Stored uncompressed, like the other binary columns (floats, which pglz barely shrinks).
 */
export class ModelPages1764432000000 implements MigrationInterface {
  name = 'ModelPages1764432000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE model_pages (
        page         integer NOT NULL,
        snapshot_id  bigint  NOT NULL,
        bytes        bytea   NOT NULL,
        PRIMARY KEY (page, snapshot_id)
      )`);
    await q.query(`ALTER TABLE model_pages ALTER COLUMN bytes SET STORAGE EXTERNAL`);
  }

  /** Back to whole models: the older version cannot read a paged snapshot (formats 2 and later), so those go. */
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM model_snapshots WHERE format_version >= 2`);
    await q.query(`DROP TABLE model_pages`);
  }
}
