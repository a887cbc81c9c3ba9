import { decodeModel, decodeModelPages, type FactorModel, PAGED_FORMAT_VERSION } from '../core/model';

interface Queryable {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
}

/**
 * The model of a `model_snapshots` row: the whole model in `payload` (format 1), or its head there and its
 * pages in `model_pages` (format 2: for every page, the newest row written at or before the snapshot).
 */
export async function snapshotModel(
  q: Queryable,
  snapshot: { id: string; formatVersion: number; payload: Uint8Array },
): Promise<FactorModel> {
  if (snapshot.formatVersion !== PAGED_FORMAT_VERSION) return decodeModel(snapshot.payload);
  const rows = (await q.query(
    `SELECT DISTINCT ON (page) page, bytes FROM model_pages WHERE snapshot_id <= $1 ORDER BY page, snapshot_id DESC`,
    [snapshot.id],
  )) as { page: number; bytes: Buffer }[];
  const pages = new Map(
    rows.map((r) => [r.page, new Uint8Array(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength)]),
  );
  return decodeModelPages(snapshot.payload, (p) => pages.get(p));
}
