import {
  applyItemIdPage,
  applyModelPage,
  applyUserPage,
  decodeModel,
  decodeModelHead,
  type FactorModel,
  finishReading,
  isPagedFormat,
  itemIdPageNumber,
  itemIdPageOf,
  ModelFormatError,
  userPageNumber,
  userPageOf,
} from '../core/model';

interface Queryable {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
}

/** Pages read per query: ≈ 22 MB of rows at d = 32 with one item a page. */
const PAGES_PER_QUERY = 4096;
/** User pages read per query: ≈ 64 MB at d = 32 (`PAGE_USERS` users a page). */
const USER_PAGES_PER_QUERY = 4;
/** Item id pages read per query: ≈ 16 MB for ids of 10–15 characters (`PAGE_ITEM_IDS` ids a page). */
const ITEM_ID_PAGES_PER_QUERY = 16;

/**
 * The model of a `model_snapshots` row: the whole model in `payload` (format 1), or its head there and its
 * pages in `model_pages` (formats 2 to 4: for every page, the newest row written at or before the snapshot;
 * format 3's and 4's users are in pages too, numbered −1, −2, …, and format 4's item ids, numbered down from
 * −2^30), read a range of pages at a time so that the rows of a large model are never all in memory at once.
 * The payload may be the driver's Buffer as it is: the decoders copy each section out of it.
 */
export async function snapshotModel(
  q: Queryable,
  snapshot: { id: string; formatVersion: number; payload: Uint8Array },
): Promise<FactorModel> {
  if (!isPagedFormat(snapshot.formatVersion)) return decodeModel(snapshot.payload);
  const reading = decodeModelHead(snapshot.payload);
  // The item id pages first (they add the items the item pages fill), then the user pages (they add the users).
  await readListPages(q, snapshot.id, reading.numItemIdPages, ITEM_ID_PAGES_PER_QUERY, itemIdPageNumber, {
    apply: (page, bytes) => applyItemIdPage(reading, itemIdPageOf(page), bytes),
    next: () => reading.nextItemIdPage,
    what: 'item id pages',
  });
  await readListPages(q, snapshot.id, reading.numUserPages, USER_PAGES_PER_QUERY, userPageNumber, {
    apply: (page, bytes) => applyUserPage(reading, userPageOf(page), bytes),
    next: () => reading.nextUserPage,
    what: 'user pages',
  });
  let seen = 0;
  for (let from = 0; from < reading.numPages; from += PAGES_PER_QUERY) {
    const rows = (await q.query(
      `SELECT DISTINCT ON (page) page, bytes FROM model_pages
       WHERE snapshot_id <= $1 AND page >= $2 AND page < $3 ORDER BY page, snapshot_id DESC`,
      [snapshot.id, from, Math.min(reading.numPages, from + PAGES_PER_QUERY)],
    )) as { page: number; bytes: Buffer }[];
    for (const r of rows) applyModelPage(reading, r.page, r.bytes);
    seen += rows.length;
  }
  if (seen !== reading.numPages)
    throw new ModelFormatError(
      `model snapshot ${snapshot.id} has ${seen} of its ${reading.numPages} pages in model_pages`,
    );
  finishReading(reading);
  return reading.model;
}

/**
 * The pages c = 0 … count − 1 of a list numbered downwards (`number(c)`: item ids from −2^30, users from −1), the
 * newest row of each at or before the snapshot, `perQuery` a query, handed to `apply` in order (c ascending).
 */
async function readListPages(
  q: Queryable,
  snapshotId: string,
  count: number,
  perQuery: number,
  number: (c: number) => number,
  list: { apply: (page: number, bytes: Buffer) => void; next: () => number; what: string },
): Promise<void> {
  for (let from = 0; from < count; from += perQuery) {
    const to = Math.min(count, from + perQuery);
    const rows = (await q.query(
      `SELECT DISTINCT ON (page) page, bytes FROM model_pages
       WHERE snapshot_id <= $1 AND page <= $2 AND page > $3 ORDER BY page DESC, snapshot_id DESC`,
      [snapshotId, number(from), number(to)],
    )) as { page: number; bytes: Buffer }[];
    for (const r of rows) list.apply(r.page, r.bytes);
    if (list.next() !== to)
      throw new ModelFormatError(
        `model snapshot ${snapshotId} has ${list.next()} of its ${count} ${list.what} in model_pages`,
      );
  }
}
