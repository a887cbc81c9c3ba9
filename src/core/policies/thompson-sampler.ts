import type { NormalStream } from '../random';
import { normalSfFast, normalSfInverse, normalSfPrecise } from './internal/gaussian';
import { nextStamp, scratchInt32 } from './internal/scratch';

/**
 * Exact top-k of one Thompson draw without sampling every candidate.
 *
 * A draw gives candidate c the sample X_c = m_c + sd_c · z_c with z_c iid N(0, 1); we need the k largest.
 * Split each z_c by a cut b (chosen per request so that n·Q(b) ≈ 1, Q the normal upper tail):
 *   - "exceedances" (z_c > b) happen independently with the same probability q = Q(b) for every
 *     candidate, so their set is a Bernoulli(q) process over 0..n−1, drawn with geometric skips
 *     (≈ n·q ≈ 1 per draw); their z is drawn from the tail z > b;
 *   - every other candidate has z_c ≤ b, hence X_c ≤ U_c = m_c + b · sd_c.
 * Candidates are visited by decreasing U (bucketed once per request); a candidate whose U is below the
 * current k-th best sample cannot enter the top k, and once a whole bucket's max U is below it, nor
 * can any later one: the walk stops. Nothing is approximated: the result has exactly the law of
 * "sample all n, take the top k". The cost is the number of candidates whose U beats the k-th best.
 *
 * Threshold mode (the default when n is not tiny), built on top: a threshold T is fixed per request
 * so that the expected number of candidates whose sample exceeds T is μ = k + 4√k + 4. The set
 * E = {c : X_c > T} is drawn directly, by thinning: candidates with U_c ≥ T are bucketed by
 * a_c = (T − m_c)/sd_c in bands of 0.3; in a band, proposals come at rate Q(a0) (a0 the band's
 * smallest a, Q computed to ~1e-14) by geometric skips, each with z ~ N(0,1 | z > a0), accepted iff
 * z > a_c: P(c ∈ E, z ∈ dz) = φ(z)·1{z > a_c}, exactly (bands with a0 < 0.5, i.e. rate > 0.3, just
 * draw z ~ N(0, 1) for every member and keep z > a_c). Every other candidate has a_c > b and is
 * proposed at rate Q(b) over all n positions the same way. If |E| ≥ k the top k of E is the top k of
 * the draw; otherwise (probability ≈ P(Poisson(μ) < k) ≈ 1e-4) every candidate outside E is drawn
 * from its law conditioned on X ≤ T and merged — still exact. Cost per draw ≈ 2μ proposals.
 * T itself (a bisection on a tabulated Q) only steers the cost, never the law.
 *
 * Per request: O(n) to compute U and bucket the candidates that can matter
 * (A = {c : U_c ≥ L}, L the k-th largest lower value m_c − b·sd_c); candidates outside A are only
 * walked when the k-th best sample falls below L (probability ≤ k·q per draw; still exact).
 */
export class ThompsonTopK {
  readonly n: number;
  readonly k: number;
  /** The cut b on z (see above). */
  readonly cut: number;
  /** Size of the bucketed set (A in walk mode; the candidates with U ≥ M in threshold mode). */
  get walkSetSize(): number {
    return this.ord.length;
  }
  /** Running count of body samples drawn (how much pruning saved: compare with n per draw). */
  sampled = 0;
  /** Running count of threshold-mode draws that needed the exact O(n) fallback. */
  fallbacks = 0;
  /** Threshold T of threshold mode (NaN when the walk is used). */
  get threshold(): number {
    return this.thr;
  }
  private thr = NaN;

