/**
 * A checkpoint's model is stored in parts: PostgreSQL holds at most 1 GB in one value (and the driver sends a
 * parameter in one message, with the same limit), while a model's statistics take 4.5 KB an item at d = 32.
 * `model_snapshots.payload` holds the first part, `model_snapshot_parts` the others, in order.
 */

/** The largest part written (a quarter of PostgreSQL's limit for one value). */
export const SNAPSHOT_PART_BYTES = 256 * 1024 * 1024;

/** Views of `bytes`, `partBytes` at most each (at least one, possibly empty). */
export function splitIntoParts(bytes: Uint8Array, partBytes = SNAPSHOT_PART_BYTES): Uint8Array[] {
  if (!(partBytes >= 1)) throw new RangeError(`partBytes must be at least 1, got ${partBytes}`);
  const parts: Uint8Array[] = [];
  for (let at = 0; at < bytes.byteLength || parts.length === 0; at += partBytes)
    parts.push(bytes.subarray(at, Math.min(bytes.byteLength, at + partBytes)));
  return parts;
}

interface Queryable {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
}

/** A snapshot's whole model: its first part (`payload`) followed by its other parts, if any. */
export async function snapshotPayload(q: Queryable, snapshotId: string, first: Buffer): Promise<Uint8Array> {
  const table = (await q.query(`SELECT to_regclass('model_snapshot_parts') IS NOT NULL AS present`)) as {
    present: boolean;
  }[];
  const rest = table[0]?.present
    ? ((await q.query(`SELECT bytes FROM model_snapshot_parts WHERE snapshot_id = $1 ORDER BY part`, [
        snapshotId,
      ])) as { bytes: Buffer }[])
    : [];
  if (rest.length === 0) return new Uint8Array(first.buffer, first.byteOffset, first.byteLength);
  let total = first.byteLength;
  for (const r of rest) total += r.bytes.byteLength;
  const out = new Uint8Array(total);
  out.set(first, 0);
  let at = first.byteLength;
  for (const r of rest) {
    out.set(r.bytes, at);
    at += r.bytes.byteLength;
  }
  return out;
}
