import { CholeskyDecomposition, Matrix, inverse } from 'ml-matrix';
import { Rng } from '../random';
import { choleskyInPlace, choleskyInverseDiagonal, choleskySolveInPlace } from './cholesky';
import { packedIndex, packedSize, packedSyr, packedSyrAugmented, unpackSymmetric } from './packed';
import { choleskyReference, inverseSpdReference, solveSpdReference, syrReference } from './reference';

function randomSpd(rng: Rng, n: number): number[][] {
  // A = B Bᵀ + n I is comfortably positive definite
  const b = Array.from({ length: n }, () => Array.from({ length: n }, () => rng.normal()));
  return b.map((row, i) =>
    b.map((other, j) => row.reduce((s, v, k) => s + v * other[k], 0) + (i === j ? n : 0)),
  );
}

const flat = (a: number[][]): Float64Array => Float64Array.from(a.flat());

describe('packed symmetric storage', () => {
  it('indexes the upper triangle row by row', () => {
    const n = 5;
    const seen = new Set<number>();
    for (let r = 0; r < n; r++) for (let c = r; c < n; c++) seen.add(packedIndex(n, r, c));
    expect(seen.size).toBe(packedSize(n));
    expect(Math.max(...seen)).toBe(packedSize(n) - 1);
  });

  it('packedSyr equals the scalar rank-1 update', () => {
    const rng = new Rng(3);
    const n = 33;
    const full = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    const packed = new Float64Array(packedSize(n) + 7);
    for (let t = 0; t < 20; t++) {
      const x = Array.from({ length: n }, () => rng.normal());
      const alpha = rng.normal();
      syrReference(full, alpha, x);
      packedSyr(packed, 7, n, alpha, x);
    }
    const out = new Float64Array(n * n);
    unpackSymmetric(packed, 7, n, out);
    for (let r = 0; r < n; r++)
      for (let c = 0; c < n; c++) expect(out[r * n + c]).toBeCloseTo(full[r][c], 10);
  });

  it('packedSyrAugmented equals packedSyr on (v, 1)', () => {
    const rng = new Rng(4);
    const n = 9;
    const a = new Float64Array(packedSize(n));
    const b = new Float64Array(packedSize(n));
    for (let t = 0; t < 10; t++) {
      const v = Array.from({ length: n - 1 }, () => rng.normal());
      const src = new Float64Array([0, 0, ...v]);
      packedSyr(a, 0, n, 0.7, [...v, 1]);
      packedSyrAugmented(b, 0, n, 0.7, src, 2);
    }
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 12);
  });
});

describe('Cholesky kernels', () => {
  it.each([1, 2, 8, 33])('factorise, solve and invert like the scalar twin and ml-matrix (n=%i)', (n) => {
    const rng = new Rng(n);
    const a = randomSpd(rng, n);
    const l = flat(a);
    expect(choleskyInPlace(l, n)).toBe(true);
    const lRef = choleskyReference(a);
    const lMl = new CholeskyDecomposition(new Matrix(a)).lowerTriangularMatrix;
    for (let i = 0; i < n; i++)
      for (let j = 0; j <= i; j++) {
        expect(l[i * n + j]).toBeCloseTo(lRef[i][j], 9);
        expect(l[i * n + j]).toBeCloseTo(lMl.get(i, j), 9);
      }
    const b = Array.from({ length: n }, () => rng.normal());
    const x = Float64Array.from(b);
    choleskySolveInPlace(l, n, x);
    const xRef = solveSpdReference(a, b);
    for (let i = 0; i < n; i++) expect(x[i]).toBeCloseTo(xRef[i], 9);
    const diag = new Float64Array(n);
    choleskyInverseDiagonal(l, n, diag, 0, new Float64Array(n));
    const inv = inverseSpdReference(a);
    const invMl = inverse(new Matrix(a));
    for (let i = 0; i < n; i++) {
      expect(diag[i]).toBeCloseTo(inv[i][i], 10);
      expect(diag[i]).toBeCloseTo(invMl.get(i, i), 10);
    }
  });

  it('reports a matrix that is not positive definite', () => {
    const a = new Float64Array([1, 2, 2, 1]);
    expect(choleskyInPlace(a, 2)).toBe(false);
    expect(() =>
      choleskyReference([
        [1, 2],
        [2, 1],
      ]),
    ).toThrow(/not positive definite/);
  });
});