  private readonly mean: Float64Array;
  private readonly sd: Float64Array;
  private readonly logOneMinusQ: number;
  private ord = new Int32Array(0);
  private ordU = new Float64Array(0);
  private ordM = new Float64Array(0);
  private ordSd = new Float64Array(0);
  private bucketStart = new Int32Array(1);
  private bucketMax = new Float64Array(0);
  private readonly cutLow: number;
  private readonly uMax: number;
  private outsideMaxU = -Infinity;
  /** The floor of the bucketed set: every candidate outside it has U below this. */
  private setFloor = -Infinity;
  private readonly stamp: Int32Array;
  private readonly topIdx: Int32Array;
  private readonly topVal: Float64Array;
  private size = 0;

  // Threshold mode: bands of candidates with U ≥ T, by a = (T − m)/sd.
  private hIdx = new Int32Array(0);
  private hA = new Float64Array(0);
  private hM = new Float64Array(0);
  private hSd = new Float64Array(0);
  private hStart = new Int32Array(1);
  private hA0 = new Float64Array(0);
  private hLogOneMinusQ0 = new Float64Array(0);
  private hNone = new Float64Array(0); // P(no proposal in the band) = (1 − q0)^size

  /**
   * @param mean score means m_c
   * @param sd score standard deviations sd_c (≥ 0)
   * @param k how many of the top samples each draw returns (1 ≤ k ≤ n)
   * @param options.mode 'walk' forces walk mode (tests); default: threshold mode when it applies
   * @param options.targetExceedances μ, the expected |E| (default k + 4√k + 4)
   */
  constructor(
    mean: Float64Array,
    sd: Float64Array,
    k: number,
    options: { targetExceedances?: number; mode?: 'walk' | 'auto' } = {},
  ) {
    const n = mean.length;
    this.n = n;
    this.k = k;
    this.mean = mean;
    this.sd = sd;
    // n·Q(b) ≈ 1 balances exceedance work (≈ n·Q(b) per draw) against a longer walk; b ≥ 2 keeps the
    // tail sampler efficient and the body rejection rate ≤ 2.3%.
    const b = Math.min(8, Math.max(2, normalSfInverse(Math.min(0.5, 1 / n))));
    this.cut = b;
    this.logOneMinusQ = Math.log1p(-normalSfPrecise(b)); // the exceedance rate must be exact
    this.topIdx = new Int32Array(k);
    this.topVal = new Float64Array(k);
    this.stamp = scratchInt32('thompson.stamp', n);

    const mu = options.targetExceedances ?? k + 4 * Math.sqrt(k) + 4;
    const tryThreshold = options.mode !== 'walk' && n >= 2 * mu;
    // Pass 1: max U, L = k-th largest of m − b·sd, and (threshold mode) M = the ⌈3μ⌉-th largest mean:
    // at t = M at least 3μ candidates have P(X > t) ≥ ½, so the threshold usually sits above M and only
    // candidates with U ≥ M matter for choosing it (small descending buffers, rare inserts).
    let uMax = -Infinity;
    const low = new Float64Array(k).fill(-Infinity);
    const topMeans = new Float64Array(tryThreshold ? Math.ceil(3 * mu) : 1).fill(-Infinity);
    const tm = topMeans.length - 1;
    for (let c = 0; c < n; c++) {
      const m = mean[c];
      const w = b * sd[c];
      if (m + w > uMax) uMax = m + w;
      const l = m - w;
      if (l > low[k - 1]) {
        let j = k - 1;
        while (j > 0 && low[j - 1] < l) {
          low[j] = low[j - 1];
          j--;
        }
        low[j] = l;
      }
      if (m > topMeans[tm]) {
        let j = tm;
        while (j > 0 && topMeans[j - 1] < m) {
          topMeans[j] = topMeans[j - 1];
          j--;
        }
        topMeans[j] = m;
      }
    }
    this.cutLow = low[k - 1];
    this.uMax = uMax;
    if (tryThreshold && topMeans[tm] > this.cutLow) {
      this.bucketAbove(topMeans[tm]);
      this.thr = this.planThreshold(mu);
      if (this.thr === this.thr) return;
    }
    // Walk mode's A = {U ≥ L} (everything else only matters in the rare fallback); threshold mode can
    // still be planned on it when the cheaper set above was too small.
    this.bucketAbove(this.cutLow);
    if (tryThreshold) this.thr = this.planThreshold(mu);
  }

