import { Rng } from '../random';
import { applyEvents } from './online';
import { FactorModel } from './factor-model';
import { buildServingSnapshot } from './serving';
import type { ServingSnapshot } from './serving-snapshot';
import { SnapshotMemory } from './snapshot-memory';

function model(items: number): FactorModel {
  return FactorModel.create(
    { dim: 4 },
    { items: Array.from({ length: items }, (_, i) => ({ id: `i${i}` })), users: [] },
  );
}

function learn(m: FactorModel, rng: Rng): void {
  const len = 20;
  applyEvents(m, {
    user: new Int32Array(len).fill(-1),
    item: Int32Array.from({ length: len }, () => rng.nextInt(m.numItems)),
    target: Float64Array.from({ length: len }, () => (rng.next() < 0.3 ? 1 : 0)),
    weight: new Float64Array(len).fill(1),
  });
}

const bytes = (s: ServingSnapshot): Buffer[] => [
  Buffer.from(new Uint8Array(s.mean.buffer as SharedArrayBuffer).slice()),
  Buffer.from(new Uint8Array(s.variance.buffer as SharedArrayBuffer).slice()),
];
const buffersOf = (s: ServingSnapshot) => [s.mean.buffer, s.variance.buffer];

describe('SnapshotMemory: serving snapshots in the memory of replaced ones nobody reads', () => {
  it('reuses a replaced snapshot’s memory at once when nothing holds it, overwritten whole', () => {
    const memory = new SnapshotMemory();
    const m = model(50);
    const rng = new Rng(1);
    const first = buildServingSnapshot(m, { memory });
    const old = buffersOf(first);
    memory.retire(first);
    learn(m, rng); // new posteriors: the reused memory holds the old ones until the build overwrites it
    const second = buildServingSnapshot(m, { memory });
    expect(memory.recycled).toBe(2);
    expect(new Set([...old, ...buffersOf(second)]).size).toBe(2);
    expect(bytes(second)).toEqual(bytes(buildServingSnapshot(m)));
  });

  it('never reuses the memory of a snapshot still held, however many rebuilds come, until it is let go', () => {
    const memory = new SnapshotMemory();
    const m = model(40);
    const rng = new Rng(2);
    let current = buildServingSnapshot(m, { memory });
    // A request holds it (twice: two requests in flight on one snapshot).
    const held = current;
    memory.hold(held);
    memory.hold(held);
    const before = bytes(held);
    for (let r = 0; r < 5; r++) {
      learn(m, rng);
      const next = buildServingSnapshot(m, { memory });
      memory.retire(current);
      current = next;
      expect(buffersOf(current).some((b) => buffersOf(held).includes(b))).toBe(false);
    }
    expect(bytes(held)).toEqual(before); // still what it was built with
    memory.letGo(held);
    learn(m, rng);
    let next = buildServingSnapshot(m, { memory });
    expect(buffersOf(next).some((b) => buffersOf(held).includes(b))).toBe(false); // one request still in flight
    memory.letGo(held); // the last: now it goes
    memory.retire(current); // one spare snapshot is kept: this one's buffers are let go
    current = next;
    learn(m, rng);
    next = buildServingSnapshot(m, { memory });
    expect(buffersOf(held).every((b) => buffersOf(next).includes(b))).toBe(true);
    expect(bytes(next)).toEqual(bytes(buildServingSnapshot(m)));
    expect(() => memory.letGo(held)).not.toThrow(); // forgotten once reused: nothing to give back
    memory.hold(current);
    memory.letGo(current);
    expect(() => memory.letGo(current)).toThrow('not held');
  });

  it('lets buffers of an older length go (the catalogue grew), and keeps at most `keep`', () => {
    const memory = new SnapshotMemory(2);
    const m = model(10);
    const a = buildServingSnapshot(m, { memory });
    m.addItem('more');
    const b = buildServingSnapshot(m, { memory }); // a new length: a's buffers would not fit
    memory.retire(a);
    const c = buildServingSnapshot(m, { memory });
    expect(memory.recycled).toBe(0);
    expect(buffersOf(c).some((x) => buffersOf(a).includes(x))).toBe(false);
    memory.retire(b);
    memory.retire(c); // four buffers free, two kept
    buildServingSnapshot(m, { memory });
    buildServingSnapshot(m, { memory });
    expect(memory.recycled).toBe(2);
    expect(memory.live).toBe(2);
  });
});
