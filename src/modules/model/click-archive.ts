import type { Tombstone } from '../../core/ingest/join-book';
import type { JournalClick } from '../../core/ingest/journal-codec';
import type { ModelStateRepository } from './model-state.repository';
import { WriteBehind } from './write-behind';

/**
 * The `clicks` table (the click log that export, replay and retraining read, and the dedupe record of every click
 * it holds), written behind the learning path (`WriteBehind`): deduplication checks the table and `has`.
 * Recovery re-archives the clicks of the replayed journals (`INSERT ... ON CONFLICT DO NOTHING`).
 */
export class ClickArchive extends WriteBehind<JournalClick> {
  constructor(state: ModelStateRepository) {
    super(
      ClickArchive.name,
      (c) => c.eventId,
      (chunk) => state.recordClicks(state.dataSource.manager, chunk),
    );
  }
}

/**
 * `slate_tombstones` (closed slates, kept for the dedupe horizon), written behind the learning path
 * (`WriteBehind`). A batch reads that table only for slates the join book does not hold (older than its memory,
 * or dropped for room: RECENT_TOMBSTONES_MAX), and then also takes the queued row (`latest`), which is newer. A
 * slate can close twice (an impression after its clicks' window closed reopens it): rows are written in order
 * and, within a chunk, the later one wins, so the table ends with the latest. Recovery writes again the
 * tombstones of the replayed journals' closes, in order (upserts).
 */
export class TombstoneArchive extends WriteBehind<[string, Tombstone]> {
  constructor(state: ModelStateRepository) {
    super(
      TombstoneArchive.name,
      ([id]) => id,
      (chunk) => state.saveTombstones(state.dataSource.manager, [...new Map(chunk)]),
    );
  }
}
