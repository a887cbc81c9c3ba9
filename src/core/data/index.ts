export { parseAsciiMatrix, expectShape, type DenseMatrix } from './ascii-matrix';
