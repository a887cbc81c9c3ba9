export { popularityPropensity } from './popularity';
export { examinationFromRandomised, positionBiasEm, type PositionLog, type EmOptions } from './position-bias';
