import { parsePolicyConfig, policyConfigSchema } from './policy-config.schema';
import { PolicyInputError } from './policy-errors';

function errorOf(input: unknown): PolicyInputError {
  try {
    parsePolicyConfig(input);
  } catch (e) {
    if (e instanceof PolicyInputError) return e;
    throw e;
  }
  throw new Error('expected a PolicyInputError');
}

describe('policy configs', () => {
  it('fills defaults and freezes the result', () => {
    const c = parsePolicyConfig({ name: 'in_slate_ts' });
    // Unset: the estimator's own default (`thompsonPropensities`).
    expect(c).toEqual({ name: 'in_slate_ts' });
    expect(parsePolicyConfig({ name: 'slate_ts' })).toEqual({ name: 'slate_ts' });
    expect(Object.isFrozen(c)).toBe(true);
    expect(parsePolicyConfig({ name: 'eps_greedy' })).toEqual({ name: 'eps_greedy', epsilon: 0.1 });
    expect(parsePolicyConfig({ name: 'ucb', beta: 0.5 })).toEqual({ name: 'ucb', beta: 0.5 });
    expect(parsePolicyConfig({ name: 'random' })).toEqual({ name: 'random' });
  });

  it('names the field and the rule it broke', () => {
    expect(errorOf({ name: 'eps_greedy', epsilon: 1.5 })).toMatchObject({
      field: 'policy.epsilon',
      rule: 'must be in [0, 1]',
    });
    expect(errorOf({ name: 'ucb', beta: -1 })).toMatchObject({ field: 'policy.beta', rule: 'must be ≥ 0' });
    expect(errorOf({ name: 'slate_ts', propensitySlates: 2.5 })).toMatchObject({
      field: 'policy.propensitySlates',
      rule: 'must be an integer',
    });
    expect(errorOf({ name: 'in_slate_ts', propensitySlates: 3 }).rule).toBe('must be at least 16');
    expect(errorOf({ name: 'greedy', epsilon: 0.1 })).toMatchObject({
      field: 'policy.epsilon',
      rule: 'is not a parameter of policy greedy',
    });
    expect(errorOf({ name: 'thompson' })).toMatchObject({ field: 'policy.name' });
    expect(errorOf({ name: 'thompson' }).rule).toMatch(
      /in_slate_ts, slate_ts, greedy, eps_greedy, ucb, random/,
    );
  });

  it('exports the schema for reuse', () => {
    expect(policyConfigSchema.safeParse({ name: 'greedy' }).success).toBe(true);
    expect(policyConfigSchema.safeParse({ name: 'greedy', beta: 1 }).success).toBe(false);
  });
});
