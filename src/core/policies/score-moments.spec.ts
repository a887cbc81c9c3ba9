import { scoreCandidates } from './score-kernel';
import { scoreMomentsJs, scoreMomentsReference } from './score-moments';
import { scoreMomentsWasm, wasmSimdAvailable } from './score-moments.wasm';
import { syntheticSnapshot } from './testing/synthetic-snapshot';

describe('score moments', () => {
  for (const dim of [1, 3, 8, 32, 37]) {
    it(`fast kernels equal the scalar reference (d = ${dim})`, () => {
      const snap = syntheticSnapshot({ items: 500, dim, seed: dim, coldFraction: 0.1 });
      const x = snap.users.get('u1')!;
      const rows = Int32Array.from({ length: 250 }, (_, i) => (i * 7) % 500).sort();
      const ref = scoreMomentsReference(snap, x, rows);
      const wasm = scoreMomentsWasm(snap, x, rows);
      expect(wasm).not.toBeNull(); // Node 20 has WebAssembly SIMD: the fast path must be the one tested
      for (const fast of [scoreMomentsJs(snap, x, rows), wasm!, scoreCandidates(snap, x, rows)]) {
        expect(fast.n).toBe(250);
        for (let c = 0; c < 250; c++) {
          // float32 inputs, float32 SIMD accumulation in the wasm kernel: relative 1e-5 is ~20 ulp of float32.
          expect(Math.abs(fast.mean[c] - ref.mean[c])).toBeLessThan(1e-5 * (1 + Math.abs(ref.mean[c])));
          expect(Math.abs(fast.variance[c] - ref.variance[c])).toBeLessThan(1e-5 * ref.variance[c] + 1e-12);
          const sd = (fast as { sd?: Float64Array }).sd;
          if (sd)
            expect(Math.abs(sd[c] - Math.sqrt(ref.variance[c]))).toBeLessThan(
              1e-5 * Math.sqrt(ref.variance[c]),
            );
        }
      }
    });
  }

  it('serving uses the SIMD kernel on this runtime', () => {
    expect(wasmSimdAvailable()).toBe(true);
  });

  it('matches the defining formula on a hand-made item', () => {
    const snap = syntheticSnapshot({ items: 3, dim: 2, seed: 9 });
    const x = [2, -1];
    const r = scoreMomentsReference(snap, x, Int32Array.of(1));
    const o = 3;
    const mu = snap.mean;
    const va = snap.variance;
    expect(r.mean[0]).toBeCloseTo(2 * mu[o] - mu[o + 1] + mu[o + 2], 12);
    expect(r.variance[0]).toBeCloseTo(4 * va[o] + va[o + 1] + va[o + 2], 12);
  });
});
