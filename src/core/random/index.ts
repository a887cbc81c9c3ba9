export { Rng, hashString } from './rng';
export { NormalStream } from './normal-stream';
