import { NormalStream, Rng } from '../../random';

/**
 * Brute-force in-slate Thompson sampling for tests: every item of every draw sampled, no pruning, no
 * lazy ranks; the reference the sampler's and the propensity estimators' numbers are checked against.
 */

/** Top k of one full draw (every item sampled), by insertion; writes ranked[0..k). */
export function fullDrawTopK(
  mean: Float64Array,
  sd: Float64Array,
  k: number,
  z: NormalStream,
  ranked: Int32Array,
): void {
  const val = new Float64Array(k).fill(-Infinity);
  for (let i = 0; i < mean.length; i++) {
    const x = mean[i] + sd[i] * z.normal();
    if (x <= val[k - 1]) continue;
    let j = k - 1;
    while (j > 0 && val[j - 1] < x) {
      val[j] = val[j - 1];
      ranked[j] = ranked[j - 1];
      j--;
    }
    val[j] = x;
    ranked[j] = i;
  }
}

/** B brute-force slates of the plain policy (k draws, rank-major fall-through): counts[i·k + j]. */
export function bruteForceCounts(
  mean: Float64Array,
  sd: Float64Array,
  k: number,
  draws: number,
  B: number,
  z: NormalStream,
): Float64Array {
  const counts = new Float64Array(mean.length * k);
  const ranked = new Int32Array(draws * k);
  const taken = new Int32Array(mean.length);
  for (let b = 1; b <= B; b++) {
    for (let d = 0; d < draws; d++) fullDrawTopK(mean, sd, k, z, ranked.subarray(d * k, d * k + k));
    let filled = 0;
    for (let r = 0; r < k && filled < k; r++)
      for (let d = 0; d < draws && filled < k; d++) {
        const c = ranked[d * k + r];
        if (taken[c] === b) continue;
        taken[c] = b;
        counts[c * k + filled++]++;
      }
  }
  return counts;
}

/**
 * Brute-force P(item at position), `[item · k + j]`, from B slates of `draws` draws each (in_slate_ts: k; slate_ts,
 * and in_slate_ts of one item: 1), on the float32-rounded means and standard deviations the policy sees.
 */
export function bruteForceProbabilities(
  means: readonly number[],
  vars: readonly number[],
  k: number,
  draws: number,
  B: number,
  seed: number,
): Float64Array {
  const mf = Float64Array.from(means, (x) => Math.fround(x));
  const sf = Float64Array.from(vars, (x) => Math.sqrt(Math.fround(x)));
  const counts = bruteForceCounts(mf, sf, k, draws, B, new NormalStream(new Rng(seed)));
  return counts.map((c) => c / B);
}
