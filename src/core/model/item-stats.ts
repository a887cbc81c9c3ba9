import { packedSize, packedSyrAugmented } from '../linalg/packed';

/**
 * Additive sufficient statistics of the items' Bayesian linear regressions.
 *
 * Per item i, over the events (user vector x, target t, weight w) it has seen, with x̃ = (x, 1):
 *   xx_i = Σ w · x̃ x̃ᵀ        (packed symmetric, (d+1)×(d+1))
 *   xy_i = Σ w · t · x̃
 *   count_i = number of events, weightSum_i = Σ w, positives_i = number of events with target > 0
 *   (clicks: the n_i of the popularity propensity for organic clicks, kept with the model).
 * The posterior (see `posterior.ts`) is a function of these sums and the prior only. Sums commute and
 * associate, so batch training, online updates in any order, and partial statistics accumulated by several
 * workers from zero and then `merge`d all give the same posterior (up to float rounding). That is the
 * property ingestion (exactly-once, crash recovery) and scale-out stand on; `item-stats.spec.ts` tests it.
 *
 * Storage is struct-of-arrays in Float64Array (sums of many small terms need double precision), grown by
 * doubling as items are added.
 */
export class ItemStats {
  /** d + 1: the augmented dimension. */
  readonly n: number;
  /** Numbers per item in `xx`: n(n+1)/2. */
  readonly psize: number;
  xx: Float64Array;
  xy: Float64Array;
  count: Float64Array;
  weightSum: Float64Array;
  positives: Float64Array;
  private size_ = 0;

  constructor(
    readonly dim: number,
    items = 0,
  ) {
    this.n = dim + 1;
    this.psize = packedSize(this.n);
    const cap = Math.max(items, 1);
    this.xx = new Float64Array(cap * this.psize);
    this.xy = new Float64Array(cap * this.n);
    this.count = new Float64Array(cap);
    this.weightSum = new Float64Array(cap);
    this.positives = new Float64Array(cap);
    this.size_ = items;
  }

  /** Number of items covered. */
  get size(): number {
    return this.size_;
  }

  /**
   * Allocate room for `items` items without covering them yet. Worth calling when the count is known: fresh
   * memory is expensive to touch (on the 2-core sandbox, first touch runs at ~60 MB/s), and growth by doubling
   * touches up to twice the final size.
   */
  reserve(items: number): void {
    if (items <= this.count.length) return;
    this.xx = grow(this.xx, items * this.psize);
    this.xy = grow(this.xy, items * this.n);
    this.count = grow(this.count, items);
    this.weightSum = grow(this.weightSum, items);
    this.positives = grow(this.positives, items);
  }

  /** Make room for `items` items (new items start at zero statistics). */
  ensureSize(items: number): void {
    if (items <= this.size_) return;
    if (items > this.count.length) {
      const cap = Math.max(items, this.count.length * 2);
      this.xx = grow(this.xx, cap * this.psize);
      this.xy = grow(this.xy, cap * this.n);
      this.count = grow(this.count, cap);
      this.weightSum = grow(this.weightSum, cap);
      this.positives = grow(this.positives, cap);
    }
    this.size_ = items;
  }

  /**
   * Add one event: user factors `x` (d numbers read from `x[xoff ..]`), target t, weight w ≥ 0.
   * O(d²/2). Indices and values are trusted: validate at the boundary (`validateEventBatch`).
   */
  add(item: number, x: ArrayLike<number>, xoff: number, target: number, weight: number): void {
    this.addRaw(item, x, xoff, weight, weight * target);
    this.count[item] += 1;
    this.weightSum[item] += weight;
    if (target > 0) this.positives[item] += 1;
  }

