import { robertRate, type NormalStream } from '../random';
import { normalSfFast, normalSfInverse, normalSfPrecise } from './internal/gaussian';
import { clearedInt32, nextStamp, scratchFloat64, scratchInt32 } from './internal/scratch';

/** The cut b on z for n candidates: n·Q(b) ≈ 1 (see `ThompsonTopK`). */
export function thompsonCut(n: number): number {
  // n·Q(b) ≈ 1 balances exceedance work (≈ n·Q(b) per draw) against a longer walk; b ≥ 2 keeps the
  // tail sampler efficient and the body rejection rate ≤ 2.3%.
  return Math.min(8, Math.max(2, normalSfInverse(Math.min(0.5, 1 / n))));
}

/**
 * The sampler's one pass over the candidates (what its constructor needs from all n of them), with
 * U_c = m_c + b·sd_c, b = `thompsonCut(n)`:
 *   - `uMax` = max U;
 *   - `low` = the k largest lower values m − b·sd, descending (L = low[k − 1]);
 *   - `topMeans` = the `topMeans.length` largest means, descending (−∞ padded; M = the last);
 *   - `idx[0..count)`, `u[0..count)` (only when `collected`): every c with U_c ≥ max(M, L) taken at c's
 *     turn over the running values, with its m and sd in `m`, `sd` (so bucketing reads them in order
 *     instead of gathering mean[c], sd[c] with a cache miss each). Both only rise to their final values, so this is a superset of
 *     {U ≥ max(M, L)} (the sampler filters it): one pass instead of a second one recomputing U.
 * The SIMD scoring kernel computes exactly this (same float64 operations in the same order) while it
 * scores; `scanCandidates` is the JS version and its twin in the tests.
 */
export interface CandidateScan {
  readonly uMax: number;
  readonly low: Float64Array;
  readonly topMeans: Float64Array;
  readonly collected: boolean;
  readonly count: number;
  readonly idx: Int32Array;
  readonly u: Float64Array;
  readonly m: Float64Array;
  readonly sd: Float64Array;
}

/** Sizes of the scan the sampler will want for n candidates and slate size k (default target). */
export function scanSpec(n: number, k: number): { b: number; topCount: number; collect: boolean } {
  const mu = k + 4 * Math.sqrt(k) + 4;
  const collect = n >= 2 * mu;
  return { b: thompsonCut(n), topCount: collect ? Math.ceil(3 * mu) : 1, collect };
}

/** The JS scan (see `CandidateScan`); idx and u live in the shared scratch pool. */
export function scanCandidates(
  mean: Float64Array,
  sd: Float64Array,
  k: number,
  topCount: number,
  collect: boolean,
  b = thompsonCut(mean.length),
): CandidateScan {
  const n = mean.length;
  let uMax = -Infinity;
  const low = new Float64Array(k).fill(-Infinity);
  const topMeans = new Float64Array(topCount).fill(-Infinity);
  const tm = topCount - 1;
  const idx = scratchInt32('thompson.members', collect ? n : 0);
  const us = scratchFloat64('thompson.membersU', collect ? n : 0);
  const ms = scratchFloat64('thompson.membersM', collect ? n : 0);
  const sds = scratchFloat64('thompson.membersSd', collect ? n : 0);
  let count = 0;
  let runM = -Infinity; // topMeans[tm] so far
  let lowK = -Infinity; // low[k − 1] so far
  let runF = -Infinity; // max(running M, running L)
  // The hot loop keeps its state in locals (V8 reloads typed-array slots otherwise).
  for (let c = 0; c < n; c++) {
    const m = mean[c];
    const s = sd[c];
    const w = b * s;
    const u = m + w;
    if (u > uMax) uMax = u;
    if (m - w > lowK) {
      const l = m - w;
      let j = k - 1;
      while (j > 0 && low[j - 1] < l) {
        low[j] = low[j - 1];
        j--;
      }
      low[j] = l;
      lowK = low[k - 1];
      if (lowK > runF) runF = lowK;
    }
    if (m > runM) {
      let j = tm;
      while (j > 0 && topMeans[j - 1] < m) {
        topMeans[j] = topMeans[j - 1];
        j--;
      }
      topMeans[j] = m;
      runM = topMeans[tm];
      if (runM > runF) runF = runM;
    }
    if (u >= runF && collect) {
      idx[count] = c;
      us[count] = u;
      ms[count] = m;
      sds[count++] = s;
    }
  }
  return { uMax, low, topMeans, collected: collect, count, idx, u: us, m: ms, sd: sds };
}

/**
 * Candidates known to be identical before scoring (bit-identical posterior rows: see score-classes.ts),
 * laid out contiguously after the singles: class g is candidates start[g] .. start[g + 1] − 1, start[0]
 * is the number of singles (candidates 0 .. start[0] − 1). Every member's (m, sd) must be bit-equal.
 */
export interface SamplerClasses {
  readonly start: Int32Array;
}

/**
 * The candidates with U ≥ T banded for one threshold T (see `ThompsonTopK`, threshold mode): band t < J0
 * holds hIdx[hStart[t] .. hStart[t + 1]) with their a = (T − m)/sd; band J0 + g is class g's own (its
 * members cFrom[g] + (pos − hStart[J0 + g]), all at one (m, sd) and a = hA0: never listed,
 * so banding a class costs O(1), not O(members)); hA0 a band's smallest a, hRate its proposal rate
 * −log(1 − Q(a0)), hInvRate 1/rate, hLambda Robert's tail rate for a0 (0 below 0.4).
 */
interface Bands {
  readonly T: number;
  readonly hIdx: Int32Array;
  readonly hA: Float64Array;
  readonly hStart: Int32Array;
  readonly hA0: Float64Array;
  readonly hRate: Float64Array;
  readonly hInvRate: Float64Array;
  readonly hLambda: Float64Array;
  /** The non-empty bands with a0 < 0.5, sampled member by member (highest t first: classes, then lowest a). */
  readonly direct: Int32Array;
  /** The other non-empty bands (thinned), in the same order, and their cumulative hazard: thinCum[i] =
   * Σ_{i' < i} hRate·size of thin[i'] (thinCum[0] = 0, one more entry than `thin`). */
  readonly thin: Int32Array;
  readonly thinCum: Float64Array;
  readonly J0: number;
  readonly cFrom: Int32Array;
}

