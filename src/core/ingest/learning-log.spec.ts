import { Rng } from '../random';
import {
  decodeLearningBatch,
  encodeLearningBatch,
  LearningLogFormatError,
  type LearningUpdate,
} from './learning-log';

describe('learning log batches', () => {
  const rng = new Rng(7);
  const dim = 5;
  const updates: LearningUpdate[] = Array.from({ length: 20 }, (_, k) => ({
    userId: `user-${k % 3}-ü`,
    itemId: `item-${k}`,
    x: Float32Array.from({ length: dim }, () => rng.normal()),
    target: k % 4 === 0 ? 1 / (0.1 + rng.next()) : 0,
    weight: 1,
  }));

  it('round-trips every field exactly', () => {
    const back = decodeLearningBatch(encodeLearningBatch(dim, updates));
    expect(back.dim).toBe(dim);
    expect(back.updates).toEqual(updates);
  });

  it('round-trips an empty batch', () => {
    expect(decodeLearningBatch(encodeLearningBatch(3, []))).toEqual({ dim: 3, updates: [] });
  });

  it('rejects corrupt input with a clear message', () => {
    const bytes = encodeLearningBatch(dim, updates);
    expect(() => decodeLearningBatch(bytes.subarray(0, bytes.length - 3))).toThrow(LearningLogFormatError);
    expect(() => decodeLearningBatch(bytes.subarray(0, bytes.length - 3))).toThrow(/truncated/);
    const bad = bytes.slice();
    bad[0] ^= 0xff;
    expect(() => decodeLearningBatch(bad)).toThrow(/bad magic/);
    expect(() => encodeLearningBatch(4, updates)).toThrow(/length 5 must be 4/);
  });
});
