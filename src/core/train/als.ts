import { choleskyInPlace, choleskySolveInPlace } from '../linalg/cholesky';
import { packedSize, packedSyrAugmented } from '../linalg/packed';
import type { FactorModel } from '../model/factor-model';
import { ModelInputError } from '../model/errors';
import { buildUserSystem, solveUser, UserWorkspace } from '../model/user-solve';
import type { Rng } from '../random';
import { assertUniquePairs, type Csr, type Interactions, toCsr, validateInteractions } from './interactions';

export interface AlsOptions {
  /** Alternations of (user step, item step). */
  epochs?: number;
  /** Seeded generator for the initial item factors. */
  rng: Rng;
  /** Empirical-Bayes rounds for the group priors after the last epoch. */
  priorIterations?: number;
  /** Start from the model's current item means instead of a random initialisation (warm restart). */
  warmStart?: boolean;
}

/**
 * Batch alternating least squares over ALL user–item pairs, with the Gram-matrix trick (Hu, Koren & Volinsky
 * 2008; Rel-MF's estimator makes the targets Y/θ, see `estimators/`). Objective, with c₀ = negativeWeight:
 *   Σ_{(u,i) not logged} c₀ (0 − s_ui)²  +  Σ_{(u,i) logged} w_ui (t_ui − s_ui)²  (all over σ²)  + priors,
 * s_ui = x_u·v_i + b_i. No negative sampling: the unlogged pairs enter through one shared Gram matrix per
 * side, so an epoch costs O(nnz·d² + (users + items)·d³), and O(nnz·d + (users + items)·d²) for the rows
 * whose logged weights all equal c₀ (every row, for naive/IPS/clipped IPS), which reuse one shared factor.
 *
 * The item step is exactly the Bayesian posterior mean of each item under its group prior, with the users as
 * covariates; `finalize()` stores the corresponding additive statistics in the model (so online updates
 * continue from them), re-estimates the group priors and computes the posterior variances.
 */
export class AlsTrainer {
  readonly byUser: Csr;
  readonly byItem: Csr;
  private readonly uws: UserWorkspace;
  private readonly n: number;
  private readonly d: number;
  /** Packed c₀ Σ_u x̃x̃ᵀ of the last item step. */
  private background: Float64Array;
  private readonly a: Float64Array;
  private readonly b: Float64Array;

  constructor(
    readonly model: FactorModel,
    data: Interactions,
  ) {
    validateInteractions(data);
    if (data.numItems !== model.numItems)
      throw new ModelInputError(
        'interactions.numItems',
        `must equal the model's item count ${model.numItems}, got ${data.numItems}`,
      );
    if (data.numUsers !== model.numUsers)
      throw new ModelInputError(
        'interactions.numUsers',
        `must equal the model's user count ${model.numUsers}, got ${data.numUsers}`,
      );
    const c0 = model.config.negativeWeight;
    this.byUser = toCsr(data, 'user', c0);
    assertUniquePairs(this.byUser, data.numItems);
    this.byItem = toCsr(data, 'item', c0);
    this.d = model.dim;
    this.n = model.n;
    this.uws = new UserWorkspace(this.d);
    this.background = new Float64Array(packedSize(this.n));
    this.a = new Float64Array(this.n * this.n);
    this.b = new Float64Array(this.n);
  }

  /** Random initial item factors around their prior means (biases at their prior mean). */
  initialise(rng: Rng): void {
    const m = this.model;
    const n = this.n;
    const s = m.config.initScale;
    for (let i = 0; i < m.numItems; i++) {
      const po = (m.itemGroup[i] + 1) * n;
      for (let k = 0; k < this.d; k++) m.itemMean[i * n + k] = m.priorMean[po + k] + s * rng.normal();
      m.itemMean[i * n + this.d] = m.priorMean[po + this.d];
    }
  }

  /** Users' ridge solves against the current item means. */
  userStep(): void {
    const m = this.model;
    const c = m.config;
    const sys = buildUserSystem(m.itemMean, m.numItems, this.d, c.negativeWeight, c.noiseVar, c.userPriorVar);
    const { ptr, col, target, weight } = this.byUser;
    const d = this.d;
    for (let u = 0; u < m.numUsers; u++) {
      if (!solveUser(sys, m.itemMean, col, target, weight, ptr[u], ptr[u + 1], m.userVec, u * d, this.uws))
        throw new Error(
          `ALS: user ${m.userIds[u]}'s system is not positive definite (weights far below negativeWeight?)`,
        );
    }
    m.userVectorsChanged();
  }

