import type { ServingSnapshot } from '../model/serving-snapshot';
import type { ScoredCandidates } from './policy-types';

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

function buildModule(G: number): Uint8Array {
  // params 0..7, then locals: i, base (i32); accM0, accM1, accS0, accS1 (v128); x_0..x_{G−1}, xx_0..xx_{G−1} (v128)
  const pBase = 0, rowBytes = 1, xPtr = 2, xxPtr = 3, rowsPtr = 4, nRows = 5, outM = 6, outS = 7, outSd = 8; // prettier-ignore
  const i = 9, base = 10, accM = [11, 12], accS = [13, 14], xv = 15, xxv = 15 + G, sv = 15 + 2 * G; // prettier-ignore
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
  c.push(OP.f32load, 0x02, ...uleb(32 * G), OP.f32add, OP.f64promote, OP.f64store, 0x03, 0x00);
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
  c.push(OP.f64promote, OP.f64sqrt, OP.f64store, 0x03, 0x00);
  // i += 1; loop while i < nRows
  get(i);
  c.push(OP.i32const, 1, OP.i32add, OP.tee, ...uleb(i));
  get(nRows);
  c.push(OP.i32ltu, OP.brIf, 0, OP.end, OP.end, OP.end);

  const locals = [4, 0x02, I32, 0x04, V128, ...uleb(2 * G), V128, 0x01, 0x7d];
  const body = [...locals, ...c];
  const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];
  const name = (t: string): number[] => [t.length, ...Array.from(t, (ch) => ch.charCodeAt(0))];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, 9, ...new Array<number>(9).fill(I32), 0]),
    ...section(2, [1, ...name('e'), ...name('m'), 0x02, 0x00, 0x00]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name('s'), 0x00, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
}

const compiled = new Map<number, WasmModule | null>();
function wasmModule(groups: number): WasmModule | null {
  let m = compiled.get(groups);
  if (m === undefined) {
    try {
      const bytes = buildModule(groups);
      m = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
    } catch {
      m = null;
    }
    compiled.set(groups, m);
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
  readonly f32: Float32Array;
  readonly i32: Int32Array;
  readonly xPtr: number;
  readonly xxPtr: number;
  readonly rowsPtr: number;
  readonly outMPtr: number;
  readonly outSPtr: number;
  readonly outSdPtr: number;
  readonly buffer: ArrayBuffer;
}

const prepared = new WeakMap<ServingSnapshot, Prepared | null>();

/**
 * Copy a snapshot into the kernel's memory layout (once per snapshot; ~n·(2d+4) floats). Call it when a
 * model is swapped in so the first request does not pay. Returns false when WebAssembly SIMD is absent
 * or the model does not fit in 4 GiB.
 */
export function prepareSnapshotForWasm(snapshot: ServingSnapshot): boolean {
  if (prepared.has(snapshot)) return prepared.get(snapshot) !== null;
  const n = snapshot.itemIds.length;
  const d = snapshot.dim;
  const groups = Math.ceil(d / 4);
  const mod = groups <= 64 ? wasmModule(groups) : null; // d ≤ 256: 2G v128 locals stay reasonable
  const rowFloats = 8 * groups + 4;
  const floats = n * rowFloats + 8 * groups + 7 * n + 2; // items, x and xx, rows (i32), 3 × f64 outputs, alignment
  const bytes = floats * 4;
  if (!mod || bytes > 4 * 1024 ** 3 - 65536) {
    prepared.set(snapshot, null);
    return false;
  }
  const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536) });
  const instance = new WebAssembly.Instance(mod, { e: { m: memory } });
  const f32 = new Float32Array(memory.buffer);
  const i32 = new Int32Array(memory.buffer);
  const { mean, variance, stride } = snapshot;
  for (let i = 0; i < n; i++) {
    const src = i * stride;
    const dst = i * rowFloats;
    f32.set(mean.subarray(src, src + d), dst);
    f32.set(variance.subarray(src, src + d), dst + 4 * groups);
    f32[dst + 8 * groups] = mean[src + d];
    f32[dst + 8 * groups + 1] = variance[src + d];
  }
  const xPtr = n * rowFloats * 4;
  const xxPtr = xPtr + 16 * groups;
  const rowsPtr = xxPtr + 16 * groups;
  const outMPtr = (rowsPtr + 4 * n + 7) & ~7; // float64 views need 8-byte alignment
  const outSPtr = outMPtr + 8 * n;
  const outSdPtr = outSPtr + 8 * n;
  prepared.set(snapshot, {
    n,
    dim: d,
    groups,
    rowBytes: rowFloats * 4,
    run: instance.exports.s as (...args: number[]) => void,
    f32,
    i32,
    xPtr,
    xxPtr,
    rowsPtr,
    outMPtr,
    outSPtr,
    outSdPtr,
    buffer: memory.buffer,
  });
  return true;
}

/**
 * Score moments (and sds) by the SIMD kernel, or null when it is unavailable for this snapshot.
 * With `inPlace`, the arrays are views on the kernel's scratch memory, valid until the next call for
 * the same snapshot (serving uses them synchronously within one request: no copy, no garbage);
 * otherwise they are copies.
 */
export function scoreMomentsWasm(
  snapshot: ServingSnapshot,
  x: ArrayLike<number>,
  rows: Int32Array,
  inPlace = false,
): ScoredCandidates | null {
  if (!prepareSnapshotForWasm(snapshot)) return null;
  const p = prepared.get(snapshot)!;
  const { f32, i32, groups } = p;
  const n = rows.length;
  const xo = p.xPtr >> 2;
  const xxo = p.xxPtr >> 2;
  for (let j = 0; j < 4 * groups; j++) {
    const v = j < p.dim ? x[j] : 0;
    f32[xo + j] = v;
    f32[xxo + j] = v * v;
  }
  i32.set(rows, p.rowsPtr >> 2);
  p.run(0, p.rowBytes, p.xPtr, p.xxPtr, p.rowsPtr, n, p.outMPtr, p.outSPtr, p.outSdPtr);
  const mean = new Float64Array(p.buffer, p.outMPtr, n);
  const variance = new Float64Array(p.buffer, p.outSPtr, n);
  const sd = new Float64Array(p.buffer, p.outSdPtr, n);
  return inPlace
    ? { n, rows, mean, variance, sd }
    : { n, rows, mean: mean.slice(), variance: variance.slice(), sd: sd.slice() };
}
