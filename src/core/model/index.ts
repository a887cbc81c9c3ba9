export type { ServingSnapshot } from './serving-snapshot';
export { ModelInputError, ModelFormatError } from './errors';
export { modelConfigSchema, parseModelConfig, type ModelConfig, type ModelConfigInput } from './model-config';
export { ItemStats } from './item-stats';
export { itemPosterior, SolveWorkspace } from './posterior';
export { jobStride, solvePosteriorJob, type PosteriorJob, type PosteriorResult } from './posterior-job';
export { globalPriors, estimateGroupPriors, type PriorSettings } from './group-prior';
export { FactorModel, type ItemSpec, type ModelMeta, type PropensityRecord } from './factor-model';
export {
  applyEvents,
  mergeStats,
  accumulateEvents,
  accumulateEventsReference,
  validateEventBatch,
  type EventBatch,
} from './online';
export {
  foldInUser,
  solveUser,
  buildUserSystem,
  userSystemOf,
  UserWorkspace,
  type UserHistory,
  type FoldInOptions,
  type UserSystem,
} from './user-solve';
export { buildServingSnapshot } from './serving';
export { SnapshotMemory } from './snapshot-memory';
export { encodeModel, decodeModel, MODEL_FORMAT_VERSION } from './serialize';
export {
  encodeModelPages,
  decodeModelPages,
  PAGED_FORMAT_VERSION,
  PAGE_ITEMS,
  type ModelPages,
  type EncodeOptions,
} from './paged';
export {
  decodeModelHead,
  applyModelPage,
  applyUserPage,
  applyItemIdPage,
  finishReading,
  isPagedFormat,
  userPageNumber,
  userPageOf,
  itemIdPageNumber,
  itemIdPageOf,
  type ModelReading,
} from './paged';
