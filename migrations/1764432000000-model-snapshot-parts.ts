import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A checkpoint's model in parts. PostgreSQL holds at most 1 GB in one value, and a model's statistics are 561
 * doubles an item at d = 32 (4.5 KB): a catalogue above ≈ 190k items could not be checkpointed at all (the
 * log was then never truncated). `model_snapshots.payload` keeps the first part; the others are rows here, in
 * order. Stored uncompressed, like the payload (floats, which pglz barely shrinks).
 */
export class ModelSnapshotParts1764432000000 implements MigrationInterface {
  name = 'ModelSnapshotParts1764432000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE model_snapshot_parts (
        snapshot_id  bigint  NOT NULL REFERENCES model_snapshots (id) ON DELETE CASCADE,
        part         integer NOT NULL,
        bytes        bytea   NOT NULL,
        PRIMARY KEY (snapshot_id, part)
      )`);
    await q.query(`ALTER TABLE model_snapshot_parts ALTER COLUMN bytes SET STORAGE EXTERNAL`);
  }

  /** Back to one value: the snapshots in parts cannot be read by the older version, so they go. */
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM model_snapshots WHERE id IN (SELECT snapshot_id FROM model_snapshot_parts)`);
    await q.query(`DROP TABLE model_snapshot_parts`);
  }
}
