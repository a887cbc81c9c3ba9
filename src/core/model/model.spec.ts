import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inverse, Matrix } from 'ml-matrix';
import { Rng } from '../random';
import { ModelFormatError, ModelInputError } from './errors';
import { FactorModel } from './factor-model';
import { ItemStats } from './item-stats';
import {
  accumulateEvents,
  accumulateEventsReference,
  applyEvents,
  type EventBatch,
  mergeStats,
} from './online';
import { decodeModel, encodeModel } from './serialize';
import { decodeModelPages, encodeModelPages, itemIdPageNumber, itemIdPageOf, type ModelPages } from './paged';
import { solvePosteriorJob } from './posterior-job';
import { buildServingSnapshot } from './serving';
import { foldInUser } from './user-solve';
import { userSolveDefinition } from '../train/als-reference';

function smallModel(d: number, items: number, users: number, rng: Rng, groups = 0): FactorModel {
  const m = FactorModel.create(
    { dim: d, noiseVar: 0.5, itemPriorVar: 2, biasPriorVar: 3, biasPriorMean: 0.1 },
    {
      items: Array.from({ length: items }, (_, i) => ({
        id: `i${i}`,
        group: groups > 0 ? `g${i % groups}` : null,
      })),
      users: Array.from({ length: users }, (_, u) => `u${u}`),
    },
  );
  for (let u = 0; u < users; u++)
    m.setUserVector(
      u,
      Array.from({ length: d }, () => rng.normal()),
    );
  return m;
}

function randomBatch(m: FactorModel, len: number, rng: Rng): EventBatch {
  const b: EventBatch = {
    user: new Int32Array(len),
    item: new Int32Array(len),
    target: new Float64Array(len),
    weight: new Float64Array(len),
  };
  for (let e = 0; e < len; e++) {
    b.user[e] = rng.nextInt(m.numUsers + 1) - 1; // includes −1 = default user
    b.item[e] = rng.nextInt(m.numItems);
    b.target[e] = rng.next() < 0.3 ? 1 / (0.1 + rng.next()) : 0;
    b.weight[e] = 0.5 + rng.next();
  }
  return b;
}

function slice(b: EventBatch, idx: number[]): EventBatch {
  return {
    user: Int32Array.from(idx, (e) => b.user[e]),
    item: Int32Array.from(idx, (e) => b.item[e]),
    target: Float64Array.from(idx, (e) => b.target[e]),
    weight: Float64Array.from(idx, (e) => b.weight[e]),
  };
}

describe('item posterior', () => {
  it('equals closed-form Bayesian linear regression on a small case', () => {
    const rng = new Rng(11);
    const d = 3;
    const m = smallModel(d, 2, 6, rng);
    const batch = randomBatch(m, 40, rng);
    applyEvents(m, batch);
    m.refreshPosteriors();
    for (let i = 0; i < 2; i++) {
      // Σ = (Λ₀ + XᵀWX/σ²)⁻¹, μ = Σ(Λ₀μ₀ + XᵀW y/σ²)
      const prec = Matrix.diag([0.5, 0.5, 0.5, 1 / 3]);
      const rhs = Matrix.columnVector([0, 0, 0, 0.1 / 3]);
      for (let e = 0; e < 40; e++) {
        if (batch.item[e] !== i) continue;
        const u = batch.user[e];
        const x = [...(u >= 0 ? m.userVector(u) : m.defaultUser), 1];
        const xv = Matrix.columnVector(x);
        prec.add(xv.mmul(xv.transpose()).mul(batch.weight[e] / 0.5));
        rhs.add(xv.mul((batch.weight[e] * batch.target[e]) / 0.5));
      }
      const cov = inverse(prec);
      const mu = cov.mmul(rhs);
      for (let k = 0; k <= d; k++) {
        expect(m.itemMean[i * 4 + k]).toBeCloseTo(mu.get(k, 0), 10);
        expect(m.itemVar[i * 4 + k]).toBeCloseTo(cov.get(k, k), 10);
      }
    }
  });

  it('moves toward the evidence and narrows as evidence accumulates', () => {
    const rng = new Rng(5);
    const m = smallModel(2, 1, 1, rng);
    const before = m.itemVar.slice(0, 3);
    let prevVar = Infinity;
    for (let t = 0; t < 5; t++) {
      applyEvents(m, {
        user: Int32Array.of(0),
        item: Int32Array.of(0),
        target: Float64Array.of(5),
        weight: Float64Array.of(1),
      });
      m.refreshPosteriors();
      expect(m.itemVar[2]).toBeLessThan(prevVar);
      prevVar = m.itemVar[2];
    }
    expect(m.itemVar[2]).toBeLessThan(before[2]);
    expect(m.score(m.userVector(0), 0, 0)).toBeGreaterThan(2); // toward the target 5 from ~0.1
  });
});

