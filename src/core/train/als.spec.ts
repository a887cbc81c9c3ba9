import { FactorModel } from '../model/factor-model';
import { ModelInputError } from '../model/errors';
import { buildServingSnapshot } from '../model/serving';
import { Rng } from '../random';
import { AlsTrainer, trainAls } from './als';
import {
  alsItemStepReference,
  alsUserStepReference,
  itemSolveDefinition,
  type RefRow,
  userSolveDefinition,
} from './als-reference';
import { aggregateInteractions, type Interactions } from './interactions';

function data(rng: Rng, users: number, items: number, nnz: number, weighted: boolean): Interactions {
  const seen = new Set<number>();
  const u: number[] = [];
  const i: number[] = [];
  while (u.length < nnz) {
    const a = rng.nextInt(users);
    const b = rng.nextInt(items);
    if (seen.has(a * items + b)) continue;
    seen.add(a * items + b);
    u.push(a);
    i.push(b);
  }
  return {
    numUsers: users,
    numItems: items,
    user: Int32Array.from(u),
    item: Int32Array.from(i),
    target: Float64Array.from(u, () => (rng.next() < 0.5 ? 1 / (0.05 + rng.next()) : 0)),
    weight: Float64Array.from(u, () => (weighted ? 0.2 + 3 * rng.next() : 1)),
  };
}

function rows(d: Interactions, by: 'user' | 'item'): RefRow[] {
  const n = by === 'user' ? d.numUsers : d.numItems;
  const r: RefRow[] = Array.from({ length: n }, () => ({ cols: [], targets: [], weights: [] }));
  for (let p = 0; p < d.user.length; p++) {
    const row = r[by === 'user' ? d.user[p] : d.item[p]];
    row.cols.push(by === 'user' ? d.item[p] : d.user[p]);
    row.targets.push(d.target[p]);
    row.weights.push(d.weight[p]);
  }
  return r;
}

function model(users: number, items: number, groups: number): FactorModel {
  return FactorModel.create(
    { dim: 3, noiseVar: 0.7, userPriorVar: 2, itemPriorVar: 1.5, biasPriorVar: 2, negativeWeight: 1 },
    {
      items: Array.from({ length: items }, (_, i) => ({
        id: `i${i}`,
        group: groups ? `g${i % groups}` : null,
      })),
      users: Array.from({ length: users }, (_, u) => `u${u}`),
    },
  );
}

const settings = { c0: 1, noiseVar: 0.7, userPriorVar: 2 };

describe.each([false, true])('ALS steps (weighted=%s)', (weighted) => {
  it('the user step equals the objective by definition and the scalar Gram reference', () => {
    const rng = new Rng(weighted ? 1 : 2);
    const d = data(rng, 9, 14, 40, weighted);
    const m = model(9, 14, 0);
    const t = new AlsTrainer(m, d);
    t.initialise(rng);
    const untrained = buildServingSnapshot(m);
    t.userStep();
    // The user step writes userVec directly and says so: a snapshot after it has the new vectors.
    const trained = buildServingSnapshot(m);
    expect(trained.users).not.toBe(untrained.users);
    expect(Array.from(trained.users.get('u4')!)).toEqual(Array.from(Float32Array.from(m.userVector(4))));
    const means = Array.from({ length: 14 }, (_, i) => Array.from(m.itemMean.subarray(i * 4, i * 4 + 4)));
    const byUser = rows(d, 'user');
    const gramRef = alsUserStepReference(means, byUser, settings);
    for (let u = 0; u < 9; u++) {
      const def = userSolveDefinition(means, byUser[u], settings);
      for (let k = 0; k < 3; k++) {
        expect(m.userVec[u * 3 + k]).toBeCloseTo(def[k], 9);
        expect(gramRef[u][k]).toBeCloseTo(def[k], 9);
      }
    }
  });

  it('the item step equals each item’s posterior mean by definition, with group priors', () => {
    const rng = new Rng(weighted ? 3 : 4);
    const d = data(rng, 10, 8, 35, weighted);
    const m = model(10, 8, 2);
    for (let u = 0; u < 10; u++) m.setUserVector(u, [rng.normal(), rng.normal(), rng.normal()]);
    // make the two group priors differ
    m.priorMean[1 * 4 + 3] = 0.7;
    m.priorVar[2 * 4 + 0] = 0.3;
    const t = new AlsTrainer(m, d);
    t.itemStep();
    const users = Array.from({ length: 10 }, (_, u) => Array.from(m.userVector(u)));
    const byItem = rows(d, 'item');
    const gramRef = alsItemStepReference(
      users,
      byItem.slice(0, 1),
      [0, 0, 0, 0.7],
      [1.5, 1.5, 1.5, 2],
      settings,
    );
    for (let k = 0; k < 4; k++) expect(m.itemMean[k]).toBeCloseTo(gramRef[0][k], 9); // item 0 is in group g0 = slot 1
    for (let i = 0; i < 8; i++) {
      const slot = m.itemGroup[i] + 1;
      const pm = Array.from(m.priorMean.subarray(slot * 4, slot * 4 + 4));
      const pv = Array.from(m.priorVar.subarray(slot * 4, slot * 4 + 4));
      const def = itemSolveDefinition(users, byItem[i], pm, pv, settings);
      for (let k = 0; k < 4; k++) expect(m.itemMean[i * 4 + k]).toBeCloseTo(def[k], 9);
    }
  });
});

