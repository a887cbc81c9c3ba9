export {
  packedSize,
  packedIndex,
  packedSyr,
  packedSyrAugmented,
  unpackSymmetric,
  unpackLowerScaled,
} from './packed';
export { choleskyInPlace, choleskySolveInPlace, choleskyInverseDiagonal } from './cholesky';
