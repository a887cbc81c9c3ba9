import { FactorModel, type ModelMeta } from './factor-model';
import { ModelFormatError } from './errors';
import { type ModelConfig, parseModelConfig } from './model-config';

/**
 * Versioned binary form of a FactorModel, for snapshots in PostgreSQL (bytea) and files.
 *
 * Layout of format version 1 (little-endian; every section starts at a multiple of 8 bytes):
 *   0   8 bytes  magic "RECOMDL\0"
 *   8   u32      format version (1)
 *   12  u32      header length H in bytes
 *   16  H bytes  header: UTF-8 JSON { config, version, generation, meta, itemIds, groupIds, userIds, byteLength }
 *   ... padding to 8, then the sections, each padded to 8:
 *       itemGroup Int32[ni] · itemActive Uint8[ni] · xx Float64[ni·n(n+1)/2] · xy Float64[ni·n] ·
 *       count Float64[ni] · weightSum Float64[ni] · positives Float64[ni] · priorMean Float64[(G+1)·n] · priorVar Float64[(G+1)·n] ·
 *       itemMean Float64[ni·n] · itemVar Float64[ni·n] · userVec Float64[nu·d] · defaultUser Float64[d]
 * Everything learned is stored in double precision so that a loaded model continues to accumulate exactly
 * where the saved one stopped (the statistics are the model; the posteriors are stored too only to make
 * loading O(size) instead of one solve per item). The statistics dominate the size: (d+1)(d+2)/2 doubles per item.
 *
 * Compatibility: `decodeModel` dispatches on the format version. A version this build does not know fails with
 * a message naming both versions; when the format changes, keep the old reader in `readers` and convert.
 */
export const MODEL_FORMAT_VERSION = 1;
const MAGIC = 'RECOMDL\0';

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('reco model serialisation assumes a little-endian platform');
}

/** The JSON header of format 1 (the paged format's head adds `pageItems`). */
export interface HeaderV1 {
  config: ModelConfig;
  version: string;
  generation: number;
  meta: ModelMeta;
  itemIds: string[];
  groupIds: string[];
  userIds: string[];
  byteLength: number;
}

export const pad8 = (x: number): number => (x + 7) & ~7;

/**
 * The JSON header at bytes[16, 16 + headerLen) of a model (format 1, or a paged head: `what` names it in errors),
 * checked against the length of `bytes`.
 */
export function readModelHeader<T extends HeaderV1>(bytes: Uint8Array, headerLen: number, what: string): T {
  if (16 + headerLen > bytes.length) throw new ModelFormatError(`${what} is truncated inside its header`);
  let h: T;
  try {
    h = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLen))) as T;
  } catch (e) {
    throw new ModelFormatError(`${what} header is not valid JSON: ${(e as Error).message}`);
  }
  if (h.byteLength !== bytes.length)
    throw new ModelFormatError(
      `${what} is ${bytes.length} bytes but its header says ${h.byteLength} (truncated or corrupted)`,
    );
  return h;
}

/**
 * A model with a header's config, version, meta, groups, items and users (in that order), its arrays sized and
 * their data still to be read. Its generation is left to the caller (adding each item bumps it).
 */
export function modelFromHeader(h: HeaderV1): FactorModel {
  const model = new FactorModel(parseModelConfig(h.config));
  model.version = h.version;
  model.meta = h.meta;
  model.reserve(h.itemIds.length, h.userIds.length);
  for (const g of h.groupIds) model.addGroup(g);
  for (const id of h.itemIds) model.addItem(id, null);
  for (const id of h.userIds) model.addUser(id);
  return model;
}

/**
 * Reads a model's sections one after another from `start` (each padded to 8), copied out, not viewed: the
 * caller's buffer may be reused, and alignment is not guaranteed. `what` names the bytes in errors.
 */
export function sectionReader(bytes: Uint8Array, start: number, what: string) {
  let off = start;
  return <T extends Int32Array | Uint8Array | Float64Array>(
    Ctor: { new (b: ArrayBuffer): T; BYTES_PER_ELEMENT: number },
    count: number,
  ): T => {
    const len = count * Ctor.BYTES_PER_ELEMENT;
    if (off + len > bytes.length) throw new ModelFormatError(`${what} is truncated inside its data sections`);
    // (Uint8Array's slice, which copies: a Node Buffer's own slice is a view of its pool.)
    const out = new Ctor(Uint8Array.prototype.slice.call(bytes, off, off + len).buffer as ArrayBuffer);
    off += pad8(len);
    return out;
  };
}

/**
 * A model's JSON header (ids, config, version, meta, then `extra`), whose `byteLength` is the length it implies
 * with `body` bytes of sections after it: pad8(16 + header) + body. That length depends on the header's own, so
 * it is iterated to a fixed point.
 */
