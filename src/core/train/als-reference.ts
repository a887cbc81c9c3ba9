import { solveSpdReference } from '../linalg/reference';

/**
 * Plain scalar twins of the ALS steps, on nested arrays, for the specs and for the benchmark's same-run
 * baseline. Two kinds:
 *  - `*Definition`: the objective taken literally, a loop over ALL pairs (logged or implicit zero) per row,
 *    O(items·d²) per user. Slow; it checks that the Gram-matrix trick computes the same thing.
 *  - `*Reference`: the same Gram-matrix algebra as `als.ts`, written with plain arrays and a plain Cholesky,
 *    the honest "scalar implementation of the same step" to compare speed with.
 */
export interface RefRow {
  cols: number[];
  targets: number[];
  weights: number[];
}

export interface RefSettings {
  c0: number;
  noiseVar: number;
  userPriorVar: number;
}

/** User u's solution by definition: all items, logged ones with (t, w), others with (0, c₀). */
export function userSolveDefinition(itemMeans: number[][], row: RefRow, s: RefSettings): number[] {
  const d = itemMeans[0].length - 1;
  const a = Array.from({ length: d }, (_, r) =>
    Array.from({ length: d }, (_, c) => (r === c ? 1 / s.userPriorVar : 0)),
  );
  const rhs = new Array<number>(d).fill(0);
  const logged = new Map(row.cols.map((c, p) => [c, p]));
  itemMeans.forEach((m, i) => {
    const p = logged.get(i);
    const w = p === undefined ? s.c0 : row.weights[p];
    const t = p === undefined ? 0 : row.targets[p];
    for (let r = 0; r < d; r++) {
      rhs[r] += (w * (t - m[d]) * m[r]) / s.noiseVar;
      for (let c = 0; c < d; c++) a[r][c] += (w * m[r] * m[c]) / s.noiseVar;
    }
  });
  return solveSpdReference(a, rhs);
}

/** Item i's posterior mean by definition: all users, logged ones with (t, w), others with (0, c₀). */
export function itemSolveDefinition(
  userVecs: number[][],
  row: RefRow,
  priorMean: number[],
  priorVar: number[],
  s: RefSettings,
): number[] {
  const n = priorMean.length;
  const a = Array.from({ length: n }, (_, r) =>
    Array.from({ length: n }, (_, c) => (r === c ? 1 / priorVar[r] : 0)),
  );
  const rhs = priorMean.map((m, k) => m / priorVar[k]);
  const logged = new Map(row.cols.map((c, p) => [c, p]));
  userVecs.forEach((x, u) => {
    const p = logged.get(u);
    const w = p === undefined ? s.c0 : row.weights[p];
    const t = p === undefined ? 0 : row.targets[p];
    const xt = [...x, 1];
    for (let r = 0; r < n; r++) {
      rhs[r] += (w * t * xt[r]) / s.noiseVar;
      for (let c = 0; c < n; c++) a[r][c] += (w * xt[r] * xt[c]) / s.noiseVar;
    }
  });
  return solveSpdReference(a, rhs);
}

/** The user step with the Gram-matrix trick, in plain arrays, for the listed users (rows[k] is user users[k]). */
export function alsUserStepReference(itemMeans: number[][], rows: RefRow[], s: RefSettings): number[][] {
  const d = itemMeans[0].length - 1;
  const g = Array.from({ length: d }, (_, r) =>
    Array.from({ length: d }, (_, c) => (r === c ? 1 / s.userPriorVar : 0)),
  );
  const h = new Array<number>(d).fill(0);
  for (const m of itemMeans) {
    for (let r = 0; r < d; r++) {
      h[r] -= (s.c0 * m[d] * m[r]) / s.noiseVar;
      for (let c = 0; c < d; c++) g[r][c] += (s.c0 * m[r] * m[c]) / s.noiseVar;
    }
  }
  return rows.map((row) => {
    const a = g.map((r) => r.slice());
    const rhs = h.slice();
    row.cols.forEach((i, p) => {
      const m = itemMeans[i];
      const w = row.weights[p];
      const coef = (w * row.targets[p] - (w - s.c0) * m[d]) / s.noiseVar;
      for (let r = 0; r < d; r++) {
        rhs[r] += coef * m[r];
        for (let c = 0; c < d; c++) a[r][c] += ((w - s.c0) * m[r] * m[c]) / s.noiseVar;
      }
    });
    return solveSpdReference(a, rhs);
  });
}

/**
 * The item step with the Gram-matrix trick, in plain arrays: background B = c₀Σ_u x̃x̃ᵀ over all users, then for
 * each listed item P = diag(1/s²) + (B + Σ_logged (w − c₀)x̃x̃ᵀ)/σ², rhs = μ/s² + Σ_logged w·t·x̃/σ².
 */
export function alsItemStepReference(
  userVecs: number[][],
  rows: RefRow[],
  priorMean: number[],
  priorVar: number[],
  s: RefSettings,
): number[][] {
  const n = priorMean.length;
  const bg = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (const x of userVecs) {
    const xt = [...x, 1];
    for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) bg[r][c] += s.c0 * xt[r] * xt[c];
  }
  return rows.map((row) => {
    const a = bg.map((r, i) => r.map((v, j) => v / s.noiseVar + (i === j ? 1 / priorVar[i] : 0)));
    const rhs = priorMean.map((m, k) => m / priorVar[k]);
    row.cols.forEach((u, p) => {
      const xt = [...userVecs[u], 1];
      const w = row.weights[p];
      for (let r = 0; r < n; r++) {
        rhs[r] += (w * row.targets[p] * xt[r]) / s.noiseVar;
        for (let c = 0; c < n; c++) a[r][c] += ((w - s.c0) * xt[r] * xt[c]) / s.noiseVar;
      }
    });
    return solveSpdReference(a, rhs);
  });
}
