import { scoreCandidates } from './score-kernel';
import { scoreMomentsJs, scoreMomentsReference } from './score-moments';
import { prepareSnapshotForWasm, scoreMomentsWasm, wasmSimdAvailable } from './score-moments.wasm';
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

  it('a snapshot laid out in the memory of the one it replaces scores as if laid out fresh; the replaced one is laid out again', () => {
    // B has a few more items than A, within A's last 64 KiB page: B's last rows land where A kept a request's
    // buffers (written by a request on A first). d = 30: rows with padding lanes.
    const a = syntheticSnapshot({ items: 2000, dim: 30, seed: 1, coldFraction: 0.1 });
    const b = syntheticSnapshot({ items: 2010, dim: 30, seed: 2, coldFraction: 0.1 });
    const bFresh = { ...b };
    const all = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);
    const x = a.users.get('u1')!;
    const memoryOf = (s: typeof a): ArrayBufferLike => scoreMomentsWasm(s, x, all(1), true)!.mean.buffer;
    const aMemory = memoryOf(a);
    const aBefore = Float64Array.from(scoreMomentsWasm(a, x, all(2000))!.mean);
    expect(prepareSnapshotForWasm(b, a)).toBe(true);
    expect(memoryOf(b)).toBe(aMemory); // the reuse is what is tested
    const reused = scoreMomentsWasm(b, x, all(2010))!;
    const fresh = scoreMomentsWasm(bFresh, x, all(2010))!;
    expect(memoryOf(bFresh)).not.toBe(aMemory);
    expect(Array.from(reused.mean)).toEqual(Array.from(fresh.mean));
    expect(Array.from(reused.variance)).toEqual(Array.from(fresh.variance));
    // A, forgotten when B took its memory, is laid out again (in a memory of its own) if it is served again.
    expect(Array.from(scoreMomentsWasm(a, x, all(2000))!.mean)).toEqual(Array.from(aBefore));
    expect(memoryOf(a)).not.toBe(aMemory);
    expect(Array.from(scoreMomentsWasm(b, x, all(2010))!.mean)).toEqual(Array.from(fresh.mean));
  });

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