  /** Collect the candidates with U ≥ floor and bucket them by U, highest first (a counting sort). */
  private bucketAbove(floor: number): void {
    const { mean, sd, n, uMax } = this;
    const b = this.cut;
    // A scratch array, not a growing number[]: pushing 100k members cost ~1 ms per request (cold
    // catalogues put every candidate in this set).
    const members = scratchInt32('thompson.members', n);
    let inA = 0;
    let outsideMaxU = -Infinity;
    for (let c = 0; c < n; c++) {
      const u = mean[c] + b * sd[c];
      if (u >= floor) members[inA++] = c;
      else if (u > outsideMaxU) outsideMaxU = u;
    }
    const B = 128;
    const width = (uMax - floor) / B;
    const scale = width > 0 ? 1 / width : 0;
    const bucketOfA = new Int32Array(inA);
    const counts = new Int32Array(B + 1);
    for (let t = 0; t < inA; t++) {
      const c = members[t];
      const bk = Math.min(B - 1, Math.floor((uMax - (mean[c] + b * sd[c])) * scale));
      bucketOfA[t] = bk;
      counts[bk + 1]++;
    }
    for (let t = 0; t < B; t++) counts[t + 1] += counts[t];
    this.bucketStart = counts.slice();
    const ord = new Int32Array(inA);
    const bucketMax = new Float64Array(B).fill(-Infinity);
    // Locals, not `this.` fields, in the O(n) loops (V8 reloads fields on every iteration).
    const ordU = (this.ordU = new Float64Array(inA));
    const ordM = (this.ordM = new Float64Array(inA));
    const ordSd = (this.ordSd = new Float64Array(inA));
    for (let t = 0; t < inA; t++) {
      const c = members[t];
      const bk = bucketOfA[t];
      const w = counts[bk]++;
      const u = mean[c] + b * sd[c];
      ord[w] = c;
      ordU[w] = u;
      ordM[w] = mean[c];
      ordSd[w] = sd[c];
      if (u > bucketMax[bk]) bucketMax[bk] = u;
    }
    this.ord = ord;
    this.bucketMax = bucketMax;
    this.outsideMaxU = outsideMaxU;
    this.setFloor = floor;
  }