  /** Items' posterior means under their priors, given the current user vectors. */
  itemStep(): void {
    const m = this.model;
    const n = this.n;
    const d = this.d;
    const c0 = m.config.negativeWeight;
    const inv = 1 / m.config.noiseVar;
    const bg = this.background;
    bg.fill(0);
    if (c0 !== 0) for (let u = 0; u < m.numUsers; u++) packedSyrAugmented(bg, 0, n, c0, m.userVec, u * d);
    // Unfactored (B/σ² + prior) per prior slot, and its factor, built on first use.
    const slots = m.numGroups + 1;
    const pre: (Float64Array | null)[] = new Array(slots).fill(null);
    const fac: (Float64Array | null)[] = new Array(slots).fill(null);
    const slotMatrix = (s: number): Float64Array => {
      let p = pre[s];
      if (!p) {
        p = new Float64Array(n * n);
        let q = 0;
        for (let r = 0; r < n; r++) for (let cc = r; cc < n; cc++) p[cc * n + r] = inv * bg[q++];
        for (let k = 0; k < n; k++) p[k * n + k] += 1 / m.priorVar[s * n + k];
        pre[s] = p;
      }
      return p;
    };
    const slotFactor = (s: number): Float64Array => {
      let f = fac[s];
      if (!f) {
        f = Float64Array.from(slotMatrix(s));
        if (!choleskyInPlace(f, n)) throw new Error('ALS: item system is not positive definite');
        fac[s] = f;
      }
      return f;
    };
    const { ptr, col, target, weight, uniform } = this.byItem;
    const uv = m.userVec;
    const a = this.a;
    const b = this.b;
    for (let i = 0; i < m.numItems; i++) {
      const s = m.itemGroup[i] + 1;
      const so = s * n;
      for (let k = 0; k < n; k++) b[k] = m.priorMean[so + k] / m.priorVar[so + k];
      const end = ptr[i + 1];
      for (let p = ptr[i]; p < end; p++) {
        const coef = weight[p] * target[p] * inv;
        const xo = col[p] * d;
        for (let k = 0; k < d; k++) b[k] += coef * uv[xo + k];
        b[d] += coef;
      }
      let l: Float64Array;
      if (uniform[i] === 1) {
        l = slotFactor(s);
      } else {
        a.set(slotMatrix(s));
        for (let p = ptr[i]; p < end; p++) {
          const sc = (weight[p] - c0) * inv;
          if (sc === 0) continue;
          const xo = col[p] * d;
          // lower triangle of sc · x̃x̃ᵀ, x̃ = (x, 1)
          for (let r = 0; r < d; r++) {
            const xr = sc * uv[xo + r];
            const rr = r * n;
            for (let cc = 0; cc <= r; cc++) a[rr + cc] += xr * uv[xo + cc];
          }
          const rd = d * n;
          for (let cc = 0; cc < d; cc++) a[rd + cc] += sc * uv[xo + cc];
          a[rd + d] += sc;
        }
        if (!choleskyInPlace(a, n))
          throw new Error(`ALS: item ${m.itemIds[i]}'s system is not positive definite`);
        l = a;
      }
      choleskySolveInPlace(l, n, b);
      for (let k = 0; k < n; k++) m.itemMean[i * n + k] = b[k];
    }
  }

  /** One epoch: user step, then item step. */
  epoch(): void {
    this.userStep();
    this.itemStep();
  }

  /**
   * Store the additive statistics that the last item step solved (background c₀Σx̃x̃ᵀ plus each logged pair's
   * deviation (w − c₀)x̃x̃ᵀ and w·t·x̃), solve posteriors with variances, re-estimate group priors, and refit
   * the users against the final item means.
   */
  finalize(priorIterations = 1): void {
    const m = this.model;
    const c0 = m.config.negativeWeight;
    const st = m.stats;
    const d = this.d;
    const { ptr, col, target, weight } = this.byItem;
    for (let i = 0; i < m.numItems; i++) {
      st.reset(i);
      if (c0 !== 0) st.addPacked(i, this.background, 0, 1);
      for (let p = ptr[i]; p < ptr[i + 1]; p++) {
        st.addRaw(i, m.userVec, col[p] * d, weight[p] - c0, weight[p] * target[p]);
        st.count[i] += 1;
        st.weightSum[i] += weight[p];
        if (target[p] > 0) st.positives[i] += 1;
      }
    }
    m.refreshAll();
    m.reestimateGroupPriors(priorIterations);
    this.userStep();
    m.updateDefaultUser();
    m.generation++;
  }
}

/** Train a model in place by ALS (initialise, epochs, finalize). The model's items and users must match `data`. */
export function trainAls(model: FactorModel, data: Interactions, opts: AlsOptions): void {
  const t = new AlsTrainer(model, data);
  if (!opts.warmStart) t.initialise(opts.rng);
  const epochs = opts.epochs ?? 10;
  for (let e = 0; e < epochs; e++) t.epoch();
  t.finalize(opts.priorIterations ?? 1);
  model.meta = { ...model.meta, epochs };
}