describe('additive statistics', () => {
  it('give the same posterior in any order and split across two learners', () => {
    const rng = new Rng(21);
    const a = smallModel(4, 7, 5, rng, 2);
    const batch = randomBatch(a, 500, rng);
    const b = smallModel(4, 7, 5, new Rng(0), 2);
    b.userVec.set(a.userVec);
    applyEvents(a, batch);
    // b: the same events shuffled, half by worker 1 and half by worker 2 into zero-initialised deltas, merged
    const order = Array.from({ length: 500 }, (_, e) => e);
    rng.shuffle(order);
    const w1 = new ItemStats(4, 7);
    const w2 = new ItemStats(4, 7);
    accumulateEvents(w1, b.userVec, b.defaultUser, slice(batch, order.slice(0, 230)));
    accumulateEvents(w2, b.userVec, b.defaultUser, slice(batch, order.slice(230)));
    expect(mergeStats(b, w2)).toBeGreaterThan(0);
    expect(mergeStats(b, w1)).toBeGreaterThan(0);
    expect(() => mergeStats(b, new ItemStats(3, 2))).toThrow(/stats\.dim/);
    expect(a.stats.maxAbsDiff(b.stats)).toBeLessThan(1e-9);
    a.refreshPosteriors();
    b.refreshPosteriors();
    for (let p = 0; p < 7 * 5; p++) {
      expect(b.itemMean[p]).toBeCloseTo(a.itemMean[p], 9);
      expect(b.itemVar[p]).toBeCloseTo(a.itemVar[p], 9);
    }
  });

  it('the fast accumulation equals its scalar twin', () => {
    const rng = new Rng(8);
    const m = smallModel(5, 4, 3, rng);
    const batch = randomBatch(m, 200, rng);
    accumulateEvents(m.stats, m.userVec, m.defaultUser, batch);
    const n = 6;
    const xx = Array.from({ length: 4 }, () => Array.from({ length: n }, () => new Array<number>(n).fill(0)));
    const xy = Array.from({ length: 4 }, () => new Array<number>(n).fill(0));
    const users = Array.from({ length: 3 }, (_, u) => Array.from(m.userVector(u)));
    accumulateEventsReference(xx, xy, users, Array.from(m.defaultUser), batch);
    for (let i = 0; i < 4; i++) {
      let p = 0;
      for (let r = 0; r < n; r++) {
        expect(m.stats.xy[i * n + r]).toBeCloseTo(xy[i][r], 10);
        for (let c = r; c < n; c++) expect(m.stats.xx[i * m.stats.psize + p++]).toBeCloseTo(xx[i][r][c], 10);
      }
    }
  });

  it('rejects a bad batch naming the field, the index and the rule', () => {
    const m = smallModel(2, 3, 2, new Rng(1));
    const ok = {
      user: Int32Array.of(0),
      item: Int32Array.of(1),
      target: Float64Array.of(1),
      weight: Float64Array.of(1),
    };
    expect(() => applyEvents(m, { ...ok, item: Int32Array.of(3) })).toThrow(
      /events\.item\[0\]: must be an item index in \[0, 3\)/,
    );
    expect(() => applyEvents(m, { ...ok, weight: Float64Array.of(-1) })).toThrow(
      /events\.weight\[0\]: must be finite and >= 0/,
    );
    expect(() => applyEvents(m, { ...ok, target: Float64Array.of(NaN) })).toThrow(ModelInputError);
    expect(() => applyEvents(m, { ...ok, user: Int32Array.of(0, 1) })).toThrow(/events\.user: length 2/);
    expect(m.stats.count[1]).toBe(0); // nothing applied
  });
});