  /** Choose T (bisection on the expected exceedance count) and band the candidates with U ≥ T. */
  private planThreshold(mu: number): number {
    const { ord, ordU, ordM, ordSd, bucketStart, bucketMax, n } = this;
    if (n < 2 * mu || ord.length === 0) return NaN;
    const B = bucketMax.length;
    // Is the expected |E| at threshold t at least mu? Over A's candidates with U ≥ t (the rest add
    // ≤ n·Q(b) ≈ 1), highest U first, stopping as soon as the answer is known. A large bucket (a cold
    // catalogue puts every candidate in one) is subsampled: ~256 evenly spaced members, each weighted
    // by the bucket's size over the number taken (T only steers the cost, so an estimate is enough;
    // small buckets, where the top candidates live, are summed exactly).
    const reaches = (t: number, exact = false): boolean => {
      let e = 0;
      let lastM = NaN;
      let lastSd = NaN;
      let lastQ = 0;
      for (let bk = 0; bk < B; bk++) {
        const start = bucketStart[bk];
        const end = bucketStart[bk + 1];
        if (end === start) continue;
        if (bucketMax[bk] < t) break;
        const step = exact ? 1 : Math.max(1, Math.floor((end - start) / 256));
        const weight = (end - start) / Math.ceil((end - start) / step);
        for (let j = start; j < end; j += step)
          if (ordU[j] >= t) {
            // Runs of identical (m, sd) (cold items at one prior) reuse the last tail value.
            if (ordM[j] !== lastM || ordSd[j] !== lastSd) {
              lastM = ordM[j];
              lastSd = ordSd[j];
              lastQ = lastSd > 0 ? normalSfFast((t - lastM) / lastSd) : lastM > t ? 1 : 0;
            }
            e += weight * lastQ;
          }
        if (e >= mu) return true;
      }
      return false;
    };
    // T may sit anywhere at or above the set's floor: every candidate with U ≥ T is then in the set
    // (the others have U < floor ≤ T). Starting the search at the smallest U of the set instead (as
    // this did before) finds nothing when the set's U are all equal, e.g. a cold catalogue at one
    // prior: there n·Q(b) ≈ 1 < μ at every T ≥ U, and the walk then sampled every candidate per draw.
    let lo = this.setFloor;
    if (!(lo > -Infinity)) {
      lo = ordU[ord.length - 1];
      for (let j = 0; j < ord.length; j++) lo = Math.min(lo, ordU[j]);
    }
    let hi = bucketMax[0];
    for (let bk = 0; bk < B; bk++) hi = Math.max(hi, bucketMax[bk]);
    if (!reaches(lo, true)) return NaN;
    // T only sets the cost, never the law; keeping the side that reaches mu, 6 halvings suffice.
    const lo0 = lo;
    const hi0 = hi;
    for (let it = 0; it < 6; it++) {
      const mid = 0.5 * (lo + hi);
      if (reaches(mid)) lo = mid;
      else hi = mid;
    }
    if (lo > lo0 && !reaches(lo, true)) {
      // The subsample overestimated (a few strong candidates in a large bucket): redo it exactly, so a
      // bad estimate never makes the O(n) fallback common.
      lo = lo0;
      hi = hi0;
      for (let it = 0; it < 6; it++) {
        const mid = 0.5 * (lo + hi);
        if (reaches(mid, true)) lo = mid;
        else hi = mid;
      }
    }
    const T = lo;
    // Band H = {U ≥ T} by a = (T − m)/sd ≤ b: band 0 holds a ∈ (b − 0.3, b], …, the last a ≤ −3.
    const b = this.cut;
    const W = 0.3;
    const J = Math.ceil((b + 3) / W) + 1;
    const bandOf = (a: number): number => Math.min(J - 1, Math.max(0, Math.floor((b - a) / W)));
    const members = scratchInt32('thompson.bandMembers', ord.length);
    let h = 0;
    for (let bk = 0; bk < B; bk++) {
      if (bucketStart[bk + 1] === bucketStart[bk]) continue;
      if (bucketMax[bk] < T) break;
      for (let j = bucketStart[bk]; j < bucketStart[bk + 1]; j++) if (ordU[j] >= T) members[h++] = j;
    }
    const aOf = (j: number): number =>
      ordSd[j] > 0 ? (T - ordM[j]) / ordSd[j] : ordM[j] > T ? -Infinity : Infinity;
    const counts = new Int32Array(J + 1);
    for (let i = 0; i < h; i++) counts[bandOf(aOf(members[i])) + 1]++;
    for (let t = 0; t < J; t++) counts[t + 1] += counts[t];
    this.hStart = counts.slice();
    const hIdx = (this.hIdx = new Int32Array(h));
    const hA = (this.hA = new Float64Array(h));
    const hM = (this.hM = new Float64Array(h));
    const hSd = (this.hSd = new Float64Array(h));
    const hA0 = (this.hA0 = new Float64Array(J).fill(Infinity));
    for (let i = 0; i < h; i++) {
      const j = members[i];
      const a = aOf(j);
      const t = bandOf(a);
      const w = counts[t]++;
      hIdx[w] = ord[j];
      hA[w] = a;
      hM[w] = ordM[j];
      hSd[w] = ordSd[j];
      if (a < hA0[t]) hA0[t] = a;
    }
    // Proposal rate of each band: Q(a0), to double precision (the rate must be exact, not the loop).
    this.hLogOneMinusQ0 = Float64Array.from(this.hA0, (a0) =>
      a0 === Infinity ? 0 : Math.log1p(-normalSfPrecise(a0)),
    );
    this.hNone = Float64Array.from(this.hLogOneMinusQ0, (lq, t) =>
      Math.exp(lq * (this.hStart[t + 1] - this.hStart[t])),
    );
    return T;
  }

