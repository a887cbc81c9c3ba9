// ml-matrix's SVD pseudo-inverse directly: src/core/linalg has no pseudo-inverse, and this runs once per run.
import { Matrix, pseudoInverse } from 'ml-matrix';
import type { ActionDistribution } from './action-distribution';
import type { BehaviourModel } from './behaviour';
import type { SlotLog } from './slot-log';
import type { EstimatorTerms } from './terms';

/**
 * Γ⁺ for a uniform-without-replacement logging policy over o observed positions and m items.
 * Γ = E_μ[1_s 1_sᵀ] over the (position, item) indicator vector 1_s of length o·m:
 *   diagonal 1/m; (j,a),(k,b) with j ≠ k, a ≠ b: 1/(m(m−1)); all else 0.
 * Γ is singular (each position's block sums to one), hence the Moore–Penrose pseudo-inverse.
 * It depends only on (o, m), so it is computed once (an SVD of a ≤ 102 × 102 matrix for OBD).
 */
export function uniformGammaPinv(m: number, o: number): Matrix {
  const D = o * m;
  const g = Matrix.zeros(D, D);
  const off = 1 / (m * (m - 1));
  for (let j = 0; j < o; j++)
    for (let a = 0; a < m; a++) {
      g.set(j * m + a, j * m + a, 1 / m);
      for (let k = 0; k < o; k++) {
        if (k === j) continue;
        for (let b = 0; b < m; b++) if (b !== a) g.set(j * m + a, k * m + b, off);
      }
    }
  return pseudoInverse(g);
}

/**
 * Pseudo-inverse estimator (Swaminathan et al. 2017): for a reward additive over slots,
 *   V̂ = (1/n) Σ_s R_s · q_πᵀ Γ_μ⁺ 1_{s},  q_π = E_π[1_s] (the marginals π(a at k)).
 * Reported per slot (R_s / o). Exact (unbiased) when Γ_μ is known: here for the uniform logging policy.
 * With only marginals known we use its closed form for a logging policy that draws positions
 * independently, w_PI = Σ_j w_j − (o − 1), which is what the paper's estimator reduces to under a
 * factorised μ; for BTS (a ranking) this is an approximation. For one observed slot PI equals IPS.
 */
export function piTerms(
  log: SlotLog,
  dist: ActionDistribution,
  behaviour: BehaviourModel,
  w: Float64Array,
): EstimatorTerms {
  const num = new Float64Array(log.nSlates);
  const den = new Float64Array(log.nSlates);
  const weights = new Float64Array(log.nSlates);
  const m = log.nItems;
  const L = log.slateSize;
  const pinvByO = new Map<number, Matrix>();
  // v = Γ⁺ q_π per (distribution row, observed-position mask): the weight of slate s is Σ_j v[j, a_j].
  const vCache = new Map<number, Float64Array>();
  for (let s = 0; s < log.nSlates; s++) {
    const a0 = log.slateStart[s];
    const b0 = log.slateStart[s + 1];
    const o = b0 - a0;
    let W: number;
    if (behaviour === 'uniform' && o > 1) {
      let mask = 0;
      for (let i = a0; i < b0; i++) mask |= 1 << log.position[i];
      const c = dist.nContexts === 1 ? 0 : log.context[s];
      const key = c * (1 << L) + mask;
      let v = vCache.get(key);
      if (!v) {
        let pinv = pinvByO.get(o);
        if (!pinv) {
          pinv = uniformGammaPinv(m, o);
          pinvByO.set(o, pinv);
        }
        const q = new Matrix(o * m, 1);
        for (let j = 0; j < o; j++) {
          const k = log.position[a0 + j];
          for (let a = 0; a < m; a++) q.set(j * m + a, 0, dist.probs[(c * m + a) * L + k]);
        }
        v = Float64Array.from(pinv.mmul(q).getColumn(0));
        vCache.set(key, v);
      }
      W = 0;
      for (let j = 0; j < o; j++) W += v[j * m + log.item[a0 + j]];
    } else {
      W = 1 - o;
      for (let i = a0; i < b0; i++) W += w[i];
    }
    let r = 0;
    for (let i = a0; i < b0; i++) r += log.reward[i];
    num[s] = W * r;
    den[s] = o;
    weights[s] = W;
  }
  const exact = behaviour === 'uniform';
  return {
    name: 'pi',
    num,
    den,
    weights,
    exact,
    note: exact
      ? 'additive reward; Γ of the uniform logger exact'
      : 'additive reward; logger treated as independent per position',
  };
}
