import { resolveSlateRequest } from './slate-request';
import { classLayout, snapshotClasses } from './score-classes';
import { scoreCandidates, scoreClassLayout } from './score-kernel';
import { scanSpec } from './thompson-sampler';
import { snapshotFromScores, syntheticSnapshot } from './testing/synthetic-snapshot';

describe('snapshotClasses (items with bit-identical posterior rows)', () => {
  it('groups exactly the items whose mean and variance rows are bit-identical', () => {
    const snap = syntheticSnapshot({ items: 3000, dim: 8, seed: 4, coldFraction: 0.4 });
    const { classOf, count } = snapshotClasses(snap);
    const n = snap.itemIds.length;
    const key = (i: number): string =>
      Array.from(snap.mean.subarray(i * snap.stride, (i + 1) * snap.stride)).join() +
      '|' +
      Array.from(snap.variance.subarray(i * snap.stride, (i + 1) * snap.stride)).join();
    const byKey = new Map<string, number[]>();
    for (let i = 0; i < n; i++) byKey.set(key(i), [...(byKey.get(key(i)) ?? []), i]);
    let expectedClasses = 0;
    for (const items of byKey.values()) {
      if (items.length === 1) {
        expect(classOf[items[0]]).toBe(-1);
        continue;
      }
      expectedClasses++;
      const g = classOf[items[0]];
      expect(g).toBeGreaterThanOrEqual(0);
      for (const i of items) expect(classOf[i]).toBe(g);
    }
    expect(count).toBe(expectedClasses);
    expect(count).toBe(20); // the synthetic model's cold items sit at one of 20 group priors
    expect(snapshotClasses(snap)).toBe(snapshotClasses(snap)); // once per snapshot
  });

  it('a single differing bit (one variance, or -0 against 0) makes another class', () => {
    const snap = snapshotFromScores([0.5, 0.5, 0.5, 0.5, 0.5], [1, 1, 1, 1, 1]);
    snap.variance[2 * snap.stride] = Math.fround(1 + 2 ** -20); // item 2's score variance, one ulp off
    const { classOf } = snapshotClasses(snap);
    expect(classOf[2]).toBe(-1);
    expect(new Set([classOf[0], classOf[1], classOf[3], classOf[4]]).size).toBe(1);
    const zeros = snapshotFromScores([0, -0, 0], [1, 1, 1]);
    const z = snapshotClasses(zeros).classOf;
    expect([z[0] >= 0, z[1], z[0] === z[2]]).toEqual([true, -1, true]);
  });
});

describe('classLayout (a request laid out by class)', () => {
  const snap = syntheticSnapshot({ items: 2000, dim: 8, seed: 5, coldFraction: 0.5 });
  const { classOf } = snapshotClasses(snap);

  it('puts the singles first (ascending), then each class contiguously; scores one member per class', () => {
    const req = resolveSlateRequest(snap, { size: 10, exclude: [0, 1, 2, 3, 4, 5] });
    const layout = classLayout(snap, req.rows)!;
    expect(layout).not.toBeNull();
    expect(Array.from(layout.rows).sort((a, b) => a - b)).toEqual(Array.from(req.rows));
    const singles = Array.from(layout.rows.subarray(0, layout.nSingles));
    expect(singles).toEqual([...singles].sort((a, b) => a - b));
    const seen = new Set<number>();
    for (let g = 0; g + 1 < layout.start.length; g++) {
      const members = Array.from(layout.rows.subarray(layout.start[g], layout.start[g + 1]));
      expect(members.length).toBeGreaterThanOrEqual(2);
      const cls = classOf[members[0]];
      expect(seen.has(cls)).toBe(false);
      seen.add(cls);
      for (const i of members) expect(classOf[i]).toBe(cls);
      expect(layout.scoreRows[layout.nSingles + g]).toBe(members[0]);
    }
    expect(Array.from(layout.scoreRows.subarray(0, layout.nSingles))).toEqual(singles);
    expect(layout.start[layout.start.length - 1]).toBe(req.rows.length);
  });

  it('treats a class with one member among the candidates as a single, and skips small requests', () => {
    const cold = Array.from({ length: 2000 }, (_, i) => i).filter((i) => classOf[i] >= 0);
    const byClass = new Map<number, number[]>();
    for (const i of cold) byClass.set(classOf[i], [...(byClass.get(classOf[i]) ?? []), i]);
    const [g0, g1, g2] = [...byClass.keys()];
    const one = byClass.get(g0)![0];
    const many = [...byClass.get(g1)!.slice(0, 40), ...byClass.get(g2)!.slice(0, 40)];
    const req = resolveSlateRequest(snap, { size: 5, candidates: [one, ...many, 1999] });
    const layout = classLayout(snap, req.rows)!;
    expect(Array.from(layout.start)).toEqual([req.rows.length - 80, req.rows.length - 40, req.rows.length]);
    expect(Array.from(layout.rows.subarray(0, layout.nSingles))).toContain(one);
    const few = resolveSlateRequest(snap, { size: 5, candidates: many.slice(0, 20) });
    expect(classLayout(snap, few.rows)).toBeNull(); // 20 members: not worth a layout
  });

  it('caches the layout of the shared every-active-item rows', () => {
    const req = resolveSlateRequest(snap, { size: 10 });
    expect(req.rowsShared).toBe(true);
    // The HTTP layer always passes an exclusion list, usually empty: still the shared rows.
    const empty = resolveSlateRequest(snap, { size: 10, exclude: [] });
    expect(empty.rowsShared && empty.rows === req.rows).toBe(true);
    expect(resolveSlateRequest(snap, { size: 10, exclude: [3] }).rowsShared).toBe(false);
    expect(classLayout(snap, req.rows, true)).toBe(classLayout(snap, req.rows, true));
  });

  it('scores every member of a class exactly as scoring it alone would', () => {
    const req = resolveSlateRequest(snap, { size: 10, exclude: [7, 8, 9] });
    const layout = classLayout(snap, req.rows)!;
    const user = snap.users.get('u1')!;
    const plain = scoreCandidates(snap, user, req.rows, false);
    const byItem = new Map<number, number>();
    req.rows.forEach((item, c) => byItem.set(item, c));
    const spec = scanSpec(req.rows.length, 10);
    const sc = scoreClassLayout(snap, user, layout, req.rows, { ...spec, k: 10 });
    expect(sc.n).toBe(req.rows.length);
    expect(sc.candidateSet).toBe(req.rows);
    expect(sc.scan).toBeDefined();
    let differ = 0;
    for (let c = 0; c < sc.n; c++) {
      const p = byItem.get(sc.rows[c])!;
      if (sc.mean[c] !== plain.mean[p] || sc.variance[c] !== plain.variance[p] || sc.sd[c] !== plain.sd[p])
        differ++;
    }
    expect(differ).toBe(0);
  });
});