describe('hierarchical prior', () => {
  it('starts a new item at its group prior, estimated from the group', () => {
    const rng = new Rng(3);
    const m = smallModel(2, 40, 30, rng, 2);
    // group g0 items like a high bias, g1 items a low one
    const len = 4000;
    const batch = randomBatch(m, len, rng);
    for (let e = 0; e < len; e++) batch.target[e] = m.itemGroup[batch.item[e]] === 0 ? 3 : -3;
    applyEvents(m, batch);
    m.refreshPosteriors();
    m.reestimateGroupPriors(2);
    const fresh0 = m.addItem('new-in-g0', 'g0');
    const fresh1 = m.addItem('new-in-g1', 'g1');
    const loner = m.addItem('no-group', null);
    const n = 3;
    expect(m.itemMean[fresh0 * n + 2]).toBeGreaterThan(1.5);
    expect(m.itemMean[fresh1 * n + 2]).toBeLessThan(-1.5);
    expect(m.itemMean[loner * n + 2]).toBeCloseTo(0.1, 12); // global prior mean
    expect(m.itemVar[loner * n + 2]).toBeCloseTo(3, 12);
    // a new item is wider than a well-observed one
    expect(m.itemVar[fresh0 * n + 2]).toBeGreaterThan(5 * m.itemVar[0 * n + 2]);
  });
});

describe('fold-in', () => {
  it('equals the ALS user step taken by definition over all items', () => {
    const rng = new Rng(9);
    const m = smallModel(3, 12, 1, rng);
    applyEvents(m, randomBatch(m, 100, rng));
    m.refreshPosteriors();
    const hist = { items: [1, 4, 7], targets: [2, 0, 5], weights: [1, 1, 3] };
    const x = foldInUser(m, hist);
    const means = Array.from({ length: 12 }, (_, i) => Array.from(m.itemMean.subarray(i * 4, i * 4 + 4)));
    const ref = userSolveDefinition(
      means,
      { cols: hist.items, targets: hist.targets, weights: hist.weights },
      { c0: 1, noiseVar: 0.5, userPriorVar: 1 },
    );
    for (let k = 0; k < 3; k++) expect(x[k]).toBeCloseTo(ref[k], 9);
    // unit weights take the shared-factor path: same answer as by definition
    const x1 = foldInUser(m, { items: [2, 3], targets: [4, 0] });
    const ref1 = userSolveDefinition(
      means,
      { cols: [2, 3], targets: [4, 0], weights: [1, 1] },
      { c0: 1, noiseVar: 0.5, userPriorVar: 1 },
    );
    for (let k = 0; k < 3; k++) expect(x1[k]).toBeCloseTo(ref1[k], 9);
    expect(() => foldInUser(m, { items: [12], targets: [1] })).toThrow(/history\.items\[0\]/);
    // refresh: false solves against the item means as they are (stale for items touched since the last refresh)
    applyEvents(m, randomBatch(m, 50, rng));
    const staleMeans = Array.from({ length: 12 }, (_, i) =>
      Array.from(m.itemMean.subarray(i * 4, i * 4 + 4)),
    );
    const xs = foldInUser(m, { items: [2, 3], targets: [4, 0] }, undefined, { refresh: false });
    expect(m.dirtyCount).toBeGreaterThan(0);
    const refStale = userSolveDefinition(
      staleMeans,
      { cols: [2, 3], targets: [4, 0], weights: [1, 1] },
      { c0: 1, noiseVar: 0.5, userPriorVar: 1 },
    );
    for (let k = 0; k < 3; k++) expect(xs[k]).toBeCloseTo(refStale[k], 9);
    const xf = foldInUser(m, { items: [2, 3], targets: [4, 0] }, undefined, { refresh: true });
    expect(m.dirtyCount).toBe(0);
    expect(Math.abs(xf[0] - xs[0]) + Math.abs(xf[1] - xs[1]) + Math.abs(xf[2] - xs[2])).toBeGreaterThan(1e-9);
  });
});

