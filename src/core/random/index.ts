export { Rng, hashString } from './rng';
export { zigguratNormal, fillZigguratNormal, normalTailAbove } from './ziggurat';
