import type { ServingSnapshot } from '../model/serving-snapshot';
import type { ScoredCandidates } from './policy-types';
import type { CandidateScan } from './thompson-sampler';

/**
 * WebAssembly SIMD scoring kernel (f32x4): the scalar JS loop does ~1.2 GFLOP/s here because V8 does
 * not vectorise; four lanes per instruction and no bounds checks make the pass memory-bound.
 *
 * Each snapshot is prepared once (lazily, or eagerly by `prepareSnapshotForWasm` at model swap) into
 * the kernel's own linear memory, interleaved per item so one request reads one contiguous row per
 * item: [μ_0..μ_{d4−1} | σ²_0..σ²_{d4−1} | μ_b, σ²_b, 0, 0] with d4 = d rounded up to 4 (zero padded,
 * so the padding lanes add 0). Accumulation is float32 (the model is float32 anyway): results equal the
 * float64 reference to ~1e-6 relative, which the tests check.
 *
 * The module is hand-assembled below (no toolchain dependency); `scoreMomentsReference` is its twin.
 */

// The WebAssembly API is a runtime global (Node ≥ 8); tsconfig's ES lib does not declare it.
interface WasmModule {
  readonly __wasmModule: unique symbol;
}
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
};

// --- a tiny hand-written module, specialised to the number of 4-lane groups G = ⌈d/4⌉ -------------
// (func (param pBase rowBytes xPtr xxPtr rowsPtr nRows outM outS outSd)
//   x and x∘x are loaded once into 2G v128 locals; per row i, with base = pBase + rows[i]·rowBytes,
//   the G-step dot products are straight-line code with constant load offsets (no address arithmetic)
//   and two accumulators each (shorter dependency chains):
//   outM[i] = hsum(Σ_g x_g·P[base + 16g]) + P[base + 32G];  outS[i] = hsum(Σ_g xx_g·P[base + 16(G+g)]) + P[base + 32G + 4]
//   outSd[i] = √outS[i]; the three outputs are float64, so serving reads them in place (no copy).
const OP = {
  block: 0x02,
  loop: 0x03,
  end: 0x0b,
  brIf: 0x0d,
  get: 0x20,
  set: 0x21,
  tee: 0x22,
  i32load: 0x28,
  f32load: 0x2a,
  f32store: 0x38,
  f64store: 0x39,
  f64promote: 0xbb,
  f64sqrt: 0x9f,
  f64load: 0x2b,
  i32store: 0x36,
  if: 0x04,
  br: 0x0c,
  i32sub: 0x6b,
  f64gt: 0x64,
  f64lt: 0x63,
  f64ge: 0x66,
  f64add: 0xa0,
  f64sub: 0xa1,
  f64mul: 0xa2,
  f64max: 0xa5,
  tee32: 0x22,
  i32const: 0x41,
  i32eqz: 0x45,
  i32ltu: 0x49,
  i32add: 0x6a,
  i32mul: 0x6c,
  i32shl: 0x74,
  f32add: 0x92,
  simd: 0xfd,
} as const;
const I32 = 0x7f;
const F32 = 0x7d;
const F64 = 0x7c;
const V128 = 0x7b;

function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

