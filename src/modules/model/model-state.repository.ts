import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';

export interface SlateItem {
  itemId: string;
  position: number;
  propensity: number;
}

export interface PendingClick {
  userId: string;
  itemId: string;
}

export interface SlateJoinRow {
  slate_id: string;
  user_id: string;
  /** null while only clicks (no impression) have arrived. */
  items: SlateItem[] | null;
  clicked: string[];
  pending: PendingClick[];
  /** The window has closed (negatives learned); kept so that late clicks find their positions. */
  closed?: boolean;
}

export interface OffsetCommit {
  groupId: string;
  topic: string;
  partition: number;
  nextOffset: string;
}

/** SQL of the model state and the exactly-once learning path. Every method that takes an EntityManager runs inside the batch's transaction. */
@Injectable()
export class ModelStateRepository {
  constructor(@InjectDataSource() readonly dataSource: DataSource) {}

  transaction<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /** Join rows of these slates, locked for this batch. */
  async lockJoins(m: EntityManager, slateIds: string[]): Promise<Map<string, SlateJoinRow>> {
    if (slateIds.length === 0) return new Map();
    const rows: SlateJoinRow[] = await m.query(
      `SELECT slate_id, user_id, items, clicked, pending, closed FROM slate_joins
       WHERE slate_id = ANY($1::text[]) FOR UPDATE`,
      [slateIds],
    );
    return new Map(rows.map((r) => [r.slate_id, r]));
  }

  /**
   * Save join rows (the batch holds the locks of those that existed). New rows take a plain INSERT: no
   * `ON CONFLICT`, whose speculative insertion costs about half as much again per row; a row another writer
   * inserted meanwhile fails the batch, which is retried and then finds it. Rows travel as one JSON document
   * unpacked by `jsonb_to_recordset`: for thousands of rows that is several times faster than arrays of jsonb,
   * whose text form the driver must escape element by element.
   */
  async saveJoins(
    m: EntityManager,
    rows: (SlateJoinRow & { closesAt: number; existed: boolean })[],
  ): Promise<void> {
    const doc = (rs: typeof rows) =>
      JSON.stringify(
        rs.map((r) => ({
          slate_id: r.slate_id,
          user_id: r.user_id,
          items: r.items,
          clicked: r.clicked,
          pending: r.pending,
          closes_at: r.closesAt,
        })),
      );
    const fresh = rows.filter((r) => !r.existed);
    const existing = rows.filter((r) => r.existed);
    if (fresh.length) {
      await m.query(
        `INSERT INTO slate_joins (slate_id, user_id, items, clicked, pending, closes_at)
         SELECT slate_id, user_id, items, clicked, pending, to_timestamp(closes_at / 1000.0)
         FROM jsonb_to_recordset($1::jsonb)
           AS x(slate_id text, user_id text, items jsonb, clicked jsonb, pending jsonb, closes_at float8)`,
        [doc(fresh)],
      );
    }
    if (existing.length) {
      await m.query(
        `UPDATE slate_joins j SET user_id = u.user_id, items = u.items, clicked = u.clicked,
           pending = u.pending, closes_at = to_timestamp(u.closes_at / 1000.0)
         FROM jsonb_to_recordset($1::jsonb)
           AS u(slate_id text, user_id text, items jsonb, clicked jsonb, pending jsonb, closes_at float8)
         WHERE j.slate_id = u.slate_id`,
        [doc(existing)],
      );
    }
  }

  /** Update the clicks of existing join rows (their deadline unchanged). */
  async updateJoinClicks(m: EntityManager, rows: SlateJoinRow[]): Promise<void> {
    if (rows.length === 0) return;
    await m.query(
      `UPDATE slate_joins j SET clicked = u.clicked, pending = u.pending
       FROM jsonb_to_recordset($1::jsonb) AS u(slate_id text, clicked jsonb, pending jsonb)
       WHERE j.slate_id = u.slate_id`,
      [JSON.stringify(rows.map((r) => ({ slate_id: r.slate_id, clicked: r.clicked, pending: r.pending })))],
    );
  }

  /** Close up to `limit` joins whose window has passed, returning them: exactly once, by the closed flag. */
  async closeDueJoins(m: EntityManager, now: number, limit = 5000): Promise<SlateJoinRow[]> {
    // TypeORM's postgres driver answers an UPDATE ... RETURNING with [rows, affectedCount].
    const [rows]: [SlateJoinRow[], number] = await m.query(
      `UPDATE slate_joins SET closed = true WHERE slate_id IN (
         SELECT slate_id FROM slate_joins WHERE NOT closed AND closes_at <= $1 ORDER BY closes_at LIMIT $2
         FOR UPDATE SKIP LOCKED)
       RETURNING slate_id, user_id, items, clicked, pending`,
      [new Date(now).toISOString(), limit],
    );
    return rows;
  }

