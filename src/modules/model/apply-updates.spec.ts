import { UserHistories } from './apply-updates';

describe('UserHistories', () => {
  it('keeps at most maxUsers users, dropping the least recently updated first', () => {
    const h = new UserHistories(3);
    for (const u of ['a', 'b', 'c']) h.push(u, 1, 1, 1);
    h.push('a', 2, 0, 1); // a is now the most recent: b is the oldest
    h.push('d', 3, 1, 1);
    expect(h.size).toBe(3);
    expect(h.dropped).toBe(1);
    expect(h.get('b')).toBeUndefined();
    expect(h.get('a')!.items).toEqual([1, 2]);
    // A run of pushes for one user (a closed slate's items) keeps it the most recent.
    for (let k = 0; k < 5; k++) h.push('c', 10 + k, 0, 1);
    h.push('e', 4, 1, 1); // drops a (c moved after it), then d is the oldest
    h.push('f', 5, 1, 1);
    expect([...['a', 'c', 'd', 'e', 'f']].filter((u) => h.get(u) !== undefined)).toEqual(['c', 'e', 'f']);
    expect(h.dropped).toBe(3);
    // A dropped user comes back with a fresh history, under a stamp no earlier history of theirs had.
    const before = h.get('c')!.stamp;
    h.push('b', 7, 1, 1);
    expect(h.get('b')!.items).toEqual([7]);
    expect(h.get('b')!.stamp).toBeGreaterThan(before);
  });

  it('keeps the newest 100 targets of a user, with a stamp that moves at every push', () => {
    const h = new UserHistories();
    const stamps = new Set<number>();
    for (let k = 0; k < 250; k++) {
      h.push('u', k, k / 2, 1);
      h.push('v', k, 0, 1);
      stamps.add(h.get('u')!.stamp).add(h.get('v')!.stamp);
    }
    const got = h.get('u')!;
    expect(got.items).toEqual(Array.from({ length: 100 }, (_, k) => 150 + k));
    expect(got.targets[99]).toBe(249 / 2);
    expect(stamps.size).toBe(500); // no two states of any history share a stamp
    expect(() => new UserHistories(0)).toThrow(RangeError);
  });
});
