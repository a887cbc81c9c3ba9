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

  /** Standard normal N(0, 1), exact ziggurat. */
  normal(): number {
    for (;;) {
      const u = this.nextInt32();
      const iz = u >>> 25;
      const hz = u << 7; // signed, |hz| ≤ 2^31
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
   * Standard normal conditioned on z > a, any a. For a < 0.4 plain rejection (acceptance ≥ 0.34);
   * above, Robert's (1995) translated-exponential proposal a + Exp(λ), λ = (a + √(a² + 4))/2, accepted
   * with probability exp(−(x − λ)²/2) (acceptance ≥ 0.76).
   */
  normalAbove(a: number): number {
    if (a < 0.4) {
      let z = this.normal();
      while (z <= a) z = this.normal();
      return z;
    }
    const lambda = 0.5 * (a + Math.sqrt(a * a + 4));
    for (;;) {
      const x = a - Math.log(this.nextOpen()) / lambda;
      const d = x - lambda;
      if (-2 * Math.log(this.nextOpen()) > d * d) return x;
    }
  }

  /** Standard normal conditioned on z ≤ a. */
  normalBelow(a: number): number {
    return -this.normalAbove(-a);
  }
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