  /**
   * Keep every click as it came (the log that export, replay and retraining read). Its event id is the key,
   * so this insert is also the dedupe decision: it returns the ids that were not there before.
   */
  async recordClicks(
    m: EntityManager,
    clicks: {
      eventId: string;
      slateId?: string;
      userId: string;
      itemId: string;
      position?: number;
      ts: number;
    }[],
  ): Promise<Set<string>> {
    if (clicks.length === 0) return new Set();
    const rows: { event_id: string }[] = await m.query(
      `INSERT INTO clicks (event_id, slate_id, user_id, item_id, position, ts)
       SELECT event_id, slate_id, user_id, item_id, position, to_timestamp(ts / 1000.0)
       FROM jsonb_to_recordset($1::jsonb)
         AS x(event_id text, slate_id text, user_id text, item_id text, position int, ts float8)
       ON CONFLICT (event_id) DO NOTHING
       RETURNING event_id`,
      [
        JSON.stringify(
          clicks.map((c) => ({
            event_id: c.eventId,
            slate_id: c.slateId ?? null,
            user_id: c.userId,
            item_id: c.itemId,
            position: c.position ?? null,
            ts: c.ts,
          })),
        ),
      ],
    );
    return new Set(rows.map((r) => r.event_id));
  }

  async appendLog(m: EntityManager, events: number, payload: Uint8Array): Promise<number> {
    const rows: { batch_id: string }[] = await m.query(
      `INSERT INTO learning_log (events, payload) VALUES ($1, $2) RETURNING batch_id`,
      [events, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)],
    );
    return Number(rows[0].batch_id);
  }

  /** Upsert the next offsets (one statement for all partitions); GREATEST: a replayed batch never moves one back. */
  async commitOffsets(m: EntityManager, offsets: readonly OffsetCommit[]): Promise<void> {
    if (offsets.length === 0) return;
    // One row per partition (an upsert may not touch a row twice), the furthest offset of each.
    const byKey = new Map<string, OffsetCommit>();
    for (const o of offsets) {
      const key = JSON.stringify([o.groupId, o.topic, o.partition]);
      const prev = byKey.get(key);
      if (!prev || BigInt(o.nextOffset) > BigInt(prev.nextOffset)) byKey.set(key, o);
    }
    const rows = [...byKey.values()];
    await m.query(
      `INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[])
       ON CONFLICT (group_id, topic, partition)
       DO UPDATE SET next_offset = GREATEST(consumer_offsets.next_offset, EXCLUDED.next_offset)`,
      [
        rows.map((o) => o.groupId),
        rows.map((o) => o.topic),
        rows.map((o) => o.partition),
        rows.map((o) => o.nextOffset),
      ],
    );
  }

  async readOffsets(groupId: string, topic: string): Promise<Map<number, string>> {
    const rows: { partition: number; next_offset: string }[] = await this.dataSource.query(
      `SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2`,
      [groupId, topic],
    );
    return new Map(rows.map((r) => [r.partition, String(r.next_offset)]));
  }

  async latestSnapshot(): Promise<{ lastBatchId: number; payload: Uint8Array } | null> {
    const rows: { last_batch_id: string; payload: Buffer }[] = await this.dataSource.query(
      `SELECT last_batch_id, payload FROM model_snapshots ORDER BY id DESC LIMIT 1`,
    );
    if (rows.length === 0) return null;
    return { lastBatchId: Number(rows[0].last_batch_id), payload: new Uint8Array(rows[0].payload) };
  }

  /** Logged batches after `afterBatchId`, in order, a page at a time. */
  async *logAfter(
    afterBatchId: number,
    page = 200,
  ): AsyncGenerator<{ batchId: number; payload: Uint8Array }> {
    let after = afterBatchId;
    for (;;) {
      const rows: { batch_id: string; payload: Buffer }[] = await this.dataSource.query(
        `SELECT batch_id, payload FROM learning_log WHERE batch_id > $1 ORDER BY batch_id LIMIT $2`,
        [after, page],
      );
      if (rows.length === 0) return;
      for (const r of rows) yield { batchId: Number(r.batch_id), payload: new Uint8Array(r.payload) };
      after = Number(rows[rows.length - 1].batch_id);
    }
  }

  /** Store a checkpoint and drop what it makes redundant, in one transaction. */
  async writeCheckpoint(
    lastBatchId: number,
    formatVersion: number,
    payload: Uint8Array,
    horizonHours: number,
  ): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      await m.query(
        `INSERT INTO model_snapshots (last_batch_id, format_version, payload) VALUES ($1, $2, $3)`,
        [lastBatchId, formatVersion, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)],
      );
      await m.query(`DELETE FROM learning_log WHERE batch_id <= $1`, [lastBatchId]);
      await m.query(
        `DELETE FROM slate_joins WHERE closed AND closes_at < now() - $1::float8 * interval '1 hour'`,
        [horizonHours],
      );
      await m.query(
        `DELETE FROM model_snapshots WHERE id NOT IN (SELECT id FROM model_snapshots ORDER BY id DESC LIMIT 2)`,
      );
    });
  }
}
