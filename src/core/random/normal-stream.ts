import type { Rng } from './rng';

/**
 * A fast stream of uniforms and exact standard normals for hot loops (Thompson sampling).
 *
 * Same generator as `Rng` (xoshiro128**), seeded from it, but the state lives in an Int32Array: V8 keeps
 * typed-array elements unboxed, whereas `Rng`'s numeric fields hold values outside the 31-bit Smi range
 * and get boxed, which costs ~25 ns per draw here against ~3 ns for this one.
 * Deterministic given the seeding `Rng`'s state.
 *
 * `normal()` is the ziggurat of Marsaglia & Tsang (2000), 128 layers: exact (rejection for wedges and
 * tail), one 32-bit draw and a compare in ~98.8% of calls. The layer index takes the top 7 bits and the
 * signed abscissa the other 25, so layer and value are independent (Doornik 2005).
 */
export class NormalStream {
  private readonly s = new Int32Array(4);

  constructor(seed: Rng) {
    const s = this.s;
    for (let i = 0; i < 4; i++) s[i] = seed.nextUint32() | 0;
    if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  }

  /** Uniform 32-bit integer as a signed int32. */
  nextInt32(): number {
    const s = this.s;
    const s1 = s[1];
    const x = Math.imul(s1, 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9);
    const t = s1 << 9;
    s[2] ^= s[0];
    s[3] ^= s1;
    s[1] = s1 ^ s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    const s3 = s[3];
    s[3] = (s3 << 11) | (s3 >>> 21);
    return result;
  }

  /** Uniform in (0, 1): safe for logarithms. */
  nextOpen(): number {
    return ((this.nextInt32() >>> 0) + 0.5) / 4294967296;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return (this.nextInt32() >>> 0) / 4294967296;
  }

  /**
   * Standard normal N(0, 1), exact ziggurat. The common case is kept this small so that hot loops
   * inline it (a call that returns a double boxes it: a heap allocation per draw); the rest of the
   * ziggurat is `normalSlow`, with the same draws in the same order.
   */
  normal(): number {
    const u = this.nextInt32();
    const iz = u >>> 25;
    const hz = u << 7; // signed, |hz| ≤ 2^31
    if (Math.abs(hz) < KN[iz]) return hz * WN[iz];
    return +this.normalSlow(u); // (see `exponential` for the unary plus)
  }

  /** `normal()` once its first draw `u` fell outside its layer's rectangle. */
  private normalSlow(first: number): number {
    for (let u = first; ; u = this.nextInt32()) {
      const iz = u >>> 25;
      const hz = u << 7;
      if (Math.abs(hz) < KN[iz]) return hz * WN[iz];
      const x = hz * WN[iz];
      if (iz === 0) {
        // Base strip beyond R: Marsaglia's exponential rejection for the tail.
        let t: number, y: number;
        do {
          t = -Math.log(this.nextOpen()) / R;
          y = -Math.log(this.nextOpen());
        } while (y + y < t * t);
        return hz > 0 ? R + t : -R - t;
      }
      if (FN[iz] + this.next() * (FN[iz - 1] - FN[iz]) < Math.exp(-0.5 * x * x)) return x;
    }
  }

  /**
   * Standard exponential Exp(1), exact ziggurat (Marsaglia & Tsang 2000, 256 layers): one 32-bit draw
   * and a compare in ~98.9% of calls, against a logarithm of a uniform (~4× slower here). The layer
   * index takes the low 8 bits and the abscissa the other 24, so layer and value are independent.
   */
  exponential(): number {
    const u = this.nextInt32();
    const iz = u & 255;
    const j = u >>> 8;
    if (j < KE[iz]) return j * WE[iz];
    // ~1.1% of calls. The unary plus types the result as a number, so that the inlined fast path stays an
    // unboxed double (merged with an untyped call result, it would be boxed: see `normal`).
    return +this.exponentialSlow(u);
  }

