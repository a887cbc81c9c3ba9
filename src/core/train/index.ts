export { AlsTrainer, trainAls, type AlsOptions } from './als';
export {
  validateInteractions,
  aggregateInteractions,
  assertUniquePairs,
  toCsr,
  type Interactions,
  type Csr,
} from './interactions';
export { dcgAtK, recallAtK, apAtK, gradedMetricsAtK, argsortDesc } from './ranking-metrics';
