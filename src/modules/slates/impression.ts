import type { PolicyConfig } from '../../core/policies/policy-config.schema';

/** A served slate as it is logged: everything off-policy evaluation and learning need. */
export interface Impression {
  slateId: string;
  userId: string;
  servedAt: Date;
  policy: PolicyConfig;
  seed: number;
  modelVersion: string;
  experiment: { key: string; variant: string } | null;
  context: Record<string, unknown> | null;
  requestedSize: number;
  propensityKind: 'exact' | 'monte_carlo';
  simulatedSlates: number;
  items: {
    itemId: string;
    position: number;
    score: number;
    propensity: number;
    inSlateProbability: number;
  }[];
}
