/**
 * The read-only view of a learned model that serving (policies) reads.
 *
 * This is the contract between the learners (`src/core/model`) and the policies (`src/core/policies`).
 * It is immutable once built: learning builds the next snapshot and the service swaps the reference,
 * so a request never sees a half-updated model.
 *
 * Score of item i for user u: `x_u · v_i + b_i`. Items carry a Gaussian posterior over (v_i, b_i);
 * serving keeps only the mean and the marginal (diagonal) variance of each coordinate, row-major,
 * `stride = dim + 1` floats per item with the bias last. Under that diagonal posterior the score of
 * item i for a fixed user vector x is Gaussian with
 *   mean  = Σ_k x_k μ_ik + μ_ib
 *   var   = Σ_k x_k² σ²_ik + σ²_ib
 * so one pass over both arrays gives every item's score distribution.
 */
export interface ServingSnapshot {
  /** Model version id (opaque; recorded with every served slate). */
  readonly version: string;
  /** Latent dimension d. */
  readonly dim: number;
  /** Floats per item row: dim + 1 (factors, then bias). */
  readonly stride: number;
  /** Item index → external item id. */
  readonly itemIds: readonly string[];
  /** External item id → item index. */
  readonly itemIndex: ReadonlyMap<string, number>;
  /** Posterior means, itemIds.length × stride, row-major. */
  readonly mean: Float32Array;
  /** Posterior marginal variances (> 0), same layout as `mean`. */
  readonly variance: Float32Array;
  /** 1 if the item may be served, 0 if inactive. Length itemIds.length. */
  readonly active: Uint8Array;
  /** Point estimates of known users' vectors (length dim each). */
  readonly users: ReadonlyMap<string, Float32Array>;
  /** Vector used for a user with no estimate and no history (population prior mean), length dim. */
  readonly defaultUser: Float32Array;
}
