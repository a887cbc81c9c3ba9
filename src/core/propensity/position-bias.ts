/**
 * Position-based examination model: P(click | item q at position k) = θ_k · γ_q, θ_k the probability that
 * position k is examined, γ_q the relevance of q (a "query–document" key; here usually an item, or a
 * (user segment, item) pair).
 */

/** One logged impression: position (1-based), relevance key, click. Struct-of-arrays. */
export interface PositionLog {
  position: Int32Array;
  key: Int32Array;
  click: Uint8Array;
}

function check(log: PositionLog, positions: number, keys: number): void {
  const n = log.position.length;
  if (log.key.length !== n || log.click.length !== n)
    throw new RangeError(
      `position log: key (${log.key.length}) and click (${log.click.length}) must have length ${n}`,
    );
  for (let r = 0; r < n; r++) {
    if (log.position[r] < 1 || log.position[r] > positions)
      throw new RangeError(`position[${r}]: must be in [1, ${positions}], got ${log.position[r]}`);
    if (log.key[r] < 0 || log.key[r] >= keys)
      throw new RangeError(`key[${r}]: must be in [0, ${keys}), got ${log.key[r]}`);
    if (log.click[r] > 1) throw new RangeError(`click[${r}]: must be 0 or 1`);
  }
}

/**
 * Examination curve from a share of traffic whose slot order was randomised: there relevance is independent
 * of position, so CTR_k ∝ θ_k and θ_k = CTR_k / CTR_1 (position 1 taken as always examined: IPS needs only the
 * ratios, and this fixes the scale). Positions without impressions get NaN.
 */
export function examinationFromRandomised(log: PositionLog, positions: number): Float64Array {
  check(log, positions, 2 ** 31 - 1);
  const imp = new Float64Array(positions);
  const clk = new Float64Array(positions);
  for (let r = 0; r < log.position.length; r++) {
    imp[log.position[r] - 1]++;
    clk[log.position[r] - 1] += log.click[r];
  }
  const ctr1 = clk[0] / imp[0];
  return Float64Array.from(imp, (n, k) => (n > 0 && ctr1 > 0 ? clk[k] / n / ctr1 : NaN));
}

export interface EmOptions {
  iterations?: number;
  /** Pseudo-count shrinking each key's relevance toward the overall mean (the "regression" step; see below). */
  shrinkage?: number;
  /** Initial examination probability of every position. */
  initExamination?: number;
}

/**
 * Regression EM for position bias (Wang, Golbandi, Bendersky, Metzler & Najork, WSDM 2018), on logged
 * (non-randomised) traffic. Each impression has latent E (examined) and R (relevant), click = E·R.
 *  E-step, for an unclicked impression:  P(E=1 | c=0) = θ(1−γ)/(1−θγ),  P(R=1 | c=0) = (1−θ)γ/(1−θγ);
 *          a clicked one has E = R = 1.
 *  M-step: θ_k = mean over impressions at k of P(E=1 | ·);  γ_q = estimate of P(R=1 | ·) for key q.
 * Wang et al. fit γ by a regression (GBDT) on query–document features, which generalises across sparse
 * keys. We have no feature pipeline here, so the "regression" is a per-key intercept shrunk toward the mean:
 * γ_q = (Σ P(R=1|·) + a·γ̄)/(N_q + a), which plays the same role of pooling sparse keys. The curve is
 * returned normalised so that θ_1 = 1 (the θ·γ product is identified only up to scale), with the relevances.
 */
export function positionBiasEm(
  log: PositionLog,
  positions: number,
  keys: number,
  opts: EmOptions = {},
): { examination: Float64Array; relevance: Float64Array; iterations: number } {
  check(log, positions, keys);
  const iters = opts.iterations ?? 50;
  const a = opts.shrinkage ?? 1;
  const theta = new Float64Array(positions).fill(opts.initExamination ?? 0.5);
  const gamma = new Float64Array(keys).fill(0.5);
  const n = log.position.length;
  const eSum = new Float64Array(positions);
  const eCnt = new Float64Array(positions);
  const rSum = new Float64Array(keys);
  const rCnt = new Float64Array(keys);
  for (let it = 0; it < iters; it++) {
    eSum.fill(0);
    eCnt.fill(0);
    rSum.fill(0);
    rCnt.fill(0);
    let rAll = 0;
    for (let r = 0; r < n; r++) {
      const k = log.position[r] - 1;
      const q = log.key[r];
      let pe = 1;
      let pr = 1;
      if (log.click[r] === 0) {
        const t = theta[k];
        const g = gamma[q];
        const denom = 1 - t * g;
        pe = denom > 0 ? (t * (1 - g)) / denom : 0;
        pr = denom > 0 ? ((1 - t) * g) / denom : 0;
      }
      eSum[k] += pe;
      eCnt[k] += 1;
      rSum[q] += pr;
      rCnt[q] += 1;
      rAll += pr;
    }
    for (let k = 0; k < positions; k++) if (eCnt[k] > 0) theta[k] = eSum[k] / eCnt[k];
    const gbar = n > 0 ? rAll / n : 0.5;
    for (let q = 0; q < keys; q++) gamma[q] = (rSum[q] + a * gbar) / (rCnt[q] + a);
  }
  const t1 = theta[0] > 0 ? theta[0] : 1;
  return { examination: Float64Array.from(theta, (t) => t / t1), relevance: gamma, iterations: iters };
}
