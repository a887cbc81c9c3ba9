import { z } from 'zod';
import { PolicyInputError } from './policy-errors';

/**
 * Serving policy configurations: immutable values, validated once by zod, apart from any state.
 * The discriminated union on `name` is exported so that HTTP bodies, the environment config and
 * experiment variants all validate a policy with the same rules.
 */

/** Simulated slates for Monte Carlo propensities (see `thompsonPropensities`). */
const propensitySlates = z
  .number()
  .int('must be an integer')
  .min(16, 'must be at least 16')
  .max(100_000, 'must be at most 100000');

export const inSlateTsConfigSchema = z
  .object({
    name: z.literal('in_slate_ts'),
    // Unset: chosen by the estimator (`thompsonPropensities`): for the conditional estimate of a
    // served slate 64 up to 12 items, 32 up to 20, 16 up to 32; else 256 counted.
    propensitySlates: propensitySlates
      .optional()
      .describe(
        'Simulated slates used to estimate the propensities: for served slates (conditional Monte Carlo) ' +
          'default 64 up to 12 items, 32 up to 20, 16 up to 32; else 256 (counts)',
      ),
  })
  .strict();

export const slateTsConfigSchema = z
  .object({
    name: z.literal('slate_ts'),
    // Unset: 64 for a served slate's conditional estimate, 256 counted for a full matrix (`thompsonPropensities`).
    propensitySlates: propensitySlates
      .optional()
      .describe(
        'Simulated draws used to estimate the propensities: default 64 for served slates (conditional Monte ' +
          'Carlo), 256 for the full matrix of off-policy evaluation (counts)',
      ),
  })
  .strict();

export const greedyConfigSchema = z.object({ name: z.literal('greedy') }).strict();

export const epsGreedyConfigSchema = z
  .object({
    name: z.literal('eps_greedy'),
    epsilon: z
      .number()
      .min(0, 'must be in [0, 1]')
      .max(1, 'must be in [0, 1]')
      .default(0.1)
      .describe('Per-slot probability of a uniformly random not-yet-chosen candidate'),
  })
  .strict();

export const ucbConfigSchema = z
  .object({
    name: z.literal('ucb'),
    beta: z
      .number()
      .min(0, 'must be ≥ 0')
      .max(100, 'must be ≤ 100')
      .default(2)
      .describe('Width of the upper bound: score = mean + beta · sd'),
  })
  .strict();

export const randomConfigSchema = z.object({ name: z.literal('random') }).strict();

export const policyConfigSchema = z.discriminatedUnion('name', [
  inSlateTsConfigSchema,
  slateTsConfigSchema,
  greedyConfigSchema,
  epsGreedyConfigSchema,
  ucbConfigSchema,
  randomConfigSchema,
]);

export type PolicyConfigInput = z.input<typeof policyConfigSchema>;
export type PolicyConfig = Readonly<z.output<typeof policyConfigSchema>>;
export type PolicyName = PolicyConfig['name'];
export const POLICY_NAMES: readonly PolicyName[] = [
  'in_slate_ts',
  'slate_ts',
  'greedy',
  'eps_greedy',
  'ucb',
  'random',
];

/**
 * Validate a policy config (defaults filled in) and freeze it.
 * @throws PolicyInputError naming the first bad field (`policy.epsilon`) and the rule it broke.
 */
export function parsePolicyConfig(input: unknown, fieldPrefix = 'policy'): PolicyConfig {
  const r = policyConfigSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    let path = [fieldPrefix, ...issue.path.map(String)].join('.');
    let rule = issue.message;
    if (issue.code === 'invalid_union' && String(issue.path[issue.path.length - 1]) === 'name') {
      rule = `must be one of ${POLICY_NAMES.join(', ')}`;
    } else if (issue.code === 'unrecognized_keys') {
      path = `${path}.${issue.keys[0]}`;
      rule = `is not a parameter of policy ${String((input as { name?: unknown }).name)}`;
    }
    throw new PolicyInputError(path, rule);
  }
  return Object.freeze(r.data);
}

/** True when the policy's propensities are Monte Carlo estimates (else exact closed forms). */
export function isMonteCarloPolicy(
  config: PolicyConfig,
): config is Extract<PolicyConfig, { name: 'in_slate_ts' | 'slate_ts' }> {
  return config.name === 'in_slate_ts' || config.name === 'slate_ts';
}
