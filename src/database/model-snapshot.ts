import {
  applyModelPage,
  decodeModel,
  decodeModelHead,
  type FactorModel,
  ModelFormatError,
  PAGED_FORMAT_VERSION,
} from '../core/model';

interface Queryable {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
}

/** Pages read per query: ≈ 22 MB of rows at d = 32 with one item a page. */
const PAGES_PER_QUERY = 4096;

/**
 * The model of a `model_snapshots` row: the whole model in `payload` (format 1), or its head there and its
 * pages in `model_pages` (format 2: for every page, the newest row written at or before the snapshot), read a
 * range of pages at a time so that the rows of a large model are never all in memory at once. The payload may be
 * the driver's Buffer as it is: the decoders copy each section out of it.
 */
export async function snapshotModel(
  q: Queryable,
  snapshot: { id: string; formatVersion: number; payload: Uint8Array },
): Promise<FactorModel> {
  if (snapshot.formatVersion !== PAGED_FORMAT_VERSION) return decodeModel(snapshot.payload);
  const reading = decodeModelHead(snapshot.payload);
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
  reading.model.clearChanged();
  return reading.model;
}