function buildModule(G: number, scan: boolean): Uint8Array {
  // params 0..8 (+ 9..17 with the scan), then locals: i, base (i32); accM0, accM1, accS0, accS1 (v128);
  // x_0..x_{G−1}, xx_0..xx_{G−1} (v128); s (f32); with the scan also m, sd, w, u, l (f64) and j (i32)
  const pBase = 0, rowBytes = 1, xPtr = 2, xxPtr = 3, rowsPtr = 4, nRows = 5, outM = 6, outS = 7, outSd = 8; // prettier-ignore
  const ctl = 9, lowPtr = 10, kLast = 11, topPtr = 12, tm = 13, supIdxPtr = 14, supUPtr = 15, supMPtr = 16, supSdPtr = 17; // prettier-ignore
  const P = scan ? 18 : 9;
  const i = P, base = P + 1, accM = [P + 2, P + 3], accS = [P + 4, P + 5], xv = P + 6, xxv = P + 6 + G, sv = P + 6 + 2 * G; // prettier-ignore
  const mL = sv + 1, sdL = sv + 2, wL = sv + 3, uL = sv + 4, lL = sv + 5, jL = sv + 6; // prettier-ignore
  const c: number[] = [];
  const get = (l: number): void => void c.push(OP.get, ...uleb(l));
  const set = (l: number): void => void c.push(OP.set, ...uleb(l));
  const v128load = (offset: number): void => void c.push(OP.simd, 0x00, 0x04, ...uleb(offset));
  const mul = (): void => void c.push(OP.simd, 0xe6, 0x01);
  const add = (): void => void c.push(OP.simd, 0xe4, 0x01);
  const lane = (l: number): void => void c.push(OP.simd, 0x1f, l);
  const hsum = (a: number, b: number): void => {
    get(a);
    get(b);
    add();
    set(a);
    get(a);
    lane(0);
    for (let l = 1; l < 4; l++) {
      get(a);
      lane(l);
      c.push(OP.f32add);
    }
  };
  for (let g = 0; g < G; g++) {
    get(xPtr);
    v128load(16 * g);
    set(xv + g);
    get(xxPtr);
    v128load(16 * g);
    set(xxv + g);
  }
  // The sampler's scan (`scanCandidates` in thompson-sampler.ts, its twin), fused into the scoring loop:
  // the same float64 operations in the same order, on m and sd as stored. Its running state stays in a
  // control block in memory, not in locals: b, uMax, low[k−1], M, F (f64 at 0..32), count (i32 at 40).
  // (Kept in locals, the five extra f64 values compete with the 2G + 4 vectors for the same xmm
  // registers and the SIMD loop spilled: measured slower than a separate JS pass.)
  const ctlF64 = (off: number): void => {
    get(ctl);
    c.push(OP.f64load, 0x03, ...uleb(off));
  };
  const setCtlF64 = (off: number, v: number): void => {
    get(ctl);
    get(v);
    c.push(OP.f64store, 0x03, ...uleb(off));
  };
  const addr = (ptr: number, idx: number, shift: number, minus = 0): void => {
    get(ptr);
    get(idx);
    c.push(OP.i32const, shift, OP.i32shl, OP.i32add);
    if (minus) c.push(OP.i32const, minus, OP.i32sub);
  };
  // Insert value local v into the descending f64 buffer at ptr (last index in local `last`), as
  // `while (j > 0 && buf[j − 1] < v) { buf[j] = buf[j − 1]; j−− } buf[j] = v`; then the control block's
  // slot runOff = buf[last] and F = max(F, buf[last]).
  const insert = (ptr: number, last: number, v: number, runOff: number): void => {
    get(last);
    set(jL);
    c.push(OP.block, 0x40, OP.loop, 0x40);
    get(jL);
    c.push(OP.i32eqz, OP.brIf, 1);
    addr(ptr, jL, 3, 8);
    c.push(OP.f64load, 0x03, 0x00);
    get(v);
    c.push(OP.f64lt, OP.i32eqz, OP.brIf, 1);
    addr(ptr, jL, 3);
    addr(ptr, jL, 3, 8);
    c.push(OP.f64load, 0x03, 0x00, OP.f64store, 0x03, 0x00);
    get(jL);
    c.push(OP.i32const, 1, OP.i32sub);
    set(jL);
    c.push(OP.br, 0, OP.end, OP.end);
    addr(ptr, jL, 3);
    get(v);
    c.push(OP.f64store, 0x03, 0x00);
    addr(ptr, last, 3);
    c.push(OP.f64load, 0x03, 0x00);
    set(lL);
    setCtlF64(runOff, lL);
    get(lL);
    ctlF64(32);
    c.push(OP.f64gt, OP.if, 0x40);
    setCtlF64(32, lL);
    c.push(OP.end);
  };
  const scanStep = (): void => {
    ctlF64(0);
    get(sdL);
    c.push(OP.f64mul);
    set(wL);
    get(mL);
    get(wL);
    c.push(OP.f64add, OP.tee, ...uleb(uL));
    ctlF64(8);
    c.push(OP.f64gt, OP.if, 0x40);
    setCtlF64(8, uL);
    c.push(OP.end);
    get(mL);
    get(wL);
    c.push(OP.f64sub, OP.tee, ...uleb(lL));
    ctlF64(16);
    c.push(OP.f64gt, OP.if, 0x40);
    insert(lowPtr, kLast, lL, 16);
    c.push(OP.end);
    get(mL);
    ctlF64(24);
    c.push(OP.f64gt, OP.if, 0x40);
    insert(topPtr, tm, mL, 24);
    c.push(OP.end);
    get(uL);
    ctlF64(32);
    c.push(OP.f64ge, OP.if, 0x40);
    get(ctl);
    c.push(OP.i32load, 0x02, ...uleb(40));
    set(jL);
    addr(supIdxPtr, jL, 2);
    get(i);
    c.push(OP.i32store, 0x02, 0x00);
    addr(supUPtr, jL, 3);
    get(uL);
    c.push(OP.f64store, 0x03, 0x00);
    addr(supMPtr, jL, 3);
    get(mL);
    c.push(OP.f64store, 0x03, 0x00);
    addr(supSdPtr, jL, 3);
    get(sdL);
    c.push(OP.f64store, 0x03, 0x00);
    get(ctl);
    get(jL);
    c.push(OP.i32const, 1, OP.i32add, OP.i32store, 0x02, ...uleb(40));
    c.push(OP.end);
  };
  c.push(OP.block, 0x40);
  get(nRows);
  c.push(OP.i32eqz, OP.brIf, 0);
  c.push(OP.loop, 0x40);
  // base = pBase + rows[i]·rowBytes
  get(pBase);
  get(rowsPtr);
  get(i);
  c.push(OP.i32const, 2, OP.i32shl, OP.i32add, OP.i32load, 0x02, 0x00);
  get(rowBytes);
  c.push(OP.i32mul, OP.i32add);
  set(base);
  for (let g = 0; g < G; g++) {
    const a = g & 1;
    get(xv + g);
    get(base);
    v128load(16 * g);
    mul();
    if (g >= 2) {
      get(accM[a]);
      add();
    }
    set(accM[a]);
    get(xxv + g);
    get(base);
    v128load(16 * (G + g));
    mul();
    if (g >= 2) {
      get(accS[a]);
      add();
    }
    set(accS[a]);
  }
  if (G === 1) {
    // a single group: the second accumulators are zero
    c.push(OP.simd, 0x0c, ...new Array<number>(16).fill(0));
    set(accM[1]);
    c.push(OP.simd, 0x0c, ...new Array<number>(16).fill(0));
    set(accS[1]);
  }
  get(outM);
  get(i);
  c.push(OP.i32const, 3, OP.i32shl, OP.i32add);
  hsum(accM[0], accM[1]);
  get(base);
  c.push(OP.f32load, 0x02, ...uleb(32 * G), OP.f32add, OP.f64promote);
  if (scan) c.push(OP.tee, ...uleb(mL));
  c.push(OP.f64store, 0x03, 0x00);
  get(outS);
  get(i);
  c.push(OP.i32const, 3, OP.i32shl, OP.i32add);
  hsum(accS[0], accS[1]);
  get(base);
  c.push(
    OP.f32load,
    0x02,
    ...uleb(32 * G + 4),
    OP.f32add,
    OP.tee32,
    ...uleb(sv),
    OP.f64promote,
    OP.f64store,
    0x03,
    0x00,
  );
  get(outSd);
  get(i);
  c.push(OP.i32const, 3, OP.i32shl, OP.i32add);
  get(sv);
  c.push(OP.f64promote, OP.f64sqrt);
  if (scan) c.push(OP.tee, ...uleb(sdL));
  c.push(OP.f64store, 0x03, 0x00);
  if (scan) scanStep();
  // i += 1; loop while i < nRows
  get(i);
  c.push(OP.i32const, 1, OP.i32add, OP.tee, ...uleb(i));
  get(nRows);
  c.push(OP.i32ltu, OP.brIf, 0, OP.end, OP.end);
  c.push(OP.end);

  const locals = scan
    ? [6, 0x02, I32, 0x04, V128, ...uleb(2 * G), V128, 0x01, F32, 0x05, F64, 0x01, I32]
    : [4, 0x02, I32, 0x04, V128, ...uleb(2 * G), V128, 0x01, F32];
  const body = [...locals, ...c];
  const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];
  const name = (t: string): number[] => [t.length, ...Array.from(t, (ch) => ch.charCodeAt(0))];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, P, ...new Array<number>(P).fill(I32), 0]),
    ...section(2, [1, ...name('e'), ...name('m'), 0x02, 0x00, 0x00]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name('s'), 0x00, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
}

