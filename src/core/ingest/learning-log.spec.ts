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

  it('stores a vector shared by several updates once', () => {
    const shared = Float32Array.from({ length: dim }, (_, j) => j / 7);
    const many = Array.from({ length: 50 }, (_, k) => ({ ...updates[k % 20], x: shared }));
    const one = encodeLearningBatch(dim, many.slice(0, 1)).length;
    const all = encodeLearningBatch(dim, many).length;
    // 49 more updates cost their ids, index, target and weight, never another vector
    const utf8 = (t: string) => new TextEncoder().encode(t).length;
    const more = many.slice(1).reduce((n, u) => n + 4 + utf8(u.userId) + utf8(u.itemId) + 20, 0);
    expect(all - one).toBe(more);
    const back = decodeLearningBatch(encodeLearningBatch(dim, many)).updates;
    expect(back).toEqual(many);
    expect(back[0].x).toBe(back[49].x);
  });

  it('still reads batches of the older layout (RLB1: a vector per update)', () => {
    const enc = new TextEncoder();
    const parts: number[] = [];
    const u32 = (v: number) => parts.push(...new Uint8Array(Uint32Array.of(v).buffer));
    const f64 = (v: number) => parts.push(...new Uint8Array(Float64Array.of(v).buffer));
    u32(0x31424c52);
    u32(updates.length);
    u32(dim);
    for (const u of updates) {
      for (const id of [u.userId, u.itemId]) {
        const b = enc.encode(id);
        parts.push(b.length & 0xff, b.length >> 8, ...b);
      }
      f64(u.target);
      f64(u.weight);
      parts.push(...new Uint8Array(Float32Array.from(u.x).buffer));
    }
    expect(decodeLearningBatch(Uint8Array.from(parts)).updates).toEqual(updates);
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