  /**
   * One draw: writes the k best candidates (descending sample) to outIdx[off..off+k) and their samples
   * to outVal[off..off+k).
   */
  draw(rng: NormalStream, outIdx: Int32Array, outVal: Float64Array, off = 0): void {
    if (this.thr === this.thr) this.drawThreshold(rng, outIdx, outVal, off);
    else this.drawWalk(rng, outIdx, outVal, off);
  }

  /** Threshold mode (see the class comment). */
  drawThreshold(rng: NormalStream, outIdx: Int32Array, outVal: Float64Array, off = 0): void {
    const k = this.k;
    const id = nextStamp();
    const stamp = this.stamp;
    const T = this.thr;
    this.size = 0;
    let accepted = 0;
    const { hIdx, hA, hM, hSd, hStart, hA0, hLogOneMinusQ0, hNone } = this;
    for (let t = 0; t < hA0.length; t++) {
      const end = hStart[t + 1];
      if (end === hStart[t]) continue;
      const a0 = hA0[t];
      const lq = hLogOneMinusQ0[t];
      if (a0 < 0.5) {
        // High-rate band (Q(a0) > 0.3): sampling each member directly beats thinning.
        for (let pos = hStart[t]; pos < end; pos++) {
          const z = rng.normal();
          if (z > hA[pos]) {
            const c = hIdx[pos];
            stamp[c] = id;
            accepted++;
            this.offer(c, hM[pos] + hSd[pos] * z);
          }
        }
        continue;
      }
      // The first skip G = ⌊log u / log(1 − q0)⌋ reaches past the band iff u ≤ (1 − q0)^size: test that
      // first and most bands cost one uniform, no logarithm.
      let u = rng.nextOpen();
      if (u <= hNone[t]) continue;
      for (let pos = hStart[t] - 1; ; u = rng.nextOpen()) {
        // Rate 1 (lq = −∞): every member is proposed.
        pos += lq === -Infinity ? 1 : 1 + Math.floor(Math.log(u) / lq);
        if (pos >= end) break;
        const z = rng.normalAbove(a0); // a0 = −∞ gives a plain N(0, 1)
        if (z > hA[pos]) {
          const c = hIdx[pos];
          stamp[c] = id;
          accepted++;
          this.offer(c, hM[pos] + hSd[pos] * z);
        }
      }
    }
    // Everything else has a > b: proposals at rate Q(b) over all positions (skipping H's members).
    const { mean, sd, n } = this;
    const b = this.cut;
    const lqb = this.logOneMinusQ;
    for (let pos = -1; ;) {
      pos += 1 + Math.floor(Math.log(rng.nextOpen()) / lqb);
      if (pos >= n) break;
      if (mean[pos] + b * sd[pos] >= T) continue; // U ≥ T: a band member, handled above
      const z = rng.normalAbove(b);
      if (mean[pos] + sd[pos] * z > T) {
        stamp[pos] = id;
        accepted++;
        this.offer(pos, mean[pos] + sd[pos] * z);
      }
    }
    if (accepted < k) {
      // Fewer than k above T: the others, each conditioned on X ≤ T, fill the rest (exact, O(n), rare).
      this.fallbacks++;
      for (let c = 0; c < n; c++) {
        if (stamp[c] === id) continue;
        const s = sd[c];
        this.offer(c, s > 0 ? mean[c] + s * rng.normalBelow((T - mean[c]) / s) : mean[c]);
      }
    }
    outIdx.set(this.topIdx, off);
    outVal.set(this.topVal, off);
  }

