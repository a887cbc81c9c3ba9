export {
  ESTIMATOR_KINDS,
  type EstimatorKind,
  type EstimatorConfig,
  estimatorConfigSchema,
  parseEstimatorConfig,
  estimatorTarget,
  ipsPairLoss,
  idealPairLoss,
  applyEstimator,
} from './estimator';
