import { Rng } from '../random';
import { buildUserSystem, gramLowerInto, solveUser, UserWorkspace } from './user-solve';

describe('gramLowerInto (the shared part of every user system)', () => {
  it('equals the plain per-item loop, zero-factor items and a tail of < 4 items included', () => {
    const rng = new Rng(3);
    for (const [items, d] of [
      [1, 3],
      [7, 5],
      [1003, 32],
    ]) {
      const n = d + 1;
      const mean = new Float64Array(items * n);
      for (let i = 0; i < items; i++) {
        const zero = i % 3 === 1; // an item still at a zero prior mean (its bias need not be 0)
        for (let r = 0; r < d; r++) mean[i * n + r] = zero ? 0 : rng.normal();
        mean[i * n + d] = rng.normal();
      }
      const g = new Float64Array(d * d);
      const h = new Float64Array(d);
      gramLowerInto(mean, items, d, g, h);
      const gRef = new Float64Array(d * d);
      const hRef = new Float64Array(d);
      for (let i = 0; i < items; i++)
        for (let r = 0; r < d; r++) {
          for (let c = 0; c <= r; c++) gRef[r * d + c] += mean[i * n + r] * mean[i * n + c];
          hRef[r] += mean[i * n + d] * mean[i * n + r];
        }
      for (let j = 0; j < d * d; j++)
        expect(Math.abs(g[j] - gRef[j])).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(gRef[j])));
      for (let r = 0; r < d; r++)
        expect(Math.abs(h[r] - hRef[r])).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(hRef[r])));
      // The upper triangle is left alone.
      for (let r = 0; r < d; r++) for (let c = r + 1; c < d; c++) expect(g[r * d + c]).toBe(0);
    }
  });
});

describe('solveUser with a workspace used before', () => {
  it('gives the same bits as with a fresh one, whatever the earlier solves left in it', () => {
    const rng = new Rng(5);
    const d = 16;
    const n = d + 1;
    const items = 50;
    const mean = Float64Array.from({ length: items * n }, () => rng.normal());
    const sys = buildUserSystem(mean, items, d, 1, 0.5, 1);
    const used = new UserWorkspace(d);
    // Histories that take every path: unit weights (shared factor), 1–4 reweighted pairs (Woodbury, r×r
    // matrices of every size, so each leaves other entries behind), weights below 1 (factorised), and 5 pairs
    // above 1 (past d/4: factorised).
    const histories: { items: number[]; weights: number[] | null }[] = [
      { items: [1, 2, 3], weights: null },
      { items: [4, 5, 6, 7], weights: [3, 2, 5, 4] },
      { items: [8, 9], weights: [2, 1] },
      { items: [10, 11, 12], weights: [0.5, 1, 1] },
      { items: [13, 14, 15], weights: [2, 3, 1] },
      { items: [16, 17, 18, 19, 20], weights: [2, 2, 2, 2, 2] },
      { items: [21], weights: [4] },
      { items: [22, 23, 24, 25], weights: [1, 1, 1, 1] },
    ];
    for (let round = 0; round < 2; round++)
      for (const h of histories) {
        const targets = h.items.map(() => rng.normal());
        const a = new Float64Array(d);
        const b = new Float64Array(d);
        expect(solveUser(sys, mean, h.items, targets, h.weights, 0, h.items.length, a, 0, used)).toBe(true);
        solveUser(sys, mean, h.items, targets, h.weights, 0, h.items.length, b, 0, new UserWorkspace(d));
        expect(Array.from(a)).toEqual(Array.from(b));
      }
  });
});
