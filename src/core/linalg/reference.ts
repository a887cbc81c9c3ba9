/**
 * Plain scalar twins of the fast kernels (Vowpal Wabbit habit): nested number[][] arrays, no packing,
 * no in-place tricks. They exist to be read and to be tested against; the specs and the benchmarks compare the
 * fast kernels with them. Not for production paths.
 */

/** A += alpha · x xᵀ on a full square matrix. */
export function syrReference(a: number[][], alpha: number, x: number[]): void {
  for (let r = 0; r < x.length; r++) for (let c = 0; c < x.length; c++) a[r][c] += alpha * x[r] * x[c];
}

/** Cholesky factor L (lower) of a symmetric positive-definite matrix, as a new matrix; throws if not SPD. */
export function choleskyReference(a: number[][]): number[][] {
  const n = a.length;
  const l = a.map(() => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i][j];
      for (let k = 0; k < j; k++) s -= l[i][k] * l[j][k];
      if (i === j) {
        if (!(s > 0)) throw new Error('choleskyReference: matrix is not positive definite');
        l[i][i] = Math.sqrt(s);
      } else {
        l[i][j] = s / l[j][j];
      }
    }
  }
  return l;
}

/** Solve A x = b for symmetric positive-definite A (via choleskyReference). */
export function solveSpdReference(a: number[][], b: number[]): number[] {
  const l = choleskyReference(a);
  const n = b.length;
  const y = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i][k] * y[k];
    y[i] = s / l[i][i];
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= l[k][i] * x[k];
    x[i] = s / l[i][i];
  }
  return x;
}

/** Full inverse of a symmetric positive-definite matrix, column by column. */
export function inverseSpdReference(a: number[][]): number[][] {
  const n = a.length;
  const inv = a.map(() => new Array<number>(n).fill(0));
  for (let c = 0; c < n; c++) {
    const e = new Array<number>(n).fill(0);
    e[c] = 1;
    const col = solveSpdReference(a, e);
    for (let r = 0; r < n; r++) inv[r][c] = col[r];
  }
  return inv;
}

export function dotReference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
