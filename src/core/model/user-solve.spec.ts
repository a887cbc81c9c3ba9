import { Rng } from '../random';
import { gramLowerInto } from './user-solve';

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
