import { Injectable } from '@nestjs/common';
import type { z } from 'zod';
import { zodIssues, type InputIssue } from '../../common/validation/zod-issues';
import { ImportItemSchema, type ImportResultSchema, type PutItemSchema } from './dto/item.schema';
import type { Item, ItemInput } from './item';
import { ItemsRepository } from './items.repository';

/** Told of every catalogue change after it is stored (the model adds new items, hides inactive ones). */
export type CatalogueListener = (changed: readonly ItemInput[]) => void;

@Injectable()
export class ItemsService {
  private readonly listeners: CatalogueListener[] = [];

  constructor(private readonly items: ItemsRepository) {}

  onChange(listener: CatalogueListener): void {
    this.listeners.push(listener);
  }

  private notify(changed: readonly ItemInput[]): void {
    if (changed.length) for (const l of this.listeners) l(changed);
  }

  async put(id: string, body: z.infer<typeof PutItemSchema>): Promise<{ item: Item; created: boolean }> {
    const r = await this.items.upsert({ id, ...body });
    this.notify([r.item]);
    return r;
  }

  get(id: string): Promise<Item | null> {
    return this.items.findById(id);
  }

  async deactivate(id: string): Promise<Item | null> {
    const item = await this.items.deactivate(id);
    if (item) this.notify([item]);
    return item;
  }

  /**
   * Import NDJSON: each non-empty line one item. Bad lines are reported by line number and skipped;
   * good lines are upserted (idempotent: importing the same file twice changes nothing the second time).
   * A later line with the same id wins, as if the lines were PUT in order.
   */
  async importNdjson(text: string): Promise<z.infer<typeof ImportResultSchema>> {
    const rejected: { line: number; issues: InputIssue[] }[] = [];
    const byId = new Map<string, ItemInput>();
    let lines = 0;
    const all = text.split('\n');
    for (let n = 0; n < all.length; n++) {
      const raw = all[n].trim();
      if (raw === '') continue;
      lines++;
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch (e) {
        rejected.push({
          line: n + 1,
          issues: [{ path: '(root)', message: `not valid JSON: ${(e as Error).message}` }],
        });
        continue;
      }
      const parsed = ImportItemSchema.safeParse(value);
      if (!parsed.success) {
        rejected.push({ line: n + 1, issues: zodIssues(parsed.error) });
        continue;
      }
      byId.delete(parsed.data.id); // keep insertion order of the last occurrence
      byId.set(parsed.data.id, parsed.data);
    }
    const valid = [...byId.values()];
    const { created, updated } = valid.length
      ? await this.items.upsertMany(valid)
      : { created: 0, updated: 0 };
    this.notify(valid);
    return {
      lines,
      imported: valid.length,
      created,
      updated,
      unchanged: valid.length - created - updated,
      duplicates: lines - rejected.length - valid.length,
      rejected,
    };
  }
}
