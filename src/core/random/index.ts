export { Rng, hashString } from './rng';
export { NormalStream, robertRate } from './normal-stream';