const compiled = new Map<string, WasmModule | null>();
function wasmModule(groups: number, scan = false): WasmModule | null {
  const key = `${groups}:${scan}`;
  let m = compiled.get(key);
  if (m === undefined) {
    try {
      const bytes = buildModule(groups, scan);
      m = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
    } catch {
      m = null;
    }
    compiled.set(key, m);
  }
  return m;
}

/** True when this runtime runs the SIMD kernel (else serving uses the JS kernel). */
export function wasmSimdAvailable(): boolean {
  return wasmModule(1) !== null;
}

interface Prepared {
  readonly n: number;
  readonly dim: number;
  readonly groups: number;
  readonly rowBytes: number;
  readonly run: (...args: number[]) => void;
  /** The kernel with the sampler's scan fused in (null if it did not compile). */
  readonly runScan: ((...args: number[]) => void) | null;
  readonly f32: Float32Array;
  readonly f64: Float64Array;
  readonly i32: Int32Array;
  readonly xPtr: number;
  readonly xxPtr: number;
  readonly rowsPtr: number;
  readonly outMPtr: number;
  readonly outSPtr: number;
  readonly outSdPtr: number;
  readonly ctlPtr: number;
  readonly lowPtr: number;
  readonly topPtr: number;
  readonly supIdxPtr: number;
  readonly supUPtr: number;
  readonly supMPtr: number;
  readonly supSdPtr: number;
  readonly buffer: ArrayBuffer;
}

