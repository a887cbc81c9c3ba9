/**
 * Small dense symmetric positive-definite kernels on row-major Float64Array, written for n ≈ 33.
 *
 * Why hand-written rather than ml-matrix: the learners solve one (d+1)×(d+1) system per item and one d×d
 * system per user, hundreds of thousands of times per epoch. At that size allocation and bounds checks of a
 * general Matrix class dominate; these kernels work in place on caller-owned scratch arrays and touch memory
 * row-contiguously (both rows of an inner product are contiguous in row-major order). `reference.ts` keeps
 * plain scalar twins and the specs check them against each other and against ml-matrix.
 */

/**
 * In-place Cholesky factorisation A = L Lᵀ. Reads the lower triangle of `a` (n×n, row-major) and overwrites
 * it with L; the strict upper triangle is left untouched (garbage for callers). Returns false if A is not
 * numerically positive definite (a pivot ≤ 0), leaving `a` partially factorised.
 */
export function choleskyInPlace(a: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let s = a[rj + j];
    for (let k = 0; k < j; k++) s -= a[rj + k] * a[rj + k];
    if (!(s > 0)) return false;
    const ljj = Math.sqrt(s);
    a[rj + j] = ljj;
    const inv = 1 / ljj;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      // four independent accumulators: the dot product's additions need not wait for each other
      let t0 = a[ri + j];
      let t1 = 0;
      let t2 = 0;
      let t3 = 0;
      let k = 0;
      for (; k + 3 < j; k += 4) {
        t0 -= a[ri + k] * a[rj + k];
        t1 -= a[ri + k + 1] * a[rj + k + 1];
        t2 -= a[ri + k + 2] * a[rj + k + 2];
        t3 -= a[ri + k + 3] * a[rj + k + 3];
      }
      for (; k < j; k++) t0 -= a[ri + k] * a[rj + k];
      a[ri + j] = (t0 + t1 + (t2 + t3)) * inv;
    }
  }
  return true;
}

/** Solve (L Lᵀ) x = b given the factor L (lower triangle of `l`); `b` is overwritten with x. */
export function choleskySolveInPlace(l: Float64Array, n: number, b: Float64Array): void {
  // forward: L y = b
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[ri + k] * b[k];
    b[i] = s / l[ri + i];
  }
  // backward: Lᵀ x = y (column access of L = row access of Lᵀ)
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i];
    for (let k = i + 1; k < n; k++) s -= l[k * n + i] * b[k];
    b[i] = s / l[i * n + i];
  }
}

/**
 * Diagonal of A⁻¹ from the factor L: (A⁻¹)_kk = ‖L⁻¹ e_k‖², solving L z = e_k for each k. z is zero above
 * k, so the total cost is n³/6. `work` must hold n numbers; the result goes to `out[outOff + k]`.
 */
export function choleskyInverseDiagonal(
  l: Float64Array,
  n: number,
  out: Float64Array | Float32Array,
  outOff: number,
  work: Float64Array,
): void {
  for (let k = 0; k < n; k++) {
    // z_k = 1 / L_kk; z_i = −(Σ_{j=k}^{i−1} L_ij z_j) / L_ii
    let z = 1 / l[k * n + k];
    work[k] = z;
    let sq = z * z;
    for (let i = k + 1; i < n; i++) {
      const ri = i * n;
      let s0 = 0;
      let s1 = 0;
      let j = k;
      for (; j + 1 < i; j += 2) {
        s0 -= l[ri + j] * work[j];
        s1 -= l[ri + j + 1] * work[j + 1];
      }
      if (j < i) s0 -= l[ri + j] * work[j];
      z = (s0 + s1) / l[ri + i];
      work[i] = z;
      sq += z * z;
    }
    out[outOff + k] = sq;
  }
}
