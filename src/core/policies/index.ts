export { serveSlate, slatePropensities, scoreRequest, prepareSnapshotForServing } from './serve-slate';
export type { ServedItem, ServedSlate, ServeOptions } from './serve-slate';
export {
  policyConfigSchema,
  inSlateTsConfigSchema,
  slateTsConfigSchema,
  greedyConfigSchema,
  epsGreedyConfigSchema,
  ucbConfigSchema,
  randomConfigSchema,
  parsePolicyConfig,
  isMonteCarloPolicy,
  POLICY_NAMES,
} from './policy-config.schema';
export type { PolicyConfig, PolicyConfigInput, PolicyName } from './policy-config.schema';
export { resolveSlateRequest, MAX_SLATE_SIZE } from './slate-request';
export type { SlateRequest, ResolvedRequest } from './slate-request';
export { PolicyInputError, NoCandidatesError } from './policy-errors';
export { propensityAt, inSlateProbability, toDensePropensities } from './slate-propensities';
export type { SlatePropensities } from './slate-propensities';
export { prepareSnapshotForWasm, wasmSimdAvailable } from './score-moments.wasm';
export { scoreCandidates } from './score-kernel';
export { scoreMomentsReference } from './score-moments';
export type { ScoreMoments } from './score-moments';
export type { ScoredCandidates, Selection } from './policy-types';
export { ThompsonTopK, thompsonTopKReference } from './thompson-sampler';
export { snapshotClasses, classLayout } from './score-classes';
export type { SnapshotClasses, ClassLayout } from './score-classes';
export { epsGreedyRankPropensities } from './eps-greedy';
export { assembleInSlate } from './thompson-policies';
