import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { ItemEntity } from './item.entity';
import type { Item, ItemInput } from './item';

/** Persistence port for the catalogue (an abstract class doubles as the DI token). */
export abstract class ItemsRepository {
  abstract upsert(item: ItemInput): Promise<{ item: Item; created: boolean }>;
  /** Upsert distinct ids; rows whose content is unchanged are left alone (and counted as neither). */
  abstract upsertMany(items: ItemInput[]): Promise<{ created: number; updated: number }>;
  abstract findById(id: string): Promise<Item | null>;
  abstract deactivate(id: string): Promise<Item | null>;
  abstract count(): Promise<{ total: number; active: number }>;
  /** Every item's id, group and active flag, in pages (what the model needs), oldest first. */
  abstract listForModel(pageSize?: number): AsyncGenerator<CatalogueEntry[]>;
}

export interface CatalogueEntry {
  id: string;
  group: string | null;
  active: boolean;
}

function toItem(e: ItemEntity): Item {
  return {
    id: e.id,
    group: e.group,
    attributes: e.attributes,
    active: e.active,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  };
}

interface ItemRow {
  id: string;
  item_group: string | null;
  attributes: Record<string, unknown>;
  active: boolean;
  created_at: Date;
  updated_at: Date;
  inserted: boolean;
}

const rowToItem = (r: ItemRow): Item => ({
  id: r.id,
  group: r.item_group,
  attributes: r.attributes,
  active: r.active,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

@Injectable()
export class TypeOrmItemsRepository extends ItemsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    super();
  }

  async upsert(item: ItemInput): Promise<{ item: Item; created: boolean }> {
    // One statement; `xmax = 0` tells an insert from an update of an existing row.
    const rows: ItemRow[] = await this.dataSource.query(
      `INSERT INTO items (id, item_group, attributes, active)
       VALUES ($1, $2, $3::jsonb, $4)
       ON CONFLICT (id) DO UPDATE
         SET item_group = EXCLUDED.item_group, attributes = EXCLUDED.attributes,
             active = EXCLUDED.active, updated_at = now()
       RETURNING id, item_group, attributes, active, created_at, updated_at, (xmax = 0) AS inserted`,
      [item.id, item.group, JSON.stringify(item.attributes), item.active],
    );
    return { item: rowToItem(rows[0]), created: rows[0].inserted };
  }

  async upsertMany(items: ItemInput[]): Promise<{ created: number; updated: number }> {
    let created = 0;
    let updated = 0;
    // Batches of 500 rows per statement; the whole import is one transaction.
    await this.dataSource.transaction(async (m) => {
      for (let start = 0; start < items.length; start += 500) {
        const batch = items.slice(start, start + 500);
        const rows: { inserted: boolean }[] = await m.query(
          `INSERT INTO items (id, item_group, attributes, active)
           SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::boolean[])
           ON CONFLICT (id) DO UPDATE
             SET item_group = EXCLUDED.item_group, attributes = EXCLUDED.attributes,
                 active = EXCLUDED.active, updated_at = now()
           WHERE (items.item_group, items.attributes, items.active)
                 IS DISTINCT FROM (EXCLUDED.item_group, EXCLUDED.attributes, EXCLUDED.active)
           RETURNING (xmax = 0) AS inserted`,
          [
            batch.map((i) => i.id),
            batch.map((i) => i.group),
            batch.map((i) => JSON.stringify(i.attributes)),
            batch.map((i) => i.active),
          ],
        );
        for (const r of rows) {
          if (r.inserted) created++;
          else updated++;
        }
      }
    });
    return { created, updated };
  }

  async findById(id: string): Promise<Item | null> {
    const e = await this.dataSource.getRepository(ItemEntity).findOneBy({ id });
    return e ? toItem(e) : null;
  }

  async deactivate(id: string): Promise<Item | null> {
    // TypeORM's postgres driver answers an UPDATE with [rows, affectedCount].
    const [rows]: [ItemRow[], number] = await this.dataSource.query(
      `UPDATE items SET active = false, updated_at = now() WHERE id = $1
       RETURNING id, item_group, attributes, active, created_at, updated_at, false AS inserted`,
      [id],
    );
    return rows.length ? rowToItem(rows[0]) : null;
  }

  async *listForModel(pageSize = 10_000): AsyncGenerator<CatalogueEntry[]> {
    // Keyset pagination on the primary key: constant cost per page, whatever the catalogue size.
    let after = '';
    for (;;) {
      const rows: { id: string; item_group: string | null; active: boolean }[] = await this.dataSource.query(
        `SELECT id, item_group, active FROM items WHERE id > $1 ORDER BY id LIMIT $2`,
        [after, pageSize],
      );
      if (rows.length === 0) return;
      yield rows.map((r) => ({ id: r.id, group: r.item_group, active: r.active }));
      after = rows[rows.length - 1].id;
    }
  }

  async count(): Promise<{ total: number; active: number }> {
    const rows: { total: string; active: string }[] = await this.dataSource.query(
      `SELECT count(*) AS total, count(*) FILTER (WHERE active) AS active FROM items`,
    );
    return { total: Number(rows[0].total), active: Number(rows[0].active) };
  }
}
