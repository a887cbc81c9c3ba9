import { z } from 'zod';
import { estimatorConfigSchema } from '../estimators/estimator';

/**
 * Immutable, validated configuration of a factor model (mabwiser habit: config apart from mutable state).
 * Everything here is recorded in the serialised model, so a snapshot says how it was learned.
 *
 * Probabilistic reading: target t = x̃ᵀθ_i + ε, ε ~ N(0, noiseVar/w) for an event of weight w, with
 * θ_i = (v_i, b_i) and x̃ = (x_u, 1). Items: θ_i ~ N(μ_g, diag(s²_g)) from their group's prior; users:
 * x_u ~ N(0, userPriorVar·I). ALS's ridge penalties are the ratios noiseVar / priorVar.
 */
export const modelConfigSchema = z
  .object({
    /** Latent dimension d. */
    dim: z.number().int().min(1).max(512).default(32),
    /** Observation noise variance σ² of a unit-weight event. */
    noiseVar: z.number().gt(0).default(1),
    /** Prior variance of each user factor (ridge λ_user = noiseVar / userPriorVar). */
    userPriorVar: z.number().gt(0).default(1),
    /** Global prior variance of each item factor (items with no group, and the anchor of group priors). */
    itemPriorVar: z.number().gt(0).default(1),
    /** Global prior variance of the item bias. */
    biasPriorVar: z.number().gt(0).default(1),
    /** Global prior mean of the item bias. */
    biasPriorMean: z.number().default(0),
    /**
     * Weight of the implicit zeros in batch training: every (user, item) pair not in the log counts as target 0
     * with this weight (Hu, Koren & Volinsky's all-pairs objective; Rel-MF treats unobserved pairs as Y = 0).
     * 0 turns batch training into a regression on logged pairs only.
     */
    negativeWeight: z.number().min(0).default(1),
    /** Pseudo-count of items pulling a group's prior toward the global prior (hierarchical shrinkage). */
    groupShrinkage: z.number().min(0).default(5),
    /** Floor on any prior variance, so that a group of identical items does not freeze its new members. */
    priorVarFloor: z.number().gt(0).default(1e-4),
    /** Scale of the random initial item factors for ALS. */
    initScale: z.number().gt(0).default(0.1),
    /** How pairs are turned into least-squares targets (recorded with the model). */
    estimator: estimatorConfigSchema.default({ kind: 'ips', clip: 0.05 }),
  })
  .strict();

export type ModelConfig = Readonly<z.infer<typeof modelConfigSchema>>;
export type ModelConfigInput = z.input<typeof modelConfigSchema>;

/** Parse and freeze a model config; zod's error names the field and the rule on bad input. */
export function parseModelConfig(input: ModelConfigInput = {}): ModelConfig {
  const cfg = modelConfigSchema.parse(input);
  Object.freeze(cfg.estimator);
  return Object.freeze(cfg);
}