describe('ALS user step, low-rank (Woodbury) path', () => {
  it('equals the objective by definition when a few pairs are up-weighted (d = 8, ≤ 2 per user)', () => {
    const rng = new Rng(12);
    const users = 15;
    const items = 30;
    const d0 = data(rng, users, items, 60, false);
    d0.weight = Float64Array.from(d0.weight, () => (rng.next() < 0.4 ? 1 + 4 * rng.next() : 1));
    const m = FactorModel.create(
      { dim: 8, noiseVar: 0.7, userPriorVar: 2, negativeWeight: 1 },
      {
        items: Array.from({ length: items }, (_, i) => ({ id: `i${i}` })),
        users: Array.from({ length: users }, (_, u) => `u${u}`),
      },
    );
    const t = new AlsTrainer(m, d0);
    t.initialise(rng);
    t.userStep();
    const means = Array.from({ length: items }, (_, i) => Array.from(m.itemMean.subarray(i * 9, i * 9 + 9)));
    const byUser = rows(d0, 'user');
    let lowRankUsers = 0;
    for (let u = 0; u < users; u++) {
      const up = byUser[u].weights.filter((w) => w !== 1).length;
      if (up > 0 && up <= 2) lowRankUsers++;
      const def = userSolveDefinition(means, byUser[u], settings);
      for (let k = 0; k < 8; k++) expect(m.userVec[u * 8 + k]).toBeCloseTo(def[k], 9);
    }
    expect(lowRankUsers).toBeGreaterThan(3); // the path was exercised
  });
});

describe('trainAls', () => {
  it('stores statistics whose posterior is the trained item means, and lowers the objective', () => {
    const rng = new Rng(7);
    const d = data(rng, 30, 20, 150, true);
    const m = model(30, 20, 3);
    const t = new AlsTrainer(m, d);
    t.initialise(rng);
    const objective = (): number => {
      let f = 0;
      const logged = new Map<number, number>();
      for (let p = 0; p < d.user.length; p++) logged.set(d.user[p] * 20 + d.item[p], p);
      for (let u = 0; u < 30; u++)
        for (let i = 0; i < 20; i++) {
          const p = logged.get(u * 20 + i);
          const s = m.score(m.userVec, u * 3, i);
          const w = p === undefined ? 1 : d.weight[p];
          const y = p === undefined ? 0 : d.target[p];
          f += (w * (y - s) * (y - s)) / 0.7;
        }
      for (let p = 0; p < 30 * 3; p++) f += (m.userVec[p] * m.userVec[p]) / 2;
      for (let i = 0; i < 20; i++) {
        const o = (m.itemGroup[i] + 1) * 4;
        for (let k = 0; k < 4; k++)
          f += (m.itemMean[i * 4 + k] - m.priorMean[o + k]) ** 2 / m.priorVar[o + k];
      }
      return f; // twice the negative log posterior, up to a constant: every ALS half-step can only lower it
    };
    t.userStep();
    const f0 = objective();
    let prev = f0;
    for (let e = 0; e < 5; e++) {
      t.itemStep();
      expect(objective()).toBeLessThanOrEqual(prev + 1e-9);
      prev = objective();
      t.userStep();
      expect(objective()).toBeLessThanOrEqual(prev + 1e-9);
      prev = objective();
    }
    expect(prev).toBeLessThan(f0);
    t.finalize(1);
    const means = m.itemMean.slice(0, 20 * 4);
    m.refreshAll();
    for (let p = 0; p < 80; p++) expect(m.itemMean[p]).toBeCloseTo(means[p], 9);
    expect(m.stats.count.reduce((a, b) => a + b, 0)).toBe(150);
  });

  it('is deterministic given the seed and validates its input', () => {
    const d = data(new Rng(1), 12, 9, 30, false);
    const a = model(12, 9, 0);
    const b = model(12, 9, 0);
    trainAls(a, d, { rng: new Rng(5), epochs: 3 });
    trainAls(b, d, { rng: new Rng(5), epochs: 3 });
    expect(Array.from(a.itemMean.subarray(0, 36))).toEqual(Array.from(b.itemMean.subarray(0, 36)));
    const bad = { ...d, item: d.item.slice() };
    bad.item[4] = 9;
    expect(() => trainAls(a, bad, { rng: new Rng(1) })).toThrow(
      /interactions\.item\[4\]: must be in \[0, 9\)/,
    );
    expect(() => trainAls(model(12, 8, 0), d, { rng: new Rng(1) })).toThrow(ModelInputError);
  });

  it('rejects repeated pairs, and aggregating them is exact', () => {
    const rng = new Rng(4);
    const d = data(rng, 10, 7, 25, true);
    // split pair 3 into two observations of the same (user, item) with the same total weight and mean target
    const w = d.weight[3];
    const dup: Interactions = {
      ...d,
      user: Int32Array.from([...d.user, d.user[3]]),
      item: Int32Array.from([...d.item, d.item[3]]),
      target: Float64Array.from([
        ...d.target.slice(0, 3),
        d.target[3] + 1,
        ...d.target.slice(4),
        d.target[3] - 1,
      ]),
      weight: Float64Array.from([...d.weight.slice(0, 3), w / 2, ...d.weight.slice(4), w / 2]),
    };
    expect(() => trainAls(model(10, 7, 0), dup, { rng: new Rng(1) })).toThrow(/appears more than once/);
    const a = model(10, 7, 0);
    const b = model(10, 7, 0);
    trainAls(a, d, { rng: new Rng(2), epochs: 3 });
    trainAls(b, aggregateInteractions(dup), { rng: new Rng(2), epochs: 3 });
    for (let p = 0; p < 7 * 4; p++) expect(b.itemMean[p]).toBeCloseTo(a.itemMean[p], 9);
  });
});