/** Largest scan buffers the kernel's memory reserves (slate size ≤ 100 needs ⌈3μ⌉ ≤ 432). */
const SCAN_MAX_K = 128;
const SCAN_MAX_TOP = 512;

const prepared = new WeakMap<ServingSnapshot, Prepared | null>();

/**
 * Copy a snapshot into the kernel's memory layout (once per snapshot; ~n·(2d+4) floats). Call it when a
 * model is swapped in so the first request does not pay. Returns false when WebAssembly SIMD is absent
 * or the model does not fit in 4 GiB.
 */
export function prepareSnapshotForWasm(snapshot: ServingSnapshot, replaces?: ServingSnapshot): boolean {
  if (prepared.has(snapshot)) return prepared.get(snapshot) !== null;
  const n = snapshot.itemIds.length;
  const d = snapshot.dim;
  const groups = Math.ceil(d / 4);
  const mod = groups <= 64 ? wasmModule(groups) : null; // d ≤ 256: 2G v128 locals stay reasonable
  const rowFloats = 8 * groups + 4;
  // items, x and xx, rows (i32), 3 × f64 outputs, scan (control block, low, top, n i32 + 3n f64), alignment
  const floats = n * rowFloats + 8 * groups + 7 * n + 2 + 16 + 2 * (SCAN_MAX_K + SCAN_MAX_TOP) + 7 * n + 4;
  const bytes = floats * 4;
  if (!mod || bytes > 4 * 1024 ** 3 - 65536) {
    prepared.set(snapshot, null);
    return false;
  }
  // The memory of the snapshot this one replaces, when it is large enough: a fresh one costs a page fault per
  // 4 KiB written (most of a 10k-item preparation). The replaced snapshot is forgotten here, so were it served
  // again it would be laid out again, not read from memory that now holds this one.
  const old = replaces && prepared.get(replaces);
  if (replaces) prepared.delete(replaces);
  const reuse = old && old.groups === groups && old.buffer.byteLength >= bytes ? old : null;
  const memory = reuse ? null : new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536) });
  const instance = reuse ? null : new WebAssembly.Instance(mod, { e: { m: memory! } });
  const scanMod = wasmModule(groups, true);
  const scanInstance = reuse || !scanMod ? null : new WebAssembly.Instance(scanMod, { e: { m: memory! } });
  const buffer = reuse ? reuse.buffer : memory!.buffer;
  const f32 = reuse ? reuse.f32 : new Float32Array(buffer);
  const i32 = reuse ? reuse.i32 : new Int32Array(buffer);
  const { mean, variance, stride } = snapshot;
  for (let i = 0; i < n; i++) {
    const src = i * stride;
    const dst = i * rowFloats;
    const vDst = dst + 4 * groups;
    for (let c = 0; c < d; c++) {
      f32[dst + c] = mean[src + c];
      f32[vDst + c] = variance[src + c];
    }
    for (let c = d; c < 4 * groups; c++) {
      f32[dst + c] = 0; // padding lanes add 0 (reused memory may hold anything there)
      f32[vDst + c] = 0;
    }
    f32[dst + 8 * groups] = mean[src + d];
    f32[dst + 8 * groups + 1] = variance[src + d];
    f32[dst + 8 * groups + 2] = 0;
    f32[dst + 8 * groups + 3] = 0;
  }
  const xPtr = n * rowFloats * 4;
  const xxPtr = xPtr + 16 * groups;
  const rowsPtr = xxPtr + 16 * groups;
  const outMPtr = (rowsPtr + 4 * n + 7) & ~7; // float64 views need 8-byte alignment
  const outSPtr = outMPtr + 8 * n;
  const outSdPtr = outSPtr + 8 * n;
  const ctlPtr = outSdPtr + 8 * n;
  const lowPtr = ctlPtr + 64;
  const topPtr = lowPtr + 8 * SCAN_MAX_K;
  const supUPtr = topPtr + 8 * SCAN_MAX_TOP;
  const supMPtr = supUPtr + 8 * n;
  const supSdPtr = supMPtr + 8 * n;
  const supIdxPtr = supSdPtr + 8 * n;
  prepared.set(snapshot, {
    n,
    dim: d,
    groups,
    rowBytes: rowFloats * 4,
    run: reuse ? reuse.run : (instance!.exports.s as (...args: number[]) => void),
    runScan: reuse
      ? reuse.runScan
      : scanInstance
        ? (scanInstance.exports.s as (...args: number[]) => void)
        : null,
    f32,
    f64: reuse ? reuse.f64 : new Float64Array(buffer),
    i32,
    xPtr,
    xxPtr,
    rowsPtr,
    outMPtr,
    outSPtr,
    outSdPtr,
    ctlPtr,
    lowPtr,
    topPtr,
    supIdxPtr,
    supUPtr,
    supMPtr,
    supSdPtr,
    buffer,
  });
  return true;
}

