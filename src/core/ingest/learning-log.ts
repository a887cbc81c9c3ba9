/**
 * One batch of learning updates, as written to the learning log: for each update the user, the item, the
 * user vector the update used, the least-squares target and the weight. Replaying a logged batch adds exactly
 * the same rank-1 terms to the item statistics as the original run (the vector is stored, not recomputed),
 * which is what makes recovery reproduce the model bit for bit.
 *
 * Binary layout (little-endian): see `encodeLearningBatch` ("RLB2"). Batches of the older "RLB1" layout (magic,
 * u32 count, u32 dim, then for each update: u16-length-prefixed UTF-8 user id and item id, f64 target, f64
 * weight, dim × f32 vector) are still read. Vectors are f32: serving reads f32 and the vector is a covariate,
 * not a learned quantity; the in-memory update uses the same rounded values, so replay is exact.
 */
export interface LearningUpdate {
  userId: string;
  itemId: string;
  /** The user vector used for this update (length dim), already rounded to f32. */
  x: Float32Array;
  target: number;
  weight: number;
}

const MAGIC = 0x31424c52; // "RLB1": a vector per update (read only: batches logged by earlier versions)
const MAGIC2 = 0x32424c52; // "RLB2": a table of the batch's distinct vectors, an index per update

export class LearningLogFormatError extends Error {
  constructor(message: string) {
    super(`learning log: ${message}`);
    this.name = 'LearningLogFormatError';
  }
}

/**
 * Encode a batch in the "RLB2" layout: magic, u32 count, u32 dim, u32 vectors, the batch's distinct user vectors
 * (vectors × dim f32; an update's vector is shared when it is the same Float32Array, as the learning path's are
 * for all updates of a user in a batch), then per update: u16-length-prefixed UTF-8 user id and item id, u32
 * vector index, f64 target, f64 weight. A third to a quarter of "RLB1"'s size at d = 32, which is the WAL the
 * batch's transaction writes.
 */
export function encodeLearningBatch(dim: number, updates: readonly LearningUpdate[]): Uint8Array {
  const vectorIndex = new Map<Float32Array, number>();
  const vectors: Float32Array[] = [];
  let idChars = 0;
  for (let k = 0; k < updates.length; k++) {
    const u = updates[k];
    if (u.x.length !== dim) throw new RangeError(`updates[${k}].x: length ${u.x.length} must be ${dim}`);
    if (!vectorIndex.has(u.x)) {
      vectorIndex.set(u.x, vectors.length);
      vectors.push(u.x);
    }
    idChars += u.userId.length + u.itemId.length;
  }
  // UTF-8 takes at most 3 bytes per UTF-16 unit; the buffer is trimmed to what was written.
  const bound = 16 + vectors.length * dim * 4 + updates.length * (4 + 4 + 16) + 3 * idChars;
  const buf = new ArrayBuffer(bound);
  const view = new DataView(buf);
  const bytes = new Uint8Array(buf);
  const enc = new TextEncoder();
  view.setUint32(0, MAGIC2, true);
  view.setUint32(4, updates.length, true);
  view.setUint32(8, dim, true);
  view.setUint32(12, vectors.length, true);
  let o = 16;
  for (const x of vectors) for (let j = 0; j < dim; j++, o += 4) view.setFloat32(o, x[j], true);
  for (let k = 0; k < updates.length; k++) {
    const u = updates[k];
    for (const id of [u.userId, u.itemId]) {
      const { written } = enc.encodeInto(id, bytes.subarray(o + 2));
      if (written > 0xffff) throw new RangeError(`updates[${k}]: id longer than 65535 bytes`);
      view.setUint16(o, written, true);
      o += 2 + written;
    }
    view.setUint32(o, vectorIndex.get(u.x)!, true);
    view.setFloat64(o + 4, u.target, true);
    view.setFloat64(o + 12, u.weight, true);
    o += 20;
  }
  return bytes.subarray(0, o);
}

export function decodeLearningBatch(bytes: Uint8Array): { dim: number; updates: LearningUpdate[] } {
  if (bytes.length < 12) throw new LearningLogFormatError(`batch of ${bytes.length} bytes is too short`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, true);
  if (magic !== MAGIC && magic !== MAGIC2)
    throw new LearningLogFormatError('not a learning batch (bad magic)');
  const count = view.getUint32(4, true);
  const dim = view.getUint32(8, true);
  const dec = new TextDecoder();
  const updates: LearningUpdate[] = [];
  let o = 12;
  const need = (n: number) => {
    if (o + n > bytes.length) throw new LearningLogFormatError('batch is truncated');
  };
  if (magic === MAGIC2) return decodeV2(bytes, view, count, dim, dec);
  for (let k = 0; k < count; k++) {
    const [userId, afterUser] = readId(bytes, view, o, dec);
    const [itemId, afterItem] = readId(bytes, view, afterUser, dec);
    o = afterItem;
    need(16 + 4 * dim);
    const target = view.getFloat64(o, true);
    const weight = view.getFloat64(o + 8, true);
    o += 16;
    const x = new Float32Array(dim);
    for (let j = 0; j < dim; j++, o += 4) x[j] = view.getFloat32(o, true);
    updates.push({ userId, itemId, x, target, weight });
  }
  if (o !== bytes.length) throw new LearningLogFormatError(`${bytes.length - o} trailing bytes`);
  return { dim, updates };
}

/** A u16-length-prefixed UTF-8 id at `o`, and the offset after it (both layouts write ids this way). */
function readId(
  bytes: Uint8Array,
  view: DataView,
  o: number,
  dec: { decode(b: Uint8Array): string },
): [string, number] {
  if (o + 2 > bytes.length) throw new LearningLogFormatError('batch is truncated');
  const len = view.getUint16(o, true);
  if (o + 2 + len > bytes.length) throw new LearningLogFormatError('batch is truncated');
  return [dec.decode(bytes.subarray(o + 2, o + 2 + len)), o + 2 + len];
}

function decodeV2(
  bytes: Uint8Array,
  view: DataView,
  count: number,
  dim: number,
  dec: { decode(b: Uint8Array): string },
): { dim: number; updates: LearningUpdate[] } {
  let o = 12;
  const need = (n: number) => {
    if (o + n > bytes.length) throw new LearningLogFormatError('batch is truncated');
  };
  need(4);
  o = 16;
  const nVectors = view.getUint32(12, true);
  need(nVectors * dim * 4);
  const vectors: Float32Array[] = [];
  for (let v = 0; v < nVectors; v++) {
    const x = new Float32Array(dim);
    for (let j = 0; j < dim; j++, o += 4) x[j] = view.getFloat32(o, true);
    vectors.push(x);
  }
  const updates: LearningUpdate[] = [];
  for (let k = 0; k < count; k++) {
    const [userId, afterUser] = readId(bytes, view, o, dec);
    const [itemId, afterItem] = readId(bytes, view, afterUser, dec);
    o = afterItem;
    need(20);
    const vi = view.getUint32(o, true);
    if (vi >= nVectors)
      throw new LearningLogFormatError(`updates[${k}]: vector ${vi} of a table of ${nVectors}`);
    const target = view.getFloat64(o + 4, true);
    const weight = view.getFloat64(o + 12, true);
    o += 20;
    updates.push({ userId, itemId, x: vectors[vi], target, weight });
  }
  if (o !== bytes.length) throw new LearningLogFormatError(`${bytes.length - o} trailing bytes`);
  return { dim, updates };
}
