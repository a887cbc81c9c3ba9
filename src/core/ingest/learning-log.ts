/**
 * One batch of learning updates, as written to the learning log: for each update the user, the item, the
 * user vector the update used, the least-squares target and the weight. Replaying a logged batch adds exactly
 * the same rank-1 terms to the item statistics as the original run (the vector is stored, not recomputed),
 * which is what makes recovery reproduce the model bit for bit.
 *
 * Binary layout (little-endian): magic "RLB1", u32 count, u32 dim, then for each update: u16-length-prefixed
 * UTF-8 user id and item id, f64 target, f64 weight, dim × f32 vector (f32: serving reads f32 and the vector
 * is a covariate, not a learned quantity; the in-memory update uses the same rounded values, so replay is exact).
 */
export interface LearningUpdate {
  userId: string;
  itemId: string;
  /** The user vector used for this update (length dim), already rounded to f32. */
  x: Float32Array;
  target: number;
  weight: number;
}

const MAGIC = 0x31424c52; // "RLB1"

export class LearningLogFormatError extends Error {
  constructor(message: string) {
    super(`learning log: ${message}`);
    this.name = 'LearningLogFormatError';
  }
}

export function encodeLearningBatch(dim: number, updates: readonly LearningUpdate[]): Uint8Array {
  const enc = new TextEncoder();
  const ids = updates.map((u) => [enc.encode(u.userId), enc.encode(u.itemId)] as const);
  let size = 12;
  for (const [a, b] of ids) size += 4 + a.length + b.length + 16 + 4 * dim;
  const buf = new ArrayBuffer(size);
  const view = new DataView(buf);
  const bytes = new Uint8Array(buf);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, updates.length, true);
  view.setUint32(8, dim, true);
  let o = 12;
  for (let k = 0; k < updates.length; k++) {
    const u = updates[k];
    if (u.x.length !== dim) throw new RangeError(`updates[${k}].x: length ${u.x.length} must be ${dim}`);
    for (const part of ids[k]) {
      if (part.length > 0xffff) throw new RangeError(`updates[${k}]: id longer than 65535 bytes`);
      view.setUint16(o, part.length, true);
      bytes.set(part, o + 2);
      o += 2 + part.length;
    }
    view.setFloat64(o, u.target, true);
    view.setFloat64(o + 8, u.weight, true);
    o += 16;
    for (let j = 0; j < dim; j++, o += 4) view.setFloat32(o, u.x[j], true);
  }
  return bytes;
}

export function decodeLearningBatch(bytes: Uint8Array): { dim: number; updates: LearningUpdate[] } {
  if (bytes.length < 12) throw new LearningLogFormatError(`batch of ${bytes.length} bytes is too short`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new LearningLogFormatError('not a learning batch (bad magic)');
  const count = view.getUint32(4, true);
  const dim = view.getUint32(8, true);
  const dec = new TextDecoder();
  const updates: LearningUpdate[] = [];
  let o = 12;
  const need = (n: number) => {
    if (o + n > bytes.length) throw new LearningLogFormatError('batch is truncated');
  };
  for (let k = 0; k < count; k++) {
    const idsOut: string[] = [];
    for (let p = 0; p < 2; p++) {
      need(2);
      const len = view.getUint16(o, true);
      need(2 + len);
      idsOut.push(dec.decode(bytes.subarray(o + 2, o + 2 + len)));
      o += 2 + len;
    }
    need(16 + 4 * dim);
    const target = view.getFloat64(o, true);
    const weight = view.getFloat64(o + 8, true);
    o += 16;
    const x = new Float32Array(dim);
    for (let j = 0; j < dim; j++, o += 4) x[j] = view.getFloat32(o, true);
    updates.push({ userId: idsOut[0], itemId: idsOut[1], x, target, weight });
  }
  if (o !== bytes.length) throw new LearningLogFormatError(`${bytes.length - o} trailing bytes`);
  return { dim, updates };
}