/** Parameters of the sampler's scan to fuse into scoring (see `scanSpec` in thompson-sampler.ts). */
export interface FusedScanSpec {
  /** The cut b. */
  readonly b: number;
  /** Slate size k (length of the lower-value buffer). */
  readonly k: number;
  /** Length of the top-means buffer. */
  readonly topCount: number;
}

/**
 * Score moments (and sds) by the SIMD kernel, or null when it is unavailable for this snapshot.
 * With `inPlace`, the arrays are views on the kernel's scratch memory, valid until the next call for
 * the same snapshot (serving uses them synchronously within one request: no copy, no garbage);
 * otherwise they are copies. With `scan` (and `inPlace`), the same pass also computes the Thompson
 * sampler's scan (`CandidateScan`, views on the kernel's memory too), returned as `scan`.
 */
export function scoreMomentsWasm(
  snapshot: ServingSnapshot,
  x: ArrayLike<number>,
  rows: Int32Array,
  inPlace = false,
  scan?: FusedScanSpec,
  length = rows.length,
): (ScoredCandidates & { scan?: CandidateScan }) | null {
  if (!prepareSnapshotForWasm(snapshot)) return null;
  const p = prepared.get(snapshot)!;
  const { f32, i32, groups } = p;
  const n = rows.length;
  // In place, the output views may be longer than the rows scored (≤ the snapshot's item count): the
  // caller fills the rest (class layouts).
  const len = inPlace ? Math.min(Math.max(n, length), p.n) : n;
  const xo = p.xPtr >> 2;
  const xxo = p.xxPtr >> 2;
  for (let j = 0; j < 4 * groups; j++) {
    const v = j < p.dim ? x[j] : 0;
    f32[xo + j] = v;
    f32[xxo + j] = v * v;
  }
  i32.set(rows, p.rowsPtr >> 2);
  const fuse =
    inPlace && scan && p.runScan && scan.k >= 1 && scan.k <= SCAN_MAX_K && scan.topCount <= SCAN_MAX_TOP;
  if (fuse) {
    const { f64, ctlPtr, lowPtr, topPtr } = p;
    const ctl = ctlPtr >> 3;
    f64[ctl] = scan.b;
    f64.fill(-Infinity, ctl + 1, ctl + 5); // uMax, low[k−1], M, F
    i32[(ctlPtr >> 2) + 10] = 0; // count
    f64.fill(-Infinity, lowPtr >> 3, (lowPtr >> 3) + scan.k);
    f64.fill(-Infinity, topPtr >> 3, (topPtr >> 3) + scan.topCount);
    p.runScan!(
      0,
      p.rowBytes,
      p.xPtr,
      p.xxPtr,
      p.rowsPtr,
      n,
      p.outMPtr,
      p.outSPtr,
      p.outSdPtr,
      ctlPtr,
      lowPtr,
      scan.k - 1,
      topPtr,
      scan.topCount - 1,
      p.supIdxPtr,
      p.supUPtr,
      p.supMPtr,
      p.supSdPtr,
    );
  } else p.run(0, p.rowBytes, p.xPtr, p.xxPtr, p.rowsPtr, n, p.outMPtr, p.outSPtr, p.outSdPtr);
  const mean = new Float64Array(p.buffer, p.outMPtr, len);
  const variance = new Float64Array(p.buffer, p.outSPtr, len);
  const sd = new Float64Array(p.buffer, p.outSdPtr, len);
  if (!inPlace) return { n, rows, mean: mean.slice(), variance: variance.slice(), sd: sd.slice() };
  if (!fuse) return { n: len, rows, mean, variance, sd };
  const ctl = p.ctlPtr >> 3;
  const fused: CandidateScan = {
    uMax: p.f64[ctl + 1],
    low: new Float64Array(p.buffer, p.lowPtr, scan.k),
    topMeans: new Float64Array(p.buffer, p.topPtr, scan.topCount),
    collected: true,
    count: i32[(p.ctlPtr >> 2) + 10],
    idx: new Int32Array(p.buffer, p.supIdxPtr, n),
    u: new Float64Array(p.buffer, p.supUPtr, n),
    m: new Float64Array(p.buffer, p.supMPtr, n),
    sd: new Float64Array(p.buffer, p.supSdPtr, n),
  };
  return { n: len, rows, mean, variance, sd, scan: fused };
}