/**
 * μ1 of `ThompsonTopK.drawTop`: E1 holds about this many candidates, so a draw's first ranks cost ≈ 2·μ1
 * proposals instead of ≈ 2·(k + 4√k + 4), and ranks past |E1| cost a second layer (see `extendTop`).
 */
export const UPPER_EXCEEDANCES = 6;

/** Insert v into a descending array, dropping its last value, if v beats that value. */
function insertDescending(a: Float64Array, v: number): boolean {
  const last = a.length - 1;
  if (!(v > a[last])) return false;
  let j = last;
  while (j > 0 && a[j - 1] < v) {
    a[j] = a[j - 1];
    j--;
  }
  a[j] = v;
  return true;
}

/**
 * Exact top-k of one Thompson draw without sampling every candidate.
 *
 * A draw gives candidate c the sample X_c = m_c + sd_c · z_c with z_c iid N(0, 1); we need the k largest.
 * Split each z_c by a cut b (chosen per request so that n·Q(b) ≈ 1, Q the normal upper tail):
 *   - "exceedances" (z_c > b) happen independently with the same probability q = Q(b) for every
 *     candidate, so their set is a Bernoulli(q) process over 0..n−1, drawn with geometric skips
 *     (⌊E/λ⌋ with E ~ Exp(1) and λ = −log(1 − q): P(skip ≥ g) = (1 − q)^g)
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
 * Two layers (`drawTop` / `extendTop`, for readers of a draw's first ranks only: in-slate Thompson sampling):
 * a second threshold T1 > T with about `UPPER_EXCEEDANCES` expected exceedances; a draw first samples only
 * E1 = {X > T1}, its exact first ranks, and is completed below T1, given E1, when more ranks are read.
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
  /** Running counts of `extendTop` calls, and of values it redrew below the upper layer (see `exceed`). */
  extensions = 0;
  redraws = 0;
  /** Threshold T of threshold mode (NaN when the walk is used). */
  get threshold(): number {
    return this.thr;
  }
  private thr = NaN;

  private readonly mean: Float64Array;
  private readonly sd: Float64Array;
  private readonly logOneMinusQ: number;
  private readonly lambdaB: number;
  private ord: Int32Array = new Int32Array(0);
  private ordU: Float64Array = new Float64Array(0);
  private ordM: Float64Array = new Float64Array(0);
  private ordSd: Float64Array = new Float64Array(0);
  private bucketStart: Int32Array = new Int32Array(1);
  private bucketMax: Float64Array = new Float64Array(0);
  // Bucket of U: ⌊(uMax − U)·bucketScale⌋ capped at B − 1 (kept for `classMembers`).
  private bucketScale = 0;
  private readonly cutLow: number;
  private readonly uMax: number;
  private outsideMaxU = -Infinity;
  /** The floor of the bucketed set: every candidate outside it has U below this. */
  private setFloor = -Infinity;
  private readonly stamp: Int32Array;
  // The current sweep's layer for `exceed`: [T, upper, hazard left for `sweepRest`], and the stamp of the
  // layer above (−1: none).
  private readonly layer = new Float64Array(3);
  private layerSkip = -1;
  // `exceed`'s z.
  private readonly z = new Float64Array(1);
  private readonly topIdx: Int32Array;
  private readonly topVal: Float64Array;
  private size = 0;
  private readonly shared: boolean;
  // Exchangeable threshold mode: T = m + a·sd for every candidate, log(1 − Q(a)) (NaN when not used).
  private exchA = NaN;
  private exchInvRate = NaN;
  private exchLambda = 0; // robertRate(exchA) when exchA ≥ 0.4 (normalTail), else 0 (normalAbove)
  /**
   * Every candidate has the same score distribution (same mean and sd, sd > 0): the candidates are
   * exchangeable, so every Thompson policy's propensities are exactly 1/n (see thompson-policies.ts).
   */
  readonly exchangeable: boolean;

  // Threshold mode: the candidates with U ≥ T banded by a = (T − m)/sd (a copied: a proposal reads it at its
  // position; an exceedance reads m and sd at the candidate's).
  private main: Bands | undefined = undefined;
  // The upper layer of `drawTop` (see there): bands at T1 > T; undefined until first needed, null when
  // there is none (walk mode, exchangeable candidates, or no T1 above T).
  private upper: Bands | null | undefined = undefined;
  // μ and μ1, the expected exceedances above T and above the upper layer's T1.
  private readonly targetExceedances: number;
  private readonly upperTarget: number;
  // 1/λ of the rate-Q(b) process.
  private readonly invRateB: number;
  // Groups of identical (m, sd) among the banded candidates (U ≥ T), see planThreshold: first position
  // in ord (ascending), size.
  private groupStart: Int32Array = new Int32Array(0);
  private groupLen: Int32Array = new Int32Array(0);
  // Members of E of the current draw (threshold mode), grown on demand.
  private acc: Int32Array;
  // How many are listed in `acc` this draw, and the k-th best sample so far (−∞ until k are in).
  private accepted = 0;
  private kth = -Infinity;
  // Classes of identical candidates (see `SamplerClasses`): candidates classStart[g] .. classStart[g + 1].
  // A bucketed entry (ord) is a candidate c ≥ 0, or a whole class g as −(g + 1).
  private readonly classStart: Int32Array | null;

  /**
   * @param mean score means m_c
   * @param sd score standard deviations sd_c (≥ 0)
   * @param k how many of the top samples each draw returns (1 ≤ k ≤ n)
   * @param options.mode 'walk' forces walk mode (tests); default: threshold mode when it applies
   * @param options.targetExceedances μ, the expected |E| (default k + 4√k + 4)
   * @param options.shared keep the per-request work arrays in the module's shared scratch pool instead
   *   of allocating them (serving: the sampler is then valid only until the next shared one is built)
   * @param options.scan the first pass over the candidates, already done (by the SIMD scoring kernel,
   *   `scanSpec` gives its parameters); must equal `scanCandidates(mean, sd, …)`, which is used otherwise
   *   (with `classes`: the scan of the singles and one member per class, in that order)
   * @param options.classes candidates known to be identical (see `SamplerClasses`): the per-request
   *   planning then handles each class as one entry with a multiplicity; the law is unchanged
   * @param options.upperExceedances μ1, the expected size of E1 in `drawTop` (default `UPPER_EXCEEDANCES`)
   */
  constructor(
    mean: Float64Array,
    sd: Float64Array,
    k: number,
    options: {
      targetExceedances?: number;
      mode?: 'walk' | 'auto';
      shared?: boolean;
      scan?: CandidateScan;
      classes?: SamplerClasses;
      upperExceedances?: number;
    } = {},
  ) {
    const n = mean.length;
    this.n = n;
    this.k = k;
    this.mean = mean;
    this.sd = sd;
    const b = thompsonCut(n);
    this.cut = b;
    this.logOneMinusQ = Math.log1p(-normalSfPrecise(b)); // the exceedance rate must be exact
    this.invRateB = -1 / this.logOneMinusQ;
    this.lambdaB = robertRate(b);
    const shared = options.shared === true;
    this.topIdx = new Int32Array(k);
    // (Over 64 bytes: from scratch when shared, see `zeroInt32`; written before read.)
    this.topVal = shared ? scratchFloat64('thompson.topVal', k).subarray(0, k) : new Float64Array(k);
    this.stamp = scratchInt32('thompson.stamp', n);

    const mu = options.targetExceedances ?? k + 4 * Math.sqrt(k) + 4;
    this.targetExceedances = mu;
    this.upperTarget = options.upperExceedances ?? UPPER_EXCEEDANCES;
    this.acc = shared
      ? scratchInt32('thompson.acc', Math.max(64, 2 * k))
      : new Int32Array(Math.max(64, 2 * k));
    const tryThreshold = options.mode !== 'walk' && n >= 2 * mu;
    this.shared = shared;
    const topCount = tryThreshold ? Math.ceil(3 * mu) : 1;
    const cls = options.classes ?? null;
    this.classStart = cls && cls.start.length > 1 ? cls.start : null;
    const pre = options.scan;
    let scan =
      pre && pre.low.length === k && pre.topMeans.length === topCount && pre.collected === tryThreshold
        ? pre
        : null;
    if (this.classStart) {
      scan = scan ?? this.scanEntries(k, topCount, tryThreshold);
      this.countMultiplicity(scan);
    } else scan = scan ?? scanCandidates(mean, sd, k, topCount, tryThreshold);
    const { low, topMeans } = scan;
    const tm = topCount - 1;
    // Exchangeable (every candidate at one (m, sd)) needs all means equal, so the top ⌈3μ⌉ means too:
    // only then check every candidate (a second pass that stops at the first difference).
    let same = n > 0 && topMeans[0] === topMeans[Math.min(tm, n - 1)];
    const m0 = n > 0 ? mean[0] : 0;
    const s0 = n > 0 ? sd[0] : 0;
    for (let c = 1; same && c < n; c++) if (mean[c] !== m0 || sd[c] !== s0) same = false;
    this.exchangeable = n > 0 && same && s0 > 0;
    const uMax = scan.uMax;
    const runM = topMeans[tm];
    this.cutLow = low[k - 1];
    this.uMax = uMax;
    if (tryThreshold && this.exchangeable) {
      // One class: every candidate exceeds T = m + a·sd with the same probability Q(a), chosen so that
      // n·Q(a) = μ. E is then a Bernoulli(Q(a)) process over the n positions (geometric skips at the
      // exact rate), each member with z ~ N(0, 1 | z > a): no bucketing, no bands, no per-item work.
      const a = normalSfInverse(mu / n);
      this.exchA = a;
      this.exchInvRate = -1 / Math.log1p(-normalSfPrecise(a));
      this.exchLambda = a >= 0.4 ? robertRate(a) : 0;
      this.thr = m0 + a * s0;
      return;
    }
    if (tryThreshold) {
      const floor = Math.max(runM, this.cutLow);
      this.bucketMembers(scan.idx, scan.u, scan.m, scan.sd, scan.count, floor);
      this.thr = this.planThreshold(mu);
      // Planned, or the set already is walk mode's A = {U ≥ L} (then walk it).
      if (this.thr === this.thr || floor === this.cutLow) return;
    }
    // Walk mode's A = {U ≥ L} (everything else only matters in the rare fallback); threshold mode can
    // still be planned on it when the cheaper set above M was too small.
    this.bucketAbove(this.cutLow);
    if (tryThreshold) this.thr = this.planThreshold(mu);
  }

  /**
   * The scan over entries (singles, then one member per class) in JS, when the kernel did not fuse it:
   * the singles' and the classes' first members' (m, sd), copied contiguously.
   */
  private scanEntries(k: number, topCount: number, collect: boolean): CandidateScan {
    const start = this.classStart!;
    const n1 = start[0];
    const G = start.length - 1;
    const m = new Float64Array(n1 + G);
    const s = new Float64Array(n1 + G);
    m.set(this.mean.subarray(0, n1));
    s.set(this.sd.subarray(0, n1));
    for (let g = 0; g < G; g++) {
      m[n1 + g] = this.mean[start[g]];
      s[n1 + g] = this.sd[start[g]];
    }
    return scanCandidates(m, s, k, topCount, collect, this.cut);
  }

  /**
   * A scan over entries saw each class once: give each class its multiplicity in `low` (k largest lower
   * values) and `topMeans` (copies of its values, up to what the buffers hold), and turn the collected
   * entries' positions into entry ids (a class's position n1 + g becomes −(g + 1)). The collected set
   * was taken against running floors no higher than the corrected ones: still a superset.
   */
  private countMultiplicity(scan: CandidateScan): void {
    const start = this.classStart!;
    const n1 = start[0];
    const b = this.cut;
    const { low, topMeans, idx } = scan;
    for (let g = 0; g + 1 < start.length; g++) {
      const size = start[g + 1] - start[g];
      const m = this.mean[start[g]];
      const s = this.sd[start[g]];
      const l = m - b * s; // the scan's own float64 operations
      for (let t = 1; t < size && t < low.length; t++) if (!insertDescending(low, l)) break;
      for (let t = 1; t < size && t < topMeans.length; t++) if (!insertDescending(topMeans, m)) break;
    }
    for (let t = 0; t < scan.count; t++) if (idx[t] >= n1) idx[t] = -(idx[t] - n1 + 1);
  }

  /** Candidates of an entry (see `classStart`): [from, to). */
  private entryFrom(id: number): number {
    return id >= 0 ? id : this.classStart![-id - 1];
  }
  private entryTo(id: number): number {
    return id >= 0 ? id + 1 : this.classStart![-id];
  }

  // Work arrays: the shared scratch pool when `shared` (serving: one sampler per request), else owned.
  private int32(name: string, n: number): Int32Array {
    return this.shared ? scratchInt32(name, n).subarray(0, n) : new Int32Array(n);
  }
  private float64(name: string, n: number): Float64Array {
    return this.shared ? scratchFloat64(name, n).subarray(0, n) : new Float64Array(n);
  }
  /**
   * `int32`, all 0 (as a new array is). Small per-request arrays come from the scratch pool too when shared
   * (`clearedInt32`; a request made ≈ 27 allocations over 64 bytes before).
   */
  private zeroInt32(name: string, n: number): Int32Array {
    return this.shared ? clearedInt32(name, n) : new Int32Array(n);
  }
  /** `float64`, every entry v. */
  private filledFloat64(name: string, n: number, v: number): Float64Array {
    return this.float64(name, n).fill(v);
  }
  /** A copy of a, in scratch when shared. */
  private copyInt32(name: string, a: Int32Array): Int32Array {
    if (!this.shared) return a.slice();
    const out = scratchInt32(name, a.length).subarray(0, a.length);
    out.set(a);
    return out;
  }

  /** Collect the candidates with U ≥ floor (one pass) and bucket them. */
  private bucketAbove(floor: number): void {
    const { mean, sd, n } = this;
    const b = this.cut;
    // A scratch array, not a growing number[]: pushing 100k members cost ~1 ms per request (cold
    // catalogues put every candidate in this set).
    const members = scratchInt32('thompson.members', n);
    const membersU = scratchFloat64('thompson.membersU', n);
    const membersM = scratchFloat64('thompson.membersM', n);
    const membersSd = scratchFloat64('thompson.membersSd', n);
    let inA = 0;
    let outsideMaxU = -Infinity;
    const start = this.classStart;
    const singles = start ? start[0] : n;
    for (let c = 0; c < singles; c++) {
      const u = mean[c] + b * sd[c];
      if (u >= floor) {
        members[inA] = c;
        membersU[inA] = u;
        membersM[inA] = mean[c];
        membersSd[inA++] = sd[c];
      } else if (u > outsideMaxU) outsideMaxU = u;
    }
    // Each class is one entry (its members' U are equal).
    for (let g = 0; start && g + 1 < start.length; g++) {
      const c = start[g];
      const u = mean[c] + b * sd[c];
      if (u >= floor) {
        members[inA] = -(g + 1);
        membersU[inA] = u;
        membersM[inA] = mean[c];
        membersSd[inA++] = sd[c];
      } else if (u > outsideMaxU) outsideMaxU = u;
    }
    this.bucketMembers(members, membersU, membersM, membersSd, inA, floor);
    this.outsideMaxU = outsideMaxU;
  }

  /**
   * Bucket the listed entries (candidates, or classes as −(g + 1)) with U ≥ floor by U, highest first (a
   * counting sort). Candidates not listed must have U < floor. `outsideMaxU` is set to the floor (an upper bound on their U, which is
   * all the walk needs; `bucketAbove` then tightens it).
   */
  private bucketMembers(
    members: Int32Array,
    membersU: Float64Array,
    membersM: Float64Array,
    membersSd: Float64Array,
    count: number,
    floor: number,
  ): void {
    const uMax = this.uMax;
    const B = 128;
    const width = (uMax - floor) / B;
    const scale = width > 0 ? 1 / width : 0;
    this.bucketScale = scale;
    const bucketOfA = this.int32('thompson.bucketOf', count);
    const counts = this.zeroInt32('thompson.bucketCounts', B + 1);
    // Filter (in place) and bucket in one pass.
    let inA = 0;
    for (let t = 0; t < count; t++) {
      const u = membersU[t];
      if (u < floor) continue;
      const f = Math.floor((uMax - u) * scale);
      const bk = f > B - 1 ? B - 1 : f;
      members[inA] = members[t];
      membersU[inA] = u;
      membersM[inA] = membersM[t];
      membersSd[inA] = membersSd[t];
      bucketOfA[inA++] = bk;
      counts[bk + 1]++;
    }
    for (let t = 0; t < B; t++) counts[t + 1] += counts[t];
    this.bucketStart = this.copyInt32('thompson.bucketStart', counts);
    const ord = this.int32('thompson.ord', inA);
    const bucketMax = this.filledFloat64('thompson.bucketMax', B, -Infinity);
    // Locals, not `this.` fields, in the O(n) loops (V8 reloads fields on every iteration).
    const ordU = (this.ordU = this.float64('thompson.ordU', inA));
    const ordM = (this.ordM = this.float64('thompson.ordM', inA));
    const ordSd = (this.ordSd = this.float64('thompson.ordSd', inA));
    for (let t = 0; t < inA; t++) {
      const c = members[t];
      const bk = bucketOfA[t];
      const w = counts[bk]++;
      const u = membersU[t];
      ord[w] = c;
      ordU[w] = u;
      ordM[w] = membersM[t];
      ordSd[w] = membersSd[t];
      if (u > bucketMax[bk]) bucketMax[bk] = u;
    }
    this.ord = ord;
    this.bucketMax = bucketMax;
    this.outsideMaxU = floor;
    this.setFloor = floor;
  }

  /**
   * Choose T (bisection on the expected exceedance count). The candidates with U ≥ T are banded when a
   * draw first needs them (`mainBands`): `drawTop` mostly does without.
   */
  private planThreshold(mu: number): number {
    this.main = undefined;
    return this.chooseThreshold(mu, -Infinity);
  }

  /** The bands at T (threshold mode only). */
  private mainBands(): Bands {
    return (this.main ??= this.band(this.thr, true));
  }

  /**
   * The threshold T ≥ `atLeast` at which about `mu` candidates are expected to exceed their sample (NaN
   * when even the lowest allowed T does not reach mu).
   */
  private chooseThreshold(mu: number, atLeast: number): number {
    const { ord, ordU, ordM, ordSd, bucketStart, bucketMax, n } = this;
    if (n < 2 * mu || ord.length === 0) return NaN;
    const cls = this.classStart;
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
            e += ord[j] >= 0 ? weight * lastQ : weight * lastQ * (cls![-ord[j]] - cls![-ord[j] - 1]);
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
    if (atLeast > lo) lo = atLeast;
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
    return lo;
  }

  /**
   * Band H = {U ≥ T} by a = (T − m)/sd ≤ b: band 0 holds a ∈ (b − 0.3, b], …, the last a ≤ −3. `main`: the
   * threshold of every draw (its groups serve `classMembers`), else the upper layer of `drawTop`.
   */
  private band(T: number, main: boolean): Bands {
    const { ord, ordU, ordM, ordSd, bucketStart, bucketMax } = this;
    const cls = this.classStart;
    const B = bucketMax.length;
    const tag = main ? 'thompson.h' : 'thompson.u';
    const b = this.cut;
    const W = 0.3;
    const J0 = Math.ceil((b + 3) / W) + 1;
    // A class entry (all members at one a) gets a band of its own, J0 + g, at its exact rate Q(a): every
    // proposal there is accepted (in a shared band only ≈ 60% are: the band's rate is its smallest a's).
    const J = J0 + (cls ? cls.length - 1 : 0);
    // One pass over H computes each member's a and band, a second scatters by band (a and its band used
    // to be recomputed in both). Candidates of one (m, sd) (cold items at one prior) reuse them: the
    // last 4 distinct (m, sd) seen are kept (not just one: a U-bucket can hold several classes, their
    // members interleaved in candidate order). Each kept (m, sd) is also a group, recorded (first
    // position in ord, size; groups in ord order) for `classMembers` to count a class by its few groups
    // instead of its members; a class evicted and met again starts another group of the same bucket.
    const members = scratchInt32('thompson.bandMembers', ord.length);
    const memberA = scratchFloat64('thompson.bandA', ord.length);
    const memberBand = scratchInt32('thompson.bandOf', ord.length);
    const counts = this.zeroInt32(`${tag}Counts`, J + 1);
    const invW = 1 / W;
    const groupStart = this.int32(`${tag}GroupStart`, ord.length);
    const groupLen = this.int32(`${tag}GroupLen`, ord.length);
    let groups = 0;
    let h = 0; // entries banded
    // Slots: (m, sd), a, band, group, size so far; replaced round-robin (no reordering on a hit).
    const S = 4;
    const slotM = new Float64Array(S).fill(NaN);
    const slotS = new Float64Array(S).fill(NaN);
    const slotA = new Float64Array(S);
    const slotBand = new Int32Array(S);
    const slotG = new Int32Array(S).fill(-1);
    const slotLen = new Int32Array(S);
    let victim = 0;
    let cur = 0; // the current slot, mirrored in locals: the common case reads only these
    let m0 = NaN;
    let s0 = NaN;
    let a0 = 0;
    let band0 = 0;
    for (let bk = 0; bk < B; bk++) {
      const end = bucketStart[bk + 1];
      if (end === bucketStart[bk]) continue;
      if (bucketMax[bk] < T) break;
      for (let j = bucketStart[bk]; j < end; j++) {
        if (ordU[j] < T) continue;
        const m = ordM[j];
        const sdj = ordSd[j];
        if (m !== m0 || sdj !== s0) {
          let i = 0;
          while (i < S && (slotM[i] !== m || slotS[i] !== sdj)) i++;
          if (i === S) {
            // New (m, sd): the victim slot's group is complete; start a group there.
            i = victim;
            victim = (victim + 1) % S;
            if (slotG[i] >= 0) groupLen[slotG[i]] = slotLen[i];
            slotM[i] = m;
            slotS[i] = sdj;
            const a = sdj > 0 ? (T - m) / sdj : m > T ? -Infinity : Infinity;
            const f = Math.floor((b - a) * invW); // band 0 holds a ∈ (b − W, b]
            slotA[i] = a;
            slotBand[i] = f < 0 ? 0 : f > J0 - 1 ? J0 - 1 : f;
            groupStart[groups] = j;
            slotG[i] = groups++;
            slotLen[i] = 0;
          }
          cur = i;
          m0 = m;
          s0 = sdj;
          a0 = slotA[i];
          band0 = slotBand[i];
        }
        const id = ord[j];
        const size = id >= 0 ? 1 : cls![-id] - cls![-id - 1];
        const band = id >= 0 ? band0 : J0 - id - 1;
        slotLen[cur] += size;
        members[h] = j;
        memberA[h] = a0;
        memberBand[h++] = band;
        counts[band + 1] += size;
      }
    }
    for (let i = 0; i < S; i++) if (slotG[i] >= 0) groupLen[slotG[i]] = slotLen[i];
    if (main) {
      this.groupStart = groupStart.subarray(0, groups);
      this.groupLen = groupLen.subarray(0, groups);
    }
    for (let t = 0; t < J; t++) counts[t + 1] += counts[t];
    const hStart = this.copyInt32(`${tag}Start`, counts);
    const listed = hStart[J0]; // the singles; classes' members are not listed
    const hIdx = this.int32(`${tag}Idx`, listed);
    const hA = this.float64(`${tag}A`, listed);
    const hA0 = this.filledFloat64(`${tag}A0`, J, Infinity);
    const cFrom = this.zeroInt32(`${tag}CFrom`, J - J0);
    for (let i = 0; i < h; i++) {
      const j = members[i];
      const id = ord[j];
      const a = memberA[i];
      const t = memberBand[i];
      if (id >= 0) {
        const w = counts[t]++;
        hIdx[w] = id;
        hA[w] = a;
      } else {
        // A class: its own band (t = J0 + g), its members contiguous candidates.
        cFrom[t - J0] = cls![-id - 1];
      }
      if (a < hA0[t]) hA0[t] = a;
    }
    let nLive = 0;
    for (let t = 0; t < J; t++) if (hStart[t + 1] > hStart[t]) nLive++;
    const live = this.int32(`${tag}Live`, nLive); // every entry written below
    for (let t = J - 1, i = 0; t >= 0; t--) if (hStart[t + 1] > hStart[t]) live[i++] = t;
    // Proposal rate of each non-empty band: Q(a0), to double precision (the rate must be exact, not the
    // loop); plain loops over the live bands (a catalogue with many classes has many empty ones).
    const hRate = this.filledFloat64(`${tag}Rate`, J, 0);
    const hInvRate = this.filledFloat64(`${tag}InvRate`, J, 0);
    const hLambda = this.filledFloat64(`${tag}Lambda`, J, 0);
    for (let i = 0; i < nLive; i++) {
      const t = live[i];
      const a0 = hA0[t];
      hRate[t] = -Math.log1p(-normalSfPrecise(a0));
      hInvRate[t] = 1 / hRate[t];
      hLambda[t] = a0 >= 0.4 ? robertRate(a0) : 0;
    }
    let nDirect = 0;
    for (let i = 0; i < nLive; i++) if (hA0[live[i]] < 0.5) nDirect++;
    const direct = this.int32(`${tag}Direct`, nDirect); // direct and thin: every entry written below
    const thin = this.int32(`${tag}Thin`, nLive - nDirect);
    const thinCum = this.filledFloat64(`${tag}ThinCum`, nLive - nDirect + 1, 0);
    for (let i = 0, d = 0, h = 0; i < nLive; i++) {
      const t = live[i];
      if (hA0[t] < 0.5) direct[d++] = t;
      else {
        thin[h] = t;
        thinCum[h + 1] = thinCum[h] + hRate[t] * (hStart[t + 1] - hStart[t]);
        h++;
      }
    }
    return { T, hIdx, hA, hStart, hA0, hRate, hInvRate, hLambda, direct, thin, thinCum, J0, cFrom };
  }

  /**
   * c's exchangeability class in this request: every candidate with exactly c's score distribution
   * (bit-equal mean and sd), c included; returns how many, and writes them to `out` (length ≥ n) when
   * given. Just c when sd_c = 0 (ties then have positive probability and are broken by index: not
   * exchangeable).
   *
   * No hashing, no pass over n in the common case: members share U = m + b·sd, computed with the same
   * float64 operations as the scan's, so when U ≥ the bucketed set's floor all of them are in the set
   * and in the same U-bucket: only that bucket is compared (contiguous U, m and sd copies), or, to
   * count only (no `out`) a class with U ≥ T, the bucket's few groups recorded while banding (see
   * planThreshold): thousands of members of a cold class cost one group. Only a class
   * below the floor (its members can enter a draw's top k only with z > b, or in the rare fallback) is
   * looked up by a comparing pass over all n candidates. The result depends on (m_c, sd_c) alone, never
   * on the draws.
   */
  classMembers(c: number, out?: Int32Array): number {
    const { mean, sd, n } = this;
    const m = mean[c];
    const s = sd[c];
    if (!(s > 0)) {
      if (out) out[0] = c;
      return 1;
    }
    const u = m + this.cut * s;
    const B = this.bucketMax.length;
    let count = 0;
    if (B > 0 && u >= this.setFloor) {
      const { ord, ordU, ordM, ordSd, bucketStart } = this;
      const f = Math.floor((this.uMax - u) * this.bucketScale);
      const bk = f > B - 1 ? B - 1 : f;
      if (!out && u >= this.thr) {
        // Banded (U ≥ T): sum the sizes of the bucket's groups with this (m, sd) — a few groups per
        // bucket on a cold catalogue, instead of thousands of members.
        const { groupStart, groupLen } = this;
        const lo = bucketStart[bk];
        const hi = bucketStart[bk + 1];
        let r0 = 0;
        let r1 = groupStart.length;
        while (r0 < r1) {
          const mid = (r0 + r1) >> 1;
          if (groupStart[mid] < lo) r0 = mid + 1;
          else r1 = mid;
        }
        for (let r = r0; r < groupStart.length && groupStart[r] < hi; r++) {
          const j = groupStart[r];
          if (ordM[j] === m && ordSd[j] === s) count += groupLen[r];
        }
        if (count > 0) return count;
      }
      let self = false;
      // U first: one array read per entry of the bucket; m and sd only where U matches.
      for (let j = bucketStart[bk], end = bucketStart[bk + 1]; j < end; j++)
        if (ordU[j] === u && ordM[j] === m && ordSd[j] === s) {
          const from = this.entryFrom(ord[j]);
          const to = this.entryTo(ord[j]);
          if (c >= from && c < to) self = true;
          if (out) for (let x = from; x < to; x++) out[count++] = x;
          else count += to - from;
        }
      if (self) return count;
      count = 0; // not where expected (cannot happen with the scan's U): compare every candidate
    }
    for (let x = 0; x < n; x++)
      if (mean[x] === m && sd[x] === s) {
        if (out) out[count] = x;
        count++;
      }
    return count;
  }

  /**
   * One draw: writes the k best candidates (descending sample) to outIdx[off..off+k) and their samples
   * to outVal[off..off+k).
   */
  draw(rng: NormalStream, outIdx: Int32Array, outVal: Float64Array, off = 0): void {
    if (this.thr === this.thr) this.drawThreshold(rng, outIdx, outVal, off);
    else this.drawWalk(rng, outIdx, outVal, off);
  }

  /**
   * Threshold mode (see the class comment).
   *
   * A band's position proposes with probability q0 = Q(a0), independently: position p of the thinned
   * bands owns the interval [H_p, H_p + λ0) of their cumulative hazard (λ0 = −log(1 − q0) its band's,
   * the bands laid end to end), and proposes iff a unit-rate Poisson process has a point there,
   * probability 1 − e^{−λ0} = q0. So the next proposal is at the position owning h = (end of the last
   * proposing position) + E, E ~ Exp(1) from the ziggurat (no logarithm): found by walking the bands'
   * cumulative hazards (one compare per band passed, however many positions it holds), then
   * ⌊(h − band start)/λ0⌋ into the band. What is left over past the last band is again Exp(1)
   * (memorylessness) and starts the rate-Q(b) process: one exponential per proposal, plus one per draw.
   * (Multiplying by 1/λ0 instead of dividing: a relative rounding of 1e-16, the order of the rates'
   * own.) Bands with q0 > 0.3 are sampled member by member instead (fewer random numbers than thinning).
   * Bands go from the lowest a (the strongest candidates, where the top k usually comes from) to the
   * highest: the top-k buffer fills with strong samples first, so later exceedances mostly fail its
   * first compare instead of shifting it (the classes' own bands, numbered last, come before all). The
   * order never changes the law (every band's randomness is independent of the others'). The members of
   * E are listed (not stamped in an n-sized array): only the rare fallback needs to know them.
   */
  drawThreshold(rng: NormalStream, outIdx: Int32Array, outVal: Float64Array, off = 0): void {
    this.size = 0;
    this.accepted = 0;
    this.kth = -Infinity;
    const { mean, sd, n } = this;
    if (this.exchA === this.exchA) {
      // Exchangeable candidates (see the constructor): every proposal is an exceedance.
      const a = this.exchA;
      const inv = this.exchInvRate;
      const lambda = this.exchLambda;
      const m0 = mean[0];
      const s0 = sd[0];
      for (let pos = -1; ;) {
        pos += 1 + Math.floor(rng.exponential() * inv);
        if (pos >= n) break;
        this.accept(pos, m0 + s0 * (lambda > 0 ? rng.normalTail(a, lambda) : rng.normalAbove(a)));
      }
      this.finishThreshold(rng, outIdx, outVal, off);
      return;
    }
    this.sweep(rng, this.mainBands(), Infinity, -1);
    this.finishThreshold(rng, outIdx, outVal, off);
  }

  /**
   * One pass of threshold mode over bands `L` (threshold T = L.T): every candidate whose sample exceeds T
   * is offered (see `drawThreshold`). With `upper` < ∞ (`extendTop`), the pass draws the layer between T
   * and `upper` given the layer above it: candidates stamped `skip` (the layer above) are known and
   * skipped, and a candidate proposed above `upper` has its value redrawn from its law below `upper`.
   */
  private sweep(rng: NormalStream, L: Bands, upper: number, skip: number): void {
    const { T, hIdx, hA, hStart, hA0, hRate, hInvRate, hLambda, direct, thin, thinCum, J0, cFrom } = L;
    // The layer, for `exceed` (in fields, and z in `zb`: see there).
    const layer = this.layer;
    const zb = this.z;
    layer[0] = T;
    layer[1] = upper;
    this.layerSkip = skip;
    // High-rate bands (Q(a0) > 0.3): sampling each member directly beats thinning.
    for (let i = 0; i < direct.length; i++) {
      const t = direct[i];
      const start = hStart[t];
      const end = hStart[t + 1];
      const a0 = hA0[t];
      const g = t - J0; // ≥ 0: class g's own band (every member at a = a0, members cFrom[g] + offset)
      for (let pos = start; pos < end; pos++) {
        const z = rng.normal();
        if (z > (g >= 0 ? a0 : hA[pos])) {
          zb[0] = z; // (see `exceed`)
          this.exceed(rng, g >= 0 ? cFrom[g] + (pos - start) : hIdx[pos]);
        }
      }
    }
    // The thinned bands, one after another on the axis of their cumulative hazard: h is where the next
    // proposal falls (see above). The unary plus keeps h an unboxed double when V8 does not inline this call
    // (the sweep is too large for all its callees): an untyped call result would box every later value of h.
    const H = thinCum[thin.length];
    let h = +rng.exponential();
    for (let i = 0; h < H;) {
      while (thinCum[i + 1] <= h) i++; // bands with no proposal cost one compare each
      const t = thin[i];
      const start = hStart[t];
      const size = hStart[t + 1] - start;
      const at = Math.floor((h - thinCum[i]) * hInvRate[t]);
      // An int32 (a float64 offset would box c below); at ≥ size by rounding only (h within an ulp of the end).
      const off = (at < size ? at : size - 1) | 0;
      const pos = start + off;
      const a0 = hA0[t];
      const z = rng.normalTail(a0, hLambda[t]); // a0 ≥ 0.5 here
      const g = t - J0;
      if (z > (g >= 0 ? a0 : hA[pos])) {
        zb[0] = z;
        this.exceed(rng, g >= 0 ? cFrom[g] + off : hIdx[pos]);
      }
      h = thinCum[i] + (off + 1) * hRate[t] + rng.exponential(); // restart after this position
    }
    // What is left over is again Exp(1): it starts the rate-Q(b) process.
    const e = h - H;
    layer[2] = e;
    this.sweepRest(rng);
  }

  /**
   * The end of `sweep`: everything else has a > b, proposals at rate Q(b) over all positions (skipping H's
   * members), starting with the hazard left over in layer[2]. A method of its own (its doubles passed in
   * `layer`), so that V8 inlines its normal draws: the sweep is too large for all its callees.
   */
  private sweepRest(rng: NormalStream): void {
    const { mean, sd, n } = this;
    const T = this.layer[0];
    let e = this.layer[2];
    const zb = this.z;
    const b = this.cut;
    const invB = this.invRateB;
    const lambdaB = this.lambdaB;
    for (let pos = -1; ; e = rng.exponential()) {
      const skipped = Math.floor(e * invB);
      if (skipped >= n - pos - 1) break;
      pos = (pos + 1 + skipped) | 0; // an int32, as in `sweep`
      if (mean[pos] + b * sd[pos] >= T) continue; // U ≥ T: a band member, handled above
      const z = rng.normalTail(b, lambdaB); // b ≥ 2
      if (mean[pos] + sd[pos] * z > T) {
        zb[0] = z;
        this.exceed(rng, pos);
      }
    }
  }

  /**
   * c's sample x = m + s·z exceeds T (z in `this.z`; the layer's T, `upper` and `skip`: set by `sweep`).
   * Its doubles come in typed arrays: the sweep is too large for V8 to inline all its callees, and a call
   * that is not inlined boxes each double argument in a heap number (~180 KB of garbage a request at 10k
   * items, before).
   * In a full draw (`upper` = ∞) it is a member of E. In a lower layer
   * (`extendTop`): c is skipped if stamped `skip` (already known above `upper`); a value above `upper`
   * is replaced by a fresh draw from c's law below `upper`, kept if it still exceeds T. Why that is exact:
   * for c not in the layer above, the proposal gives density φ(z) on (a, a1] (a = (T − m)/s,
   * a1 = (upper − m)/s) and lands above a1 with probability Q(a1), whence the redraw adds
   * Q(a1)·φ(z)/(1 − Q(a1)) there: φ(z)/(1 − Q(a1)) in all, c's law given that it is below `upper`.
   */
  private exceed(rng: NormalStream, c: number): void {
    const skip = this.layerSkip;
    if (skip >= 0 && this.stamp[c] === skip) return;
    const m = this.mean[c];
    const s = this.sd[c];
    let x = m + s * this.z[0];
    const upper = this.layer[1];
    if (x > upper) {
      // (s > 0 here: a candidate with sd 0 above `upper` is always in the layer above.)
      this.redraws++;
      x = m + s * rng.normalBelow((upper - m) / s);
      if (!(x > this.layer[0])) return;
    }
    this.accept(c, x);
  }

  /**
   * The first ranks of one draw, cheaply: only E1 = {c : X_c > T1}, for a threshold T1 above the draw's
   * T chosen so that about `upperExceedances` candidates exceed it (a few instead of k + 4√k + 4).
   * Writes E1's best min(|E1|, k) candidates and samples to outIdx/outVal[off ..] and returns how many:
   * they are exactly the draw's first ranks (every other candidate is below T1). `extendTop` completes
   * the same draw to its k best when more ranks are needed: in-slate Thompson sampling's simulated
   * slates mostly read a draw's first 2–4 ranks. Without a threshold above T (walk mode, exchangeable
   * candidates, too few candidates) this is `draw` and returns k.
   */
  drawTop(rng: NormalStream, outIdx: Int32Array, outVal: Float64Array, off = 0): number {
    if (this.upper === undefined) this.upper = this.planUpper();
    const up = this.upper;
    if (!up) {
      this.draw(rng, outIdx, outVal, off);
      return this.k;
    }
    this.size = 0;
    this.accepted = 0;
    this.kth = -Infinity;
    this.sweep(rng, up, Infinity, -1);
    const known = this.size;
    for (let r = 0; r < known; r++) {
      outIdx[off + r] = this.topIdx[r];
      outVal[off + r] = this.topVal[r];
    }
    return known;
  }

  /**
   * Complete a draw begun by `drawTop`, which knew `known` < k ranks (then all of E1), to its k best:
   * draws the candidates between the draw's T and T1 given E1 (see `exceed`), then, as `draw` does, the
   * rest below T in the rare case that fewer than k are above it. The result has the law of `draw`.
   */
  extendTop(rng: NormalStream, outIdx: Int32Array, outVal: Float64Array, off: number, known: number): void {
    const up = this.upper;
    if (!up || known >= this.k) throw new Error('extendTop: nothing to extend');
    this.extensions++;
    const id = nextStamp();
    const { stamp, topIdx, topVal, acc } = this;
    for (let r = 0; r < known; r++) {
      const c = outIdx[off + r];
      topIdx[r] = c;
      topVal[r] = outVal[off + r];
      acc[r] = c;
      stamp[c] = id;
    }
    this.size = known;
    this.accepted = known;
    this.kth = -Infinity;
    this.sweep(rng, this.mainBands(), up.T, id);
    this.finishThreshold(rng, outIdx, outVal, off);
  }

  /** The upper layer's bands (see `drawTop`), or null when there is none. */
  private planUpper(): Bands | null {
    const T = this.thr;
    if (T !== T || this.exchA === this.exchA || this.upperTarget >= this.targetExceedances) return null;
    const T1 = this.chooseThreshold(this.upperTarget, T);
    return T1 > T ? this.band(T1, false) : null;
  }

  /**
   * A member of E: listed (only the rare fallback reads the list) and offered to the top k, unless it is
   * below the current k-th best sample (most are, once the buffer is full: the strongest bands come first),
   * which is rejected here without the insert's call.
   */
  private accept(c: number, x: number): void {
    if (this.accepted === this.acc.length) {
      const grown = new Int32Array(2 * this.acc.length);
      grown.set(this.acc);
      this.acc = grown;
    }
    this.acc[this.accepted++] = c;
    if (x > this.kth) {
      this.offer(c, x);
      if (this.size === this.k) this.kth = this.topVal[this.k - 1];
    }
  }

  private finishThreshold(rng: NormalStream, outIdx: Int32Array, outVal: Float64Array, off: number): void {
    const accepted = this.accepted;
    if (accepted < this.k) {
      // Fewer than k above T: the others, each conditioned on X ≤ T, fill the rest (exact, O(n), rare).
      const { mean, sd, n, stamp, acc } = this;
      const T = this.thr;
      const id = nextStamp();
      for (let t = 0; t < accepted; t++) stamp[acc[t]] = id;
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
    const rate = -this.logOneMinusQ;
    for (let pos = -1; ;) {
      pos += 1 + Math.floor(rng.exponential() / rate);
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
        // An entry is one candidate or a class (members with the same U, m and sd).
        for (let c = this.entryFrom(ord[j]), to = this.entryTo(ord[j]); c < to; c++) {
          if (this.size === k && ordU[j] < topVal[k - 1]) break;
          if (stamp[c] === id) continue;
          let z = rng.normal();
          while (z > b) z = rng.normal();
          sampled++;
          this.offer(c, ordM[j] + ordSd[j] * z);
        }
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