  /** Walk mode (see the class comment); only valid when threshold mode is off. */
  private drawWalk(rng: NormalStream, outIdx: Int32Array, outVal: Float64Array, off = 0): void {
    const k = this.k;
    const id = nextStamp();
    const stamp = this.stamp;
    const b = this.cut;
    const topVal = this.topVal;
    this.size = 0;
    let sampled = 0;

    // 1. Exceedances z > b: a Bernoulli(q) process over candidate positions, by geometric skips.
    const lq = this.logOneMinusQ;
    for (let pos = -1; ;) {
      pos += 1 + Math.floor(Math.log(rng.nextOpen()) / lq);
      if (pos >= this.n) break;
      stamp[pos] = id;
      this.offer(pos, this.mean[pos] + this.sd[pos] * rng.normalAbove(b));
    }

    // 2. Walk A by buckets of decreasing U; every other candidate has z ≤ b.
    const { ord, ordU, ordM, ordSd, bucketStart, bucketMax } = this;
    const B = bucketMax.length;
    let stopped = false;
    for (let t = 0; t < B; t++) {
      const end = bucketStart[t + 1];
      if (end === bucketStart[t]) continue; // empty bucket: its max is −∞, says nothing about later ones
      if (this.size === k && bucketMax[t] < topVal[k - 1]) {
        stopped = true;
        break;
      }
      for (let j = bucketStart[t]; j < end; j++) {
        if (this.size === k && ordU[j] < topVal[k - 1]) continue;
        const c = ord[j];
        if (stamp[c] === id) continue;
        let z = rng.normal();
        while (z > b) z = rng.normal();
        sampled++;
        this.offer(c, ordM[j] + ordSd[j] * z);
      }
    }
    // 3. Rare: the k-th best is below some candidate outside A; walk those too (keeps exactness).
    if (!stopped && !(this.size === k && this.outsideMaxU < topVal[k - 1])) {
      const { mean, sd, cutLow, n } = this;
      for (let c = 0; c < n; c++) {
        const u = mean[c] + b * sd[c];
        if (u >= cutLow || (this.size === k && u < topVal[k - 1]) || stamp[c] === id) continue; // A was walked
        let z = rng.normal();
        while (z > b) z = rng.normal();
        sampled++;
        this.offer(c, mean[c] + sd[c] * z);
      }
    }
    this.sampled += sampled;
    outIdx.set(this.topIdx, off);
    outVal.set(topVal, off);
  }

  // Insert into the descending top-k buffer (k ≤ 100, inserts are rare after the first few).
  private offer(c: number, x: number): void {
    const k = this.k;
    const topVal = this.topVal;
    const topIdx = this.topIdx;
    let j: number;
    if (this.size < k) j = this.size++;
    else if (x > topVal[k - 1]) j = k - 1;
    else return;
    while (j > 0 && topVal[j - 1] < x) {
      topVal[j] = topVal[j - 1];
      topIdx[j] = topIdx[j - 1];
      j--;
    }
    topVal[j] = x;
    topIdx[j] = c;
  }
}

/**
 * Scalar reference twin: sample every candidate from `normal` (e.g. `() => rng.normal()`, polar
 * Box–Muller), take the k largest. Same law as `ThompsonTopK.draw`, different random stream: tests
 * compare them in distribution.
 */
export function thompsonTopKReference(
  mean: Float64Array,
  sd: Float64Array,
  k: number,
  normal: () => number,
  outIdx: Int32Array,
  outVal: Float64Array,
  off = 0,
): void {
  const n = mean.length;
  const xs = new Float64Array(n);
  for (let c = 0; c < n; c++) xs[c] = mean[c] + sd[c] * normal();
  // k passes of arg-max: O(n·k), plain and obviously right.
  const taken = new Uint8Array(n);
  for (let r = 0; r < k; r++) {
    let best = -1;
    for (let c = 0; c < n; c++) if (taken[c] === 0 && (best < 0 || xs[c] > xs[best])) best = c;
    taken[best] = 1;
    outIdx[off + r] = best;
    outVal[off + r] = xs[best];
  }
}
