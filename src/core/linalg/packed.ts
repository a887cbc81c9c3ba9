/**
 * Packed storage of symmetric matrices: the upper triangle, row by row.
 *
 * Why packed: the additive item statistics hold one (d+1)×(d+1) symmetric matrix per item; packing halves
 * their memory (561 instead of 1089 doubles at d = 32) and halves the work of every rank-1 update, which is
 * the hot operation of online learning.
 *
 * Layout for an n×n matrix: row r holds columns r..n-1, so entry (r, c), r ≤ c, sits at
 * `r·n − r(r−1)/2 + (c − r)`; a matrix takes n(n+1)/2 numbers.
 */

/** Number of stored entries of a packed symmetric n×n matrix. */
export function packedSize(n: number): number {
  return (n * (n + 1)) / 2;
}

/** Offset of entry (r, c) inside a packed matrix, for r ≤ c. */
export function packedIndex(n: number, r: number, c: number): number {
  return r * n - (r * (r - 1)) / 2 + (c - r);
}

/**
 * Rank-1 update of a packed symmetric matrix stored at `a[off ..]`: A += alpha · x xᵀ.
 * O(n²/2) multiply-adds; no allocation.
 */
export function packedSyr(
  a: Float64Array,
  off: number,
  n: number,
  alpha: number,
  x: ArrayLike<number>,
): void {
  let p = off;
  for (let r = 0; r < n; r++) {
    const ar = alpha * x[r];
    for (let c = r; c < n; c++) a[p++] += ar * x[c];
  }
}

/**
 * Rank-1 update where x = (v, 1): the augmented vector of a user (factors, then the constant 1 for the bias),
 * without materialising the augmented vector. `v` has n−1 entries read from `v[voff ..]`.
 */
export function packedSyrAugmented(
  a: Float64Array,
  off: number,
  n: number,
  alpha: number,
  v: ArrayLike<number>,
  voff: number,
): void {
  const d = n - 1;
  let p = off;
  for (let r = 0; r < d; r++) {
    const ar = alpha * v[voff + r];
    for (let c = r; c < d; c++) a[p++] += ar * v[voff + c];
    a[p++] += ar; // column d is the constant 1
  }
  a[p] += alpha; // (d, d)
}

/** Expand a packed symmetric matrix (at `a[off ..]`) into a full row-major n×n matrix `out` (both triangles). */
export function unpackSymmetric(a: Float64Array, off: number, n: number, out: Float64Array): void {
  let p = off;
  for (let r = 0; r < n; r++) {
    for (let c = r; c < n; c++) {
      const v = a[p++];
      out[r * n + c] = v;
      out[c * n + r] = v;
    }
  }
}

/** Expand only the lower triangle (what the Cholesky kernel reads), scaled: out[c·n + r] = s·A(r, c), r ≤ c. */
export function unpackLowerScaled(
  a: Float64Array,
  off: number,
  n: number,
  s: number,
  out: Float64Array,
): void {
  let p = off;
  for (let r = 0; r < n; r++) {
    for (let c = r; c < n; c++) out[c * n + r] = s * a[p++];
  }
}