  /** `exponential()` once its first draw `u` fell outside its layer's rectangle. */
  private exponentialSlow(first: number): number {
    for (let u = first; ; u = this.nextInt32()) {
      const iz = u & 255;
      const j = u >>> 8;
      if (j < KE[iz]) return j * WE[iz];
      // Base strip beyond RE: RE + Exp(1) (memoryless tail).
      if (iz === 0) return RE - Math.log(this.nextOpen());
      const x = j * WE[iz];
      if (FE[iz] + this.next() * (FE[iz - 1] - FE[iz]) < Math.exp(-x)) return x;
    }
  }

  /**
   * Standard normal conditioned on z > a, any a. For a < 0.4 plain rejection (acceptance ≥ 0.34);
   * above, Robert's (1995) translated-exponential proposal a + Exp(λ), λ = (a + √(a² + 4))/2, accepted
   * with probability exp(−(x − λ)²/2) (acceptance ≥ 0.76), i.e. iff 2·E > (x − λ)² with E ~ Exp(1).
   * Both exponentials come from the ziggurat (no logarithm in the common case).
   */
  normalAbove(a: number): number {
    if (a < 0.4) {
      let z = this.normal();
      while (z <= a) z = this.normal();
      return z;
    }
    return this.normalTail(a, robertRate(a));
  }

  /** `normalAbove(a)` for a ≥ 0.4, with λ = `robertRate(a)` precomputed (hot loops reuse it). */
  normalTail(a: number, lambda: number): number {
    for (;;) {
      const x = a + this.exponential() / lambda;
      const d = x - lambda;
      if (2 * this.exponential() > d * d) return x;
    }
  }

  /** Standard normal conditioned on z ≤ a. */
  normalBelow(a: number): number {
    return -this.normalAbove(-a);
  }
}

/** Robert's optimal rate for the tail z > a: λ = (a + √(a² + 4))/2. */
export function robertRate(a: number): number {
  return 0.5 * (a + Math.sqrt(a * a + 4));
}

const LAYERS = 128;
const R = 3.442619855899; // start of the tail
const V = 9.91256303526217e-3; // area of each layer
const M31 = 2147483648;
/** |hz| < KN[i] → inside layer i's rectangle: accept at once. */
export const KN = new Float64Array(LAYERS);
/** hz · WN[i] = x. */
export const WN = new Float64Array(LAYERS);
/** exp(−x_i²/2) at the layer edges. */
export const FN = new Float64Array(LAYERS);

(function buildTables(): void {
  let dn = R;
  let tn = dn;
  const q = V / Math.exp(-0.5 * dn * dn);
  KN[0] = (dn / q) * M31;
  KN[1] = 0;
  WN[0] = q / M31;
  WN[LAYERS - 1] = dn / M31;
  FN[0] = 1;
  FN[LAYERS - 1] = Math.exp(-0.5 * dn * dn);
  for (let i = LAYERS - 2; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(V / dn + Math.exp(-0.5 * dn * dn)));
    KN[i + 1] = (dn / tn) * M31;
    tn = dn;
    FN[i] = Math.exp(-0.5 * dn * dn);
    WN[i] = dn / M31;
  }
})();

const E_LAYERS = 256;
const RE = 7.69711747013105; // start of the exponential tail
const VE = 3.949659822581572e-3; // area of each layer
const M24 = 16777216;
/** j < KE[i] → inside layer i's rectangle (j the 24-bit abscissa). */
export const KE = new Float64Array(E_LAYERS);
/** j · WE[i] = x. */
export const WE = new Float64Array(E_LAYERS);
/** exp(−x_i) at the layer edges. */
export const FE = new Float64Array(E_LAYERS);

(function buildExponentialTables(): void {
  let de = RE;
  let te = de;
  const q = VE / Math.exp(-de);
  KE[0] = (de / q) * M24;
  KE[1] = 0;
  WE[0] = q / M24;
  WE[E_LAYERS - 1] = de / M24;
  FE[0] = 1;
  FE[E_LAYERS - 1] = Math.exp(-de);
  for (let i = E_LAYERS - 2; i >= 1; i--) {
    de = -Math.log(VE / de + Math.exp(-de));
    KE[i + 1] = (de / te) * M24;
    te = de;
    FE[i] = Math.exp(-de);
    WE[i] = de / M24;
  }
})();