export function modelHeader(model: FactorModel, extra: Record<string, unknown>, body: number): Uint8Array {
  const json = (byteLength: number): Uint8Array =>
    new TextEncoder().encode(
      JSON.stringify({
        config: model.config,
        version: model.version,
        generation: model.generation,
        meta: model.meta,
        itemIds: model.itemIds,
        groupIds: model.groupIds,
        userIds: model.userIds,
        ...extra,
        byteLength,
      } satisfies Omit<HeaderV1, 'byteLength'> & { byteLength: number }),
    );
  let hdr = json(0);
  for (let t = 0; t < 4; t++) {
    const next = json(pad8(16 + hdr.length) + body);
    const same = next.length === hdr.length;
    hdr = next;
    if (same) break;
  }
  return hdr;
}

/** Serialise a model (stale posteriors are re-solved first). */
export function encodeModel(model: FactorModel): Uint8Array {
  model.refreshPosteriors();
  const ni = model.numItems;
  const nu = model.numUsers;
  const n = model.n;
  const d = model.dim;
  const ps = model.stats.psize;
  const slots = model.numGroups + 1;
  const sections: ArrayBufferView[] = [
    model.itemGroup.subarray(0, ni),
    model.itemActive.subarray(0, ni),
    model.stats.xx.subarray(0, ni * ps),
    model.stats.xy.subarray(0, ni * n),
    model.stats.count.subarray(0, ni),
    model.stats.weightSum.subarray(0, ni),
    model.stats.positives.subarray(0, ni),
    model.priorMean.subarray(0, slots * n),
    model.priorVar.subarray(0, slots * n),
    model.itemMean.subarray(0, ni * n),
    model.itemVar.subarray(0, ni * n),
    model.userVec.subarray(0, nu * d),
    model.defaultUser.subarray(0, d),
  ];
  let body = 0;
  for (const s of sections) body += pad8(s.byteLength);
  const hdr = modelHeader(model, {}, body);
  const total = pad8(16 + hdr.length) + body;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  for (let k = 0; k < 8; k++) out[k] = MAGIC.charCodeAt(k);
  dv.setUint32(8, MODEL_FORMAT_VERSION, true);
  dv.setUint32(12, hdr.length, true);
  out.set(hdr, 16);
  let off = pad8(16 + hdr.length);
  for (const s of sections) {
    out.set(new Uint8Array(s.buffer, s.byteOffset, s.byteLength), off);
    off += pad8(s.byteLength);
  }
  return out;
}

type Reader = (bytes: Uint8Array, headerLen: number) => FactorModel;
const readers: Record<number, Reader> = { 1: readV1 };

/** Read a model written by `encodeModel` (this or a supported older format version). */
export function decodeModel(bytes: Uint8Array): FactorModel {
  if (!(bytes instanceof Uint8Array)) throw new ModelFormatError('model snapshot must be a Uint8Array');
  if (bytes.length < 16)
    throw new ModelFormatError(`model snapshot is truncated: ${bytes.length} bytes, need at least 16`);
  for (let k = 0; k < 8; k++)
    if (bytes[k] !== MAGIC.charCodeAt(k))
      throw new ModelFormatError('not a reco model snapshot (bad magic bytes)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  const reader = readers[version];
  if (!reader) {
    throw new ModelFormatError(
      version > MODEL_FORMAT_VERSION
        ? `model snapshot format v${version} is newer than this build reads (v${MODEL_FORMAT_VERSION}); upgrade reco or retrain`
        : `model snapshot format v${version} is no longer supported (this build reads v${Object.keys(readers).join(', v')}); retrain the model`,
    );
  }
  return reader(bytes, dv.getUint32(12, true));
}

function readV1(bytes: Uint8Array, headerLen: number): FactorModel {
  const h = readModelHeader<HeaderV1>(bytes, headerLen, 'model snapshot');
  const model = modelFromHeader(h);
  // Format 1 has always read back the stored generation plus one for every item added while reading.
  model.generation += h.generation;
  const ni = h.itemIds.length;
  const nu = h.userIds.length;
  const n = model.n;
  const ps = model.stats.psize;
  const slots = h.groupIds.length + 1;
  const take = sectionReader(bytes, pad8(16 + headerLen), 'model snapshot');
  model.itemGroup.set(take(Int32Array, ni));
  model.itemActive.set(take(Uint8Array, ni));
  model.stats.xx.set(take(Float64Array, ni * ps));
  model.stats.xy.set(take(Float64Array, ni * n));
  model.stats.count.set(take(Float64Array, ni));
  model.stats.weightSum.set(take(Float64Array, ni));
  model.stats.positives.set(take(Float64Array, ni));
  model.priorMean.set(take(Float64Array, slots * n));
  model.priorVar.set(take(Float64Array, slots * n));
  model.itemMean.set(take(Float64Array, ni * n));
  model.itemVar.set(take(Float64Array, ni * n));
  model.userVec.set(take(Float64Array, nu * model.dim));
  model.userVectorsChanged();
  model.defaultUser.set(take(Float64Array, model.dim));
  return model;
}
