import type { ServingSnapshot } from '../model/serving-snapshot';

/**
 * Items whose posterior rows are bit-identical (same mean row, same variance row: typically items still at
 * their group's prior, i.e. every item of a fresh catalogue and, later, every item nobody has clicked yet)
 * have bit-identical score distributions for every user. Serving scores one of them and treats the rest as
 * copies: the Thompson sampler then plans over one entry per class instead of one per item (see
 * `ThompsonTopK`'s `classes` option), and the per-request work that grew with the number of cold items
 * (scoring them, bucketing them, banding them) grows with the number of classes instead.
 *
 * `classOf[i]` is item i's class id in 0..count−1 when at least one other item has exactly its rows,
 * else −1. Computed once per snapshot (a hash of each row, then a bit comparison against the first item
 * with that hash: equality is exact, a hash collision only costs a compare).
 */
export interface SnapshotClasses {
  readonly classOf: Int32Array;
  readonly count: number;
}

const cache = new WeakMap<ServingSnapshot, SnapshotClasses>();

/** The snapshot's classes of identical items (cached per snapshot; O(n · stride) the first time). */
export function snapshotClasses(snapshot: ServingSnapshot): SnapshotClasses {
  let c = cache.get(snapshot);
  if (!c) {
    c = computeClasses(snapshot);
    cache.set(snapshot, c);
  }
  return c;
}

function computeClasses(snapshot: ServingSnapshot): SnapshotClasses {
  const n = snapshot.itemIds.length;
  const stride = snapshot.stride;
  const mean = new Uint32Array(snapshot.mean.buffer, snapshot.mean.byteOffset, n * stride);
  const vari = new Uint32Array(snapshot.variance.buffer, snapshot.variance.byteOffset, n * stride);
  const classOf = new Int32Array(n).fill(-1);
  // Open addressing over the rows' hashes: slot → 1 + the first item of a distinct row (0: empty). Linear
  // probing visits every distinct row whose hash shares the slot's neighbourhood; rows are compared bit
  // by bit, so a collision only costs a compare. (A Map here cost ~0.5 s at 10^6 items; this ~0.27 s, mostly
  // cache misses on the table.)
  let cap = 1024;
  while (cap < 2 * n) cap *= 2;
  const mask = cap - 1;
  const slots = new Int32Array(cap);
  const hashes = new Int32Array(cap);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const o = i * stride;
    let h = 0x811c9dc5;
    for (let j = 0; j < stride; j++) {
      h = Math.imul(h ^ mean[o + j], 0x01000193);
      h = Math.imul(h ^ vari[o + j], 0x01000193);
    }
    h ^= h >>> 15;
    for (let at = h & mask; ; at = (at + 1) & mask) {
      const e = slots[at] - 1;
      if (e < 0) {
        slots[at] = i + 1;
        hashes[at] = h;
        break;
      }
      if (hashes[at] === h && sameRows(mean, vari, e * stride, o, stride)) {
        if (classOf[e] < 0) classOf[e] = count++;
        classOf[i] = classOf[e];
        break;
      }
    }
  }
  return { classOf, count };
}

function sameRows(mean: Uint32Array, vari: Uint32Array, a: number, b: number, stride: number): boolean {
  for (let j = 0; j < stride; j++)
    if (mean[a + j] !== mean[b + j] || vari[a + j] !== vari[b + j]) return false;
  return true;
}

/**
 * A request's candidates laid out for class-compressed scoring: `rows` lists the candidates' item indices
 * with the singles first (ascending) and then each class's members contiguously; candidate positions
 * `start[g] .. start[g + 1]` are class g (start[0] = nSingles). `scoreRows` is what the kernel scores:
 * the singles, then one member of each class (`scoreRows[nSingles + g]`).
 */
export interface ClassLayout {
  readonly rows: Int32Array;
  readonly nSingles: number;
  readonly start: Int32Array;
  readonly scoreRows: Int32Array;
}

/** Fewer class members than this among a request's candidates: not worth a layout (plain path). */
const MIN_CLASSED = 64;

// The layout of a snapshot's shared "every active item" rows, computed once.
const layoutCache = new WeakMap<Int32Array, ClassLayout | null>();

/**
 * The class layout of `rows` (ascending item indices), or null when fewer than `MIN_CLASSED` of them
 * belong to a class with at least two members among them. `shared`: `rows` is a snapshot-wide array
 * reused by many requests (its layout is cached with it).
 */
export function classLayout(snapshot: ServingSnapshot, rows: Int32Array, shared = false): ClassLayout | null {
  if (shared) {
    const hit = layoutCache.get(rows);
    if (hit !== undefined) return hit;
  }
  const out = computeLayout(snapshot, rows);
  if (shared) layoutCache.set(rows, out);
  return out;
}

function computeLayout(snapshot: ServingSnapshot, rows: Int32Array): ClassLayout | null {
  const { classOf, count } = snapshotClasses(snapshot);
  if (count === 0) return null;
  const n = rows.length;
  const size = new Int32Array(count);
  for (let t = 0; t < n; t++) {
    const g = classOf[rows[t]];
    if (g >= 0) size[g]++;
  }
  // Request classes: snapshot classes with ≥ 2 members among the rows, in snapshot class order.
  const local = new Int32Array(count).fill(-1);
  let classes = 0;
  let classed = 0;
  for (let g = 0; g < count; g++)
    if (size[g] >= 2) {
      local[g] = classes++;
      classed += size[g];
    }
  if (classed < MIN_CLASSED) return null;
  const nSingles = n - classed;
  const start = new Int32Array(classes + 1);
  start[0] = nSingles;
  for (let g = 0, l = 0; g < count; g++) if (local[g] >= 0) start[l + 1] = start[l++] + size[g];
  const fill = start.slice(0, classes);
  const out = new Int32Array(n);
  const scoreRows = new Int32Array(nSingles + classes);
  let s = 0;
  for (let t = 0; t < n; t++) {
    const item = rows[t];
    const g = classOf[item];
    const l = g >= 0 ? local[g] : -1;
    if (l < 0) {
      out[s] = item;
      scoreRows[s++] = item;
    } else {
      if (fill[l] === start[l]) scoreRows[nSingles + l] = item;
      out[fill[l]++] = item;
    }
  }
  return { rows: out, nSingles, start, scoreRows };
}
