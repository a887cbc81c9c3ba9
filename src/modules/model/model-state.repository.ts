import { Inject, Injectable, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { PoolClient } from 'pg';
import type { DataSource, EntityManager } from 'typeorm';
import type { PostgresQueryRunner } from 'typeorm/driver/postgres/PostgresQueryRunner';
import { APP_CONFIG, type AppConfig } from '../../config/config';
import type { JoinBookImage, PendingClick, SlateItem, Tombstone } from '../../core/ingest/join-book';
import type { JournalClick } from '../../core/ingest/journal-codec';
import { copyIn, hasCopyFromStdin } from '../../database/copy-in';
import { snapshotModel } from '../../database/model-snapshot';
import { type FactorModel, PAGED_FORMAT_VERSION } from '../../core/model';

export type { PendingClick, SlateItem } from '../../core/ingest/join-book';

/** A row of `slate_joins`, where joins lived before migration 1764259200000 (read once, at an upgrade). */
export interface SlateJoinRow {
  slate_id: string;
  user_id: string;
  items: SlateItem[] | null;
  clicked: string[];
  pending: PendingClick[];
  closes_at: Date;
}

/** Bytes as the driver sends a bytea parameter (a view, no copy). */
const bytea = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** The signature that starts a binary COPY stream. */
const COPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** Bytes a COPY piece of checkpoint pages holds at most (a run of pages: one CopyData message, one socket write). */
const COPY_RUN = 16 << 20;

/** A page's tuple before its bytes: field count (int16), then page (4 + int4), snapshot_id (4 + int8), bytes' length. */
const COPY_TUPLE_HEAD = 2 + 8 + 12 + 4;

interface TombstoneRow {
  slate_id: string;
  user_id: string;
  items: SlateItem[] | null;
  clicked: string[];
  closed_at: Date;
}

function tombstoneOfRow(r: TombstoneRow): Tombstone {
  const closedAt = new Date(r.closed_at).getTime();
  return { userId: r.user_id, items: r.items, clicked: r.clicked, closedAt };
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
  /** Checkpoint pages go by COPY (binary) where the server has it (`hasCopyFromStdin`), else by INSERT: `writePages`. */
  private readonly pagesByCopy: boolean;
  /**
   * The free bytes `writeCheckpoint` wants before each page (`encodeModelPages`'s `gap`): room for the COPY's
   * row header, so that runs of pages are sent straight from the checkpoint's buffer (0: by INSERT, no use).
   */
  readonly pageGap: number;

  constructor(
    @InjectDataSource() readonly dataSource: DataSource,
    @Optional() @Inject(APP_CONFIG) config?: Pick<AppConfig, 'database'>,
  ) {
    this.pagesByCopy = hasCopyFromStdin(config?.database);
    this.pageGap = this.pagesByCopy ? COPY_TUPLE_HEAD : 0;
  }

  transaction<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /**
   * The join rows an older version kept in `slate_joins`, as a join book: read at start when no checkpoint
   * holds a book yet (the upgrade path). The first checkpoint that stores a book empties the table.
   */
  async legacyJoins(): Promise<JoinBookImage | null> {
    const rows: SlateJoinRow[] = await this.dataSource.query(
      `SELECT slate_id, user_id, items, clicked, pending, closes_at FROM slate_joins WHERE NOT closed`,
    );
    if (rows.length === 0) return null;
    const image: JoinBookImage = { open: [], closed: [] };
    // Closed rows moved to slate_tombstones in the migration that introduced the book.
    for (const r of rows) {
      const closesAt = new Date(r.closes_at).getTime();
      image.open.push([
        r.slate_id,
        { userId: r.user_id, items: r.items, clicked: r.clicked, pending: r.pending, closesAt },
      ]);
    }
    return image;
  }

  /** The tombstones of these slates (closed joins within the dedupe horizon). */
  async tombstones(m: EntityManager, slateIds: string[]): Promise<Map<string, Tombstone>> {
    if (slateIds.length === 0) return new Map();
    const rows: {
      slate_id: string;
      user_id: string;
      items: SlateItem[] | null;
      clicked: string[];
      closed_at: Date;
    }[] = await m.query(
      `SELECT slate_id, user_id, items, clicked, closed_at FROM slate_tombstones WHERE slate_id = ANY($1::text[])`,
      [slateIds],
    );
    return new Map(rows.map((r) => [r.slate_id, tombstoneOfRow(r)]));
  }

  /** Tombstones of joins closed since `sinceMs`, oldest first (the join book's recent ones, at start). */
  async recentTombstones(sinceMs: number): Promise<[string, Tombstone][]> {
    const rows: TombstoneRow[] = await this.dataSource.query(
      `SELECT slate_id, user_id, items, clicked, closed_at FROM slate_tombstones
       WHERE closed_at >= to_timestamp($1 / 1000.0) ORDER BY closed_at`,
      [sinceMs],
    );
    return rows.map((r) => [r.slate_id, tombstoneOfRow(r)]);
  }

  /** Record the batch's closed joins (an impression reopened after its clicks' window closed is recorded again). */
  async saveTombstones(m: EntityManager, closed: [string, Tombstone][]): Promise<void> {
    if (closed.length === 0) return;
    await m.query(
      `INSERT INTO slate_tombstones (slate_id, user_id, items, clicked, closed_at)
       SELECT slate_id, user_id, items, clicked, to_timestamp(closed_at / 1000.0)
       FROM json_to_recordset($1::json)
         AS x(slate_id text, user_id text, items jsonb, clicked jsonb, closed_at float8)
       ON CONFLICT (slate_id) DO UPDATE SET user_id = EXCLUDED.user_id, items = EXCLUDED.items,
         clicked = EXCLUDED.clicked, closed_at = EXCLUDED.closed_at`,
      [
        JSON.stringify(
          closed.map(([id, t]) => ({
            slate_id: id,
            user_id: t.userId,
            items: t.items,
            clicked: t.clicked ?? [],
            closed_at: t.closedAt,
          })),
        ),
      ],
    );
  }

  /** The ids among these that the click log already holds (a read: the batch's dedupe check). */
  async knownClicks(m: EntityManager, eventIds: string[]): Promise<Set<string>> {
    if (eventIds.length === 0) return new Set();
    const rows: { event_id: string }[] = await m.query(
      `SELECT event_id FROM clicks WHERE event_id = ANY($1::text[])`,
      [eventIds],
    );
    return new Set(rows.map((r) => r.event_id));
  }

  /**
   * Keep clicks as they came (the log that export, replay and retraining read; written behind the learning
   * path by `ClickArchive`, and at recovery). Idempotent: returns the ids that were not there before.
   */
  async recordClicks(m: EntityManager, clicks: readonly JournalClick[]): Promise<Set<string>> {
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

  /** Log a batch: its learning updates, and its journal (join-book changes and accepted clicks, JSON). */
  async appendLog(
    m: EntityManager,
    events: number,
    payload: Uint8Array,
    journal: Uint8Array,
  ): Promise<number> {
    const rows: { batch_id: string }[] = await m.query(
      `INSERT INTO learning_log (events, payload, journal) VALUES ($1, $2, $3) RETURNING batch_id`,
      [events, bytea(payload), bytea(journal)],
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

  /** The newest checkpoint: its model (whole, or head and pages), and where its open joins are. */
  async latestSnapshot(): Promise<{
    lastBatchId: number;
    model: FactorModel;
    joins: Buffer | null;
    /** The first batch whose journal rebuilds the open joins (null: `joins` holds them, or nothing does). */
    joinsFrom: number | null;
  } | null> {
    const rows: {
      id: string;
      last_batch_id: string;
      format_version: number;
      payload: Buffer;
      joins: Buffer | null;
      joins_from: string | null;
    }[] = await this.dataSource.query(
      `SELECT id::text AS id, last_batch_id, format_version, payload, joins, joins_from
       FROM model_snapshots ORDER BY model_snapshots.id DESC LIMIT 1`,
    );
    if (rows.length === 0) return null;
    const r = rows[0];
    return {
      lastBatchId: Number(r.last_batch_id),
      model: await snapshotModel(this.dataSource, {
        id: r.id,
        formatVersion: r.format_version,
        payload: r.payload,
      }),
      joins: r.joins,
      joinsFrom: r.joins_from === null ? null : Number(r.joins_from),
    };
  }

  /** Logged batches after `afterBatchId`, in order, a page at a time. */
  async *logAfter(
    afterBatchId: number,
    page = 200,
  ): AsyncGenerator<{ batchId: number; payload: Uint8Array | null; journal: Buffer | null }> {
    let after = afterBatchId;
    for (;;) {
      const rows: { batch_id: string; payload: Buffer | null; journal: Buffer | null }[] =
        await this.dataSource.query(
          `SELECT batch_id, payload, journal FROM learning_log WHERE batch_id > $1 ORDER BY batch_id LIMIT $2`,
          [after, page],
        );
      if (rows.length === 0) return;
      for (const r of rows)
        yield {
          batchId: Number(r.batch_id),
          payload: r.payload && new Uint8Array(r.payload),
          journal: r.journal,
        };
      after = Number(rows[rows.length - 1].batch_id);
    }
  }

  /**
   * Store a checkpoint and drop what it makes redundant, in one transaction: older snapshots (two are kept) and
   * the pages only they needed, tombstones older than the horizon, the join rows of an older version, and the
   * log it covers. The model is its head (`model_snapshots.payload`, format 4) and the pages written now: the
   * users' (−1, −2, …) only when a user changed, the item ids' (from −2^30 down) only for items not stored
   * before (the others are older rows of `model_pages`). The
   * open joins are either `joins`, an image, or the journals of the batches
   * from `joinsFrom` on, which stay in the log with their updates dropped (the snapshot holds those).
   *
   * `pagesGap`: the free bytes before each page's bytes in its buffer (`ModelPages.gap`). With at least
   * `pageGap` of them, the COPY writes its row headers there (the buffer must not change until this resolves).
   */
  async writeCheckpoint(
    lastBatchId: number,
    head: Uint8Array,
    pages: readonly { page: number; bytes: Uint8Array }[],
    joins: { image: Uint8Array } | { from: number },
    horizonHours: number,
    pagesGap = 0,
  ): Promise<void> {
    const image = 'image' in joins ? joins.image : null;
    const from = 'from' in joins ? Math.min(joins.from, lastBatchId + 1) : lastBatchId + 1;
    await this.dataSource.transaction(async (m) => {
      const inserted: { id: string }[] = await m.query(
        `INSERT INTO model_snapshots (last_batch_id, format_version, payload, joins, joins_from)
         VALUES ($1, $2, $3, $4, $5) RETURNING id::text AS id`,
        [lastBatchId, PAGED_FORMAT_VERSION, bytea(head), image && bytea(image), image ? null : from],
      );
      await this.writePages(m, inserted[0].id, pages, pagesGap);
      await m.query(`DELETE FROM learning_log WHERE batch_id < $1`, [from]);
      await m.query(`UPDATE learning_log SET payload = NULL WHERE batch_id <= $1 AND payload IS NOT NULL`, [
        lastBatchId,
      ]);
      await m.query(`DELETE FROM slate_joins`);
      await m.query(`DELETE FROM slate_tombstones WHERE closed_at < now() - $1::float8 * interval '1 hour'`, [
        horizonHours,
      ]);
      await m.query(
        `DELETE FROM model_snapshots WHERE id NOT IN (SELECT id FROM model_snapshots ORDER BY id DESC LIMIT 2)`,
      );
      // The rows of the oldest snapshot kept make older rows of the same pages useless (every snapshot becomes
      // the oldest kept once, when the next is written, so each row is dropped once it is superseded for good).
      await m.query(
        `DELETE FROM model_pages p
         WHERE p.snapshot_id < (SELECT min(id) FROM model_snapshots)
           AND p.page IN (SELECT page FROM model_pages WHERE snapshot_id = (SELECT min(id) FROM model_snapshots))`,
      );
    });
  }

  /**
   * The checkpoint's pages, in the checkpoint's transaction. By INSERT (the embedded database), the driver copies
   * every bytes parameter into a message buffer that grows by copying again: about four buffers as large as the
   * data, in fresh memory whose pages fault on first write (≈ 12 µs a page on this VM). By COPY in binary format
   * (an external PostgreSQL), nothing is copied: each page's row header goes into the free bytes the encoder left
   * before it (`pageGap`), and runs of adjacent pages go to the socket as they lie in the checkpoint's buffer, up
   * to `COPY_RUN` bytes a write (a write per page cost ≈ 0.8 s of the serving thread at 10^4 pages; copying the
   * pages into 1 MB chunks ≈ 50 ms, the twelfth session's probe in docs/benchmarks.md). Pages without that room
   * (none of the service's) go as two pieces each, a header and the page. A page is one item's row (`PAGE_ITEMS`
   * is 1), a user page or an item id page.
   */
  private async writePages(
    m: EntityManager,
    snapshotId: string,
    pages: readonly { page: number; bytes: Uint8Array }[],
    gap: number,
  ): Promise<void> {
    if (pages.length === 0) return;
    if (!this.pagesByCopy) {
      // Several pages a statement (≈ 16 MB at most), each bytes parameter sent as binary.
      for (let k = 0; k < pages.length;) {
        const values: string[] = [];
        const params: unknown[] = [snapshotId];
        for (let size = 0; k < pages.length && (values.length === 0 || size < 16 << 20); k++) {
          params.push(pages[k].page, bytea(pages[k].bytes));
          values.push(`($${params.length - 1}, $1, $${params.length})`);
          size += pages[k].bytes.byteLength;
        }
        await m.query(
          `INSERT INTO model_pages (page, snapshot_id, bytes) VALUES ${values.join(', ')}`,
          params,
        );
      }
      return;
    }
    // The transaction's own connection (a COPY on another would not be part of it): connect() returns the one
    // the transaction holds.
    const runner = m.queryRunner as PostgresQueryRunner | undefined;
    if (!runner) throw new Error('writePages: no connection of the transaction to COPY on');
    const client = (await runner.connect()) as PoolClient;
    const snapshot = BigInt(snapshotId);
    // Binary COPY: signature, flags, header extension length; per tuple: 3 fields, each a length and its bytes
    // (page int4, snapshot_id int8, bytes bytea); then −1.
    const start = Buffer.allocUnsafe(COPY_SIGNATURE.length + 8);
    let o = COPY_SIGNATURE.copy(start, 0);
    o = start.writeInt32BE(0, o); // flags
    start.writeInt32BE(0, o); // header extension length
    const pieces: Buffer[] = [start];
    // The run of adjacent pages (with their headers) not yet in `pieces`: [from, to) of `runOf`.
    let runOf: ArrayBufferLike | null = null;
    let from = 0;
    let to = 0;
    const endRun = (): void => {
      if (runOf) pieces.push(Buffer.from(runOf, from, to - from));
      runOf = null;
    };
    for (const p of pages) {
      const bytes = p.bytes;
      const at = bytes.byteOffset - COPY_TUPLE_HEAD;
      const next = bytes.byteOffset + bytes.byteLength;
      if (gap >= COPY_TUPLE_HEAD) {
        writeTupleHead(Buffer.from(bytes.buffer, at, COPY_TUPLE_HEAD), p.page, snapshot, bytes.byteLength);
        if (runOf === bytes.buffer && to === at && next - from <= COPY_RUN) to = next;
        else {
          endRun();
          [runOf, from, to] = [bytes.buffer, at, next];
        }
      } else {
        endRun();
        const head = Buffer.allocUnsafe(COPY_TUPLE_HEAD);
        writeTupleHead(head, p.page, snapshot, bytes.byteLength);
        pieces.push(head, bytea(bytes));
      }
    }
    endRun();
    const end = Buffer.allocUnsafe(2);
    end.writeInt16BE(-1, 0);
    pieces.push(end);
    await copyIn(client, 'COPY model_pages (page, snapshot_id, bytes) FROM STDIN (FORMAT binary)', pieces);
  }
}

/** A page's row header (`COPY_TUPLE_HEAD` bytes at the start of `out`): 3 fields, page, snapshot_id, the bytes' length. */
function writeTupleHead(out: Buffer, page: number, snapshot: bigint, length: number): void {
  let o = out.writeInt16BE(3, 0);
  o = out.writeInt32BE(4, o);
  o = out.writeInt32BE(page, o);
  o = out.writeInt32BE(8, o);
  o = out.writeBigInt64BE(snapshot, o);
  out.writeInt32BE(length, o);
}