describe('serialisation and serving snapshot', () => {
  it('round-trips a model exactly, and learning continues identically', () => {
    const rng = new Rng(13);
    const m = smallModel(4, 9, 6, rng, 3);
    applyEvents(m, randomBatch(m, 300, rng));
    m.reestimateGroupPriors(1);
    m.version = 'v7';
    m.meta = { propensity: { source: 'popularity', eta: 0.5, clipMin: 0.01 }, epochs: 3 };
    const bytes = encodeModel(m);
    const back = decodeModel(bytes);
    expect(back.itemIds).toEqual(m.itemIds);
    expect(back.userIds).toEqual(m.userIds);
    expect(back.groupIds).toEqual(m.groupIds);
    expect(back.config).toEqual(m.config);
    expect(back.meta).toEqual(m.meta);
    expect(back.version).toBe('v7');
    expect(Array.from(back.itemGroup.subarray(0, 9))).toEqual(Array.from(m.itemGroup.subarray(0, 9)));
    expect(back.stats.maxAbsDiff(m.stats)).toBe(0);
    expect(Array.from(back.popularityPropensity())).toEqual(Array.from(m.popularityPropensity()));
    expect(m.stats.positives.subarray(0, 9).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(Array.from(back.itemMean.subarray(0, 45))).toEqual(Array.from(m.itemMean.subarray(0, 45)));
    expect(Array.from(back.userVec.subarray(0, 24))).toEqual(Array.from(m.userVec.subarray(0, 24)));
    const more = randomBatch(m, 50, new Rng(99));
    applyEvents(m, more);
    applyEvents(back, more);
    m.refreshPosteriors();
    back.refreshPosteriors();
    expect(Array.from(back.itemVar.subarray(0, 45))).toEqual(Array.from(m.itemVar.subarray(0, 45)));
  });

  it('writes the same pages into a reused buffer, padding included, and grows one that is too small', () => {
    const rng = new Rng(5);
    const m = smallModel(3, 7, 5, rng, 2);
    applyEvents(m, randomBatch(m, 120, rng));
    m.version = 'v-odd'; // an odd-length header: its padding is not empty
    const bytes = (cp: ModelPages) =>
      Buffer.concat(
        [cp.head, ...cp.pages.map((p) => p.bytes), ...cp.userPages.map((p) => p.bytes)].map((x) =>
          Buffer.from(x),
        ),
      );
    const fresh = bytes(encodeModelPages(m, 'all', { pageItems: 3 }));
    const tooSmall = new ArrayBuffer(16);
    const grown = encodeModelPages(m, 'all', { into: tooSmall, pageItems: 3 });
    expect(grown.head.buffer).not.toBe(tooSmall);
    expect(grown.head.buffer.byteLength).toBeGreaterThan(fresh.byteLength); // room for a larger model next time
    expect(bytes(grown)).toEqual(fresh);
    // A buffer that held other bytes (garbage in every padding gap) gives the same bytes back.
    const used = new ArrayBuffer(fresh.byteLength + 64);
    new Uint8Array(used).fill(0xff);
    const again = encodeModelPages(m, 'all', { into: used, pageItems: 3 });
    expect(again.head.buffer).toBe(used);
    expect(bytes(again)).toEqual(fresh);
    // One far too large (a checkpoint of every item, then small ones) is let go rather than pinned.
    const huge = new ArrayBuffer(64 << 20);
    expect(encodeModelPages(m, 'all', { into: huge, pageItems: 3 }).head.buffer).not.toBe(huge);
  });

  it('leaves the gap asked for free before every page: the same pages, each right after its gap', () => {
    const rng = new Rng(6);
    const m = smallModel(3, 7, 5, rng, 2);
    applyEvents(m, randomBatch(m, 120, rng));
    const plain = encodeModelPages(m, 'all', { pageItems: 3, pageUsers: 2, pageItemIds: 4 });
    const gapped = encodeModelPages(m, 'all', { pageItems: 3, pageUsers: 2, pageItemIds: 4, gap: 26 });
    expect(plain.gap).toBe(0);
    expect(gapped.gap).toBe(26);
    const all = (cp: ModelPages) => [...cp.pages, ...cp.userPages, ...cp.itemIdPages];
    expect(all(gapped).map((p) => p.page)).toEqual(all(plain).map((p) => p.page));
    expect(all(gapped).length).toBe(3 + 3 + 2);
    expect(Buffer.from(gapped.head)).toEqual(Buffer.from(plain.head));
    // Same bytes, in buffer order, each `gap` bytes after the end of the one before (the head first).
    let end = gapped.head.byteOffset + gapped.head.byteLength;
    all(gapped).forEach((p, k) => {
      expect(p.bytes.buffer).toBe(gapped.head.buffer);
      expect(p.bytes.byteOffset).toBe(end + 26);
      expect(Buffer.from(p.bytes)).toEqual(Buffer.from(all(plain)[k].bytes));
      end = p.bytes.byteOffset + p.bytes.byteLength;
    });
    expect(() => encodeModelPages(m, 'all', { gap: -1 })).toThrow(/gap/);
  });

  it('is stored in pages: a checkpoint writes the pages of changed items, and head + newest pages give the model back', () => {
    const rng = new Rng(21);
    const m = smallModel(3, 22, 6, rng, 3);
    const P = 4; // 6 pages
    const store = new Map<number, Uint8Array>();
    let buffer: ArrayBuffer | undefined;
    const U = 4; // users a user page: 6 users, 2 user pages (−1, −2)
    const I = 8; // item ids an id page: 22 items, 3 id pages (itemIdPageNumber(0 … 2))
    const checkpoint = (
      expectedPages?: number[],
      expectedUserPages: number[] = [],
      expectedIdPages: number[] = [],
    ) => {
      const cp = encodeModelPages(m, 'changed', { into: buffer, pageItems: P, pageUsers: U, pageItemIds: I });
      buffer = cp.head.buffer as ArrayBuffer;
      if (expectedPages) expect(cp.pages.map((x) => x.page)).toEqual(expectedPages);
      expect(cp.userPages.map((x) => x.page)).toEqual(expectedUserPages);
      expect(cp.itemIdPages.map((x) => itemIdPageOf(x.page))).toEqual(expectedIdPages);
      // The head holds no id: its size does not grow with the catalogue.
      expect(Buffer.from(cp.head).includes('"i0"')).toBe(false);
      // Copies: the buffer is reused by the next checkpoint, as the service's is.
      for (const { page, bytes } of [...cp.pages, ...cp.userPages, ...cp.itemIdPages])
        store.set(page, bytes.slice());
      const back = decodeModelPages(cp.head.slice(), (p) => store.get(p));
      expect(Buffer.from(encodeModel(back))).toEqual(Buffer.from(encodeModel(m)));
      return back;
    };
    checkpoint([0, 1, 2, 3, 4, 5], [-1, -2], [0, 1, 2]); // a new model: every item and user is new
    checkpoint([]); // nothing changed
    // Events on items 1 and 9 only (the default user, targets 0 and 1).
    applyEvents(m, {
      user: Int32Array.of(-1, 0),
      item: Int32Array.of(1, 9),
      target: Float64Array.of(0, 1.5),
      weight: Float64Array.of(1, 1),
    });
    checkpoint([0, 2]);
    m.setActive(13, false);
    m.setActive(14, true); // already active: no change
    checkpoint([3]);
    m.addItem('new-1', 'g1');
    checkpoint([5], [], [2]); // the 23rd item: its id goes in the last id page, written again
    for (let i = 2; i <= 10; i++) m.addItem(`new-${i}`, null);
    checkpoint([5, 6, 7], [], [2, 3]); // 32 items: their pages 5–7, and id pages 2 and 3
    checkpoint([]);
    // Users change only with a batch training (here: one vector set, then a new user): all their pages again.
    m.setUserVector(4, [0.25, -1, 0.5]);
    checkpoint([], [-1, -2]);
    m.addUser('u-late', [1, 2, 3]);
    checkpoint([], [-1, -2]);
    checkpoint([]);
    // Posteriors solved on a worker and installed later, as the service does.
    applyEvents(m, {
      user: Int32Array.of(2),
      item: Int32Array.of(17),
      target: Float64Array.of(1),
      weight: Float64Array.of(2),
    });
    const job = m.takePosteriorJob()!;
    m.applyPosteriorJob(job, solvePosteriorJob(job));
    checkpoint([4]);
    // A job taken before a checkpoint and installed after it: the checkpoint solved its items itself.
    applyEvents(m, {
      user: Int32Array.of(3),
      item: Int32Array.of(5),
      target: Float64Array.of(0),
      weight: Float64Array.of(1),
    });
    const late = m.takePosteriorJob()!;
    checkpoint([1]);
    m.applyPosteriorJob(late, solvePosteriorJob(late));
    checkpoint([]); // nothing to write again: the job, older than that solve, was dropped
    // Random batches, a prior re-estimation (every item changes), and a failed checkpoint's pages given back.
    for (let round = 0; round < 5; round++) {
      applyEvents(m, randomBatch(m, 3, rng));
      if (round === 2) m.reestimateGroupPriors(1);
      if (round === 3) {
        const lost = m.takeChangedPages(P);
        expect(lost.length).toBeGreaterThan(0);
        m.markPagesChanged(lost, P);
        expect(m.takeUsersChanged()).toBe(false);
        m.markUsersChanged(); // a failed checkpoint that had written them
        expect(m.takeItemIdsFrom()).toBe(32); // nothing new
        m.markItemIdsUntaken(9); // a failed checkpoint that had written the ids from item 9 on
      }
      const back = checkpoint(undefined, round === 3 ? [-1, -2] : [], round === 3 ? [1, 2, 3] : []);
      // Read back from its pages, a model owes no checkpoint anything.
      expect(back.takeChangedPages(P)).toEqual([]);
      expect(back.takeUsersChanged()).toBe(false);
      expect(back.takeItemIdsFrom()).toBe(back.numItems);
      // The loaded model learns on exactly as the original.
      const more = randomBatch(m, 4, new Rng(100 + round));
      applyEvents(back, more);
      applyEvents(m, more);
      expect(Buffer.from(encodeModel(back))).toEqual(Buffer.from(encodeModel(m)));
    }
  });

  const fixture = (name: string) => {
    const f = JSON.parse(readFileSync(join(__dirname, 'fixtures', name), 'utf8')) as {
      head: string;
      pages: { page: number; bytes: string }[];
      encodeModel: string;
    };
    const bytes = (b64: string): Uint8Array => new Uint8Array(Buffer.from(b64, 'base64'));
    return {
      head: bytes(f.head),
      pages: new Map(f.pages.map((p) => [p.page, bytes(p.bytes)])),
      format1: Buffer.from(f.encodeModel, 'base64'),
    };
  };

  it('reads a format 2 model (users and item ids in the head), whose users and ids the next checkpoint writes', () => {
    const { head, pages, format1 } = fixture('paged-v2.json');
    const back = decodeModelPages(head, (p) => pages.get(p));
    expect(Buffer.from(encodeModel(back))).toEqual(format1);
    expect(back.userIds).toEqual(['u0', 'u1', 'u2']);
    // Its users and ids are stored nowhere as pages yet: the first checkpoint writes them, and the model reads back.
    const cp = encodeModelPages(back, 'changed', { pageItems: 2, pageItemIds: 3 });
    expect(cp.pages).toEqual([]);
    expect(cp.userPages.map((p) => p.page)).toEqual([-1]);
    expect(cp.itemIdPages.map((p) => p.page)).toEqual(
      Array.from({ length: Math.ceil(back.numItems / 3) }, (_, c) => itemIdPageNumber(c)),
    );
    for (const p of [...cp.userPages, ...cp.itemIdPages]) pages.set(p.page, p.bytes);
    const again = decodeModelPages(cp.head, (p) => pages.get(p));
    expect(Buffer.from(encodeModel(again))).toEqual(format1);
    expect(encodeModelPages(again, 'changed', { pageItems: 2, pageItemIds: 3 }).itemIdPages).toEqual([]);
  });

  it('reads a format 3 model (item ids in the head), whose ids the next checkpoint writes, and only then', () => {
    const { head, pages, format1 } = fixture('paged-v3.json');
    expect(new DataView(head.buffer, head.byteOffset).getUint32(8, true)).toBe(3);
    const back = decodeModelPages(head, (p) => pages.get(p));
    expect(Buffer.from(encodeModel(back))).toEqual(format1);
    expect(back.itemIds).toEqual(['i0', 'i1', 'i2', 'i3', 'i4', 'i5', 'i6']);
    expect(back.userIds).toEqual(['u0', 'u1', 'u2', 'u3', 'u4']);
    expect(back.itemActive[4]).toBe(0);
    const cp = encodeModelPages(back, 'changed', { pageItems: 2, pageUsers: 2, pageItemIds: 4 });
    expect(cp.pages).toEqual([]);
    expect(cp.userPages).toEqual([]); // stored as pages already
    expect(cp.itemIdPages.map((p) => itemIdPageOf(p.page))).toEqual([0, 1]);
    // Only the new head and id pages, over the format 3 item and user pages.
    for (const p of cp.itemIdPages) pages.set(p.page, p.bytes);
    const again = decodeModelPages(cp.head, (p) => pages.get(p));
    expect(Buffer.from(encodeModel(again))).toEqual(format1);
    expect(
      encodeModelPages(again, 'changed', { pageItems: 2, pageUsers: 2, pageItemIds: 4 }).itemIdPages,
    ).toEqual([]);
  });

  it('fails clearly on a missing or foreign page', () => {
    const m = smallModel(2, 5, 3, new Rng(3));
    const cp = encodeModelPages(m, 'all', { pageItems: 2, pageUsers: 2, pageItemIds: 3 });
    const pages = new Map([...cp.pages, ...cp.userPages, ...cp.itemIdPages].map((x) => [x.page, x.bytes]));
    const id0 = itemIdPageNumber(0);
    const id1 = itemIdPageNumber(1);
    expect(decodeModelPages(cp.head, (p) => pages.get(p)).itemIds).toEqual(['i0', 'i1', 'i2', 'i3', 'i4']);
    expect(() => decodeModelPages(cp.head, (p) => (p === id1 ? undefined : pages.get(p)))).toThrow(
      'item id page 1 is missing (the model has 5 items)',
    );
    expect(() => decodeModelPages(cp.head, (p) => pages.get(p === id1 ? id0 : p))).toThrow(
      'item id page 1 holds page 0 of 3 items, expected 2',
    );
    expect(() => decodeModelPages(cp.head, (p) => (p === id0 ? pages.get(-1) : pages.get(p)))).toThrow(
      'item id page 0 has bad magic bytes',
    );
    expect(decodeModelPages(cp.head, (p) => pages.get(p)).userIds).toEqual(['u0', 'u1', 'u2']);
    expect(() => decodeModelPages(cp.head, (p) => (p === -2 ? undefined : pages.get(p)))).toThrow(
      'user page 1 is missing (the model has 3 users)',
    );
    expect(() => decodeModelPages(cp.head, (p) => pages.get(p === -2 ? -1 : p))).toThrow(
      'user page 1 holds page 0 of 2 users, expected 1',
    );
    expect(() => decodeModelPages(cp.head, (p) => (p === -1 ? pages.get(0) : pages.get(p)))).toThrow(
      'user page 0 has bad magic bytes',
    );
    expect(() => decodeModelPages(cp.head, (p) => (p === 1 ? undefined : pages.get(p)))).toThrow(
      'model page 1 is missing (the model has 5 items)',
    );
    expect(() => decodeModelPages(cp.head, (p) => pages.get(p === 2 ? 1 : p))).toThrow(
      'model page 2 holds page 1 of 2 items, expected 1',
    );
    expect(() => decodeModelPages(encodeModel(m), () => undefined)).toThrow('bad magic bytes');
  });

  it('round-trips an empty model, which then serves its prior to a new item', () => {
    const empty = FactorModel.create({ dim: 4 });
    const back = decodeModel(encodeModel(empty));
    expect(back.numItems).toBe(0);
    expect(buildServingSnapshot(back).mean.length).toBe(0);
    const i = back.addItem('fresh', 'g');
    expect(back.itemVar[i * 5 + 4]).toBeCloseTo(back.config.biasPriorVar, 12);
    expect(Array.from(foldInUser(back, { items: [i], targets: [1] })).every(Number.isFinite)).toBe(true);
  });

  it('reads a model from a Node Buffer (a view into a shared pool, as the pg driver and fs return)', () => {
    const m = smallModel(2, 3, 1, new Rng(4));
    const bytes = encodeModel(m);
    const pooled = Buffer.from(bytes); // small: allocated inside Buffer's pool, at a non-zero offset
    expect(pooled.byteOffset).toBeGreaterThan(0);
    expect(Array.from(encodeModel(decodeModel(pooled)))).toEqual(Array.from(encodeModel(decodeModel(bytes))));
  });

  it('fails clearly on foreign, newer or truncated bytes', () => {
    const m = smallModel(2, 2, 2, new Rng(1));
    const bytes = encodeModel(m);
    expect(() => decodeModel(new Uint8Array(32))).toThrow(/not a reco model snapshot/);
    const newer = bytes.slice();
    new DataView(newer.buffer).setUint32(8, 99, true);
    expect(() => decodeModel(newer)).toThrow(/format v99 is newer than this build reads \(v1\)/);
    const older = bytes.slice();
    new DataView(older.buffer).setUint32(8, 0, true);
    expect(() => decodeModel(older)).toThrow(/format v0 is no longer supported/);
    expect(() => decodeModel(bytes.subarray(0, bytes.length - 8))).toThrow(ModelFormatError);
  });

  it('builds an immutable serving snapshot with the contract layout', () => {
    const rng = new Rng(2);
    const m = smallModel(3, 5, 4, rng);
    applyEvents(m, randomBatch(m, 40, rng));
    m.version = 'v1';
    const s = buildServingSnapshot(m);
    expect(s.stride).toBe(4);
    expect(s.mean.length).toBe(20);
    expect(s.variance.every((v) => v > 0)).toBe(true);
    expect(s.itemIndex.get('i3')).toBe(3);
    expect(s.users.get('u2')!.length).toBe(3);
    expect(s.mean[3 * 4 + 3]).toBeCloseTo(m.itemMean[3 * 4 + 3], 6);
    expect(s.version).toBe(`v1.${m.generation}`);
    // later learning does not leak into the snapshot
    const before = s.mean.slice();
    applyEvents(m, randomBatch(m, 40, rng));
    m.refreshPosteriors();
    expect(Array.from(s.mean)).toEqual(Array.from(before));
  });

  it('shares the ids of the previous snapshot while the catalogue is the same, and copies them when it grows', () => {
    const rng = new Rng(3);
    const m = smallModel(3, 5, 2, rng);
    const a = buildServingSnapshot(m);
    applyEvents(m, randomBatch(m, 30, rng)); // learning only: same items
    const b = buildServingSnapshot(m);
    expect(b.itemIndex).toBe(a.itemIndex);
    expect(b.itemIds).toBe(a.itemIds);
    m.addItem('new-item');
    const c = buildServingSnapshot(m);
    expect(c.itemIndex).not.toBe(a.itemIndex);
    expect(c.itemIndex.get('new-item')).toBe(5);
    expect(c.itemIds).toEqual([...a.itemIds, 'new-item']);
    // The earlier snapshots still see the catalogue they were built with.
    expect(a.itemIndex.has('new-item')).toBe(false);
    expect(a.itemIds).toHaveLength(5);
    expect(Object.isFrozen(c.itemIds)).toBe(true);
    // Another model with as many items does not get this one's ids.
    const other = smallModel(3, 6, 2, rng);
    expect(buildServingSnapshot(other).itemIndex).not.toBe(c.itemIndex);
  });

  it('shares the users of the previous snapshot while their vectors are the same, and copies them when one changes', () => {
    const rng = new Rng(4);
    const m = smallModel(3, 5, 4, rng);
    const f32 = (v: ArrayLike<number>): number[] => Array.from(Float32Array.from(v));
    const a = buildServingSnapshot(m);
    applyEvents(m, randomBatch(m, 30, rng)); // online learning never changes a user's vector
    const b = buildServingSnapshot(m);
    expect(b.users).toBe(a.users);
    const before = f32(a.users.get('u1')!);
    m.setUserVector(1, [0.5, -0.25, 2]);
    const c = buildServingSnapshot(m);
    expect(c.users).not.toBe(a.users);
    expect(Array.from(c.users.get('u1')!)).toEqual(f32([0.5, -0.25, 2]));
    expect(Array.from(a.users.get('u1')!)).toEqual(before); // earlier snapshots keep their users
    m.addUser('u-new');
    const d = buildServingSnapshot(m);
    expect(d.users.has('u-new')).toBe(true);
    expect(c.users.has('u-new')).toBe(false);
    // A direct write into userVec (a batch trainer, a decoder) is announced with userVectorsChanged.
    m.userVec[2 * 3] = 7;
    m.userVectorsChanged();
    expect(buildServingSnapshot(m).users.get('u2')![0]).toBe(7);
    // Decoding makes a model of its own: its snapshot has its users, not this one's.
    const copy = decodeModel(encodeModel(m));
    const e = buildServingSnapshot(copy);
    expect(e.users).not.toBe(d.users);
    expect(Array.from(e.users.get('u2')!)).toEqual(f32(m.userVector(2)));
  });
});
