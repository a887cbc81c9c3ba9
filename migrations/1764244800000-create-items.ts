import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateItems1764244800000 implements MigrationInterface {
  name = 'CreateItems1764244800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE items (
        id          text        PRIMARY KEY,
        item_group  text        NULL,
        attributes  jsonb       NOT NULL DEFAULT '{}'::jsonb,
        active      boolean     NOT NULL DEFAULT true,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX items_group_idx ON items (item_group) WHERE item_group IS NOT NULL`);
    await q.query(`CREATE INDEX items_updated_at_idx ON items (updated_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE items`);
  }
}