  /**
   * The general additive term: xx_i += a·x̃x̃ᵀ, xy_i += b·x̃ (counts untouched). Batch training uses it to add
   * the implicit-zero background and each logged pair's deviation from it (a = w − c₀, b = w·t), which is
   * why a may be negative here even though every item's total stays positive semi-definite.
   */
  addRaw(item: number, x: ArrayLike<number>, xoff: number, a: number, b: number): void {
    const n = this.n;
    if (a !== 0) packedSyrAugmented(this.xx, item * this.psize, n, a, x, xoff);
    if (b !== 0) {
      const o = item * n;
      const xy = this.xy;
      for (let k = 0; k < n - 1; k++) xy[o + k] += b * x[xoff + k];
      xy[o + n - 1] += b;
    }
  }

  /** Add packed matrix `m` (psize numbers from `m[moff ..]`) times `s` to item i's xx. */
  addPacked(item: number, m: Float64Array, moff: number, s: number): void {
    const o = item * this.psize;
    const xx = this.xx;
    for (let p = 0; p < this.psize; p++) xx[o + p] += s * m[moff + p];
  }

  /** Zero one item's statistics. */
  reset(item: number): void {
    this.xx.fill(0, item * this.psize, (item + 1) * this.psize);
    this.xy.fill(0, item * this.n, (item + 1) * this.n);
    this.count[item] = 0;
    this.weightSum[item] = 0;
    this.positives[item] = 0;
  }

  /**
   * this += other, item by item (other's items 0..other.size−1 map to the same indices here). Grows to
   * cover other's items. Returns the indices of items whose statistics changed.
   */
  merge(other: ItemStats): Int32Array {
    if (other.dim !== this.dim) throw new RangeError(`merge: dim ${other.dim} differs from ${this.dim}`);
    this.ensureSize(other.size);
    const touched: number[] = [];
    const ps = this.psize;
    const n = this.n;
    for (let i = 0; i < other.size; i++) {
      if (other.count[i] === 0 && !anyNonZero(other.xy, i * n, n) && !anyNonZero(other.xx, i * ps, ps))
        continue;
      touched.push(i);
      for (let p = 0; p < ps; p++) this.xx[i * ps + p] += other.xx[i * ps + p];
      for (let k = 0; k < n; k++) this.xy[i * n + k] += other.xy[i * n + k];
      this.count[i] += other.count[i];
      this.weightSum[i] += other.weightSum[i];
      this.positives[i] += other.positives[i];
    }
    return Int32Array.from(touched);
  }

  /** A deep copy (only the covered items). */
  clone(): ItemStats {
    const c = new ItemStats(this.dim, this.size_);
    c.xx.set(this.xx.subarray(0, this.size_ * this.psize));
    c.xy.set(this.xy.subarray(0, this.size_ * this.n));
    c.count.set(this.count.subarray(0, this.size_));
    c.weightSum.set(this.weightSum.subarray(0, this.size_));
    c.positives.set(this.positives.subarray(0, this.size_));
    return c;
  }

  /** Largest absolute difference between two statistics (for tests and recovery checks). */
  maxAbsDiff(other: ItemStats): number {
    if (other.dim !== this.dim || other.size !== this.size) return Infinity;
    let m = 0;
    const cmp = (a: Float64Array, b: Float64Array, len: number): void => {
      for (let p = 0; p < len; p++) m = Math.max(m, Math.abs(a[p] - b[p]));
    };
    cmp(this.xx, other.xx, this.size_ * this.psize);
    cmp(this.xy, other.xy, this.size_ * this.n);
    cmp(this.count, other.count, this.size_);
    cmp(this.weightSum, other.weightSum, this.size_);
    cmp(this.positives, other.positives, this.size_);
    return m;
  }
}

function anyNonZero(a: Float64Array, off: number, len: number): boolean {
  for (let p = off; p < off + len; p++) if (a[p] !== 0) return true;
  return false;
}

export function grow<T extends Float64Array | Float32Array | Int32Array | Uint8Array>(a: T, len: number): T {
  if (a.length >= len) return a;
  const b = new (a.constructor as new (n: number) => T)(len);
  b.set(a);
  return b;
}
