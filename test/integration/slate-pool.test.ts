import type { Worker } from 'node:worker_threads';
import type { ServingSnapshot } from '../../src/core/model/serving-snapshot';
import { parsePolicyConfig, type PolicyConfigInput } from '../../src/core/policies/policy-config.schema';
import { NoCandidatesError, PolicyInputError } from '../../src/core/policies/policy-errors';
import { serveSlate } from '../../src/core/policies/serve-slate';
import { syntheticSnapshot } from '../../src/core/policies/testing/synthetic-snapshot';
import { Rng } from '../../src/core/random';
import {
  SlateCancelledError,
  SlateOverloadedError,
  SlatePool,
  SlateTimeoutError,
  SlateWorkerLostError,
  type PoolRequest,
} from '../../src/modules/slates/slate-pool';

// The workers run the build's compiled entry (dist/, which `npm test` builds first), so this is the code that ships.

/** The snapshot a model swap makes: numeric arrays in shared memory (see buildServingSnapshot). */
function sharedSnapshot(seed: number, items: number): ServingSnapshot {
  const s = syntheticSnapshot({ items, dim: 8, seed, coldFraction: 0.4, inactiveFraction: 0.05 });
  const share = <T extends Float32Array | Uint8Array>(a: T): T => {
    const out = new (a.constructor as new (b: SharedArrayBuffer) => T)(new SharedArrayBuffer(a.byteLength));
    out.set(a);
    return out;
  };
  return { ...s, mean: share(s.mean), variance: share(s.variance), active: share(s.active) };
}

function here(snap: ServingSnapshot, r: PoolRequest) {
  return serveSlate(
    snap,
    r.policy,
    { user: r.user, size: r.size, candidates: r.candidates, exclude: r.exclude },
    new Rng(r.seed),
  );
}

const POLICIES: PolicyConfigInput[] = [
  { name: 'in_slate_ts', propensitySlates: 64 },
  { name: 'slate_ts', propensitySlates: 64 },
  { name: 'eps_greedy', epsilon: 0.1 },
  { name: 'random' },
];

describe('slate pool (worker threads)', () => {
  let pool: SlatePool;
  const errors: Error[] = [];
  beforeEach(() => {
    errors.length = 0;
    pool = new SlatePool(2, (e) => errors.push(e));
  });
  afterEach(async () => {
    await pool.close();
  });

  it('serves exactly what serving in-process serves: same snapshot, seed and request, same slate and propensities', async () => {
    expect(pool.size).toBe(2);
    const snap = sharedSnapshot(1, 3000);
    const rng = new Rng(2);
    const requests: PoolRequest[] = [];
    for (let i = 0; i < 80; i++) {
      const withCandidates = i % 4 === 1;
      requests.push({
        policy: parsePolicyConfig(POLICIES[i % POLICIES.length]),
        user: i % 5 === 0 ? undefined : snap.users.get(`u${i % 4}`),
        size: 1 + (i % 12),
        candidates: withCandidates ? Array.from({ length: 200 }, () => rng.nextInt(3000)) : undefined,
        exclude: i % 3 === 0 ? Array.from({ length: 20 }, () => rng.nextInt(3000)) : [],
        seed: 1000 + i,
      });
    }
    const served = await Promise.all(requests.map((r) => pool.serve(snap, r)!));
    for (let i = 0; i < requests.length; i++) {
      const want = here(snap, requests[i]);
      const got = served[i];
      expect(got.modelVersion).toBe(want.modelVersion);
      expect(got.propensityKind).toBe(want.propensityKind);
      expect(got.simulatedSlates).toBe(want.simulatedSlates);
      expect(got.inactiveCandidates).toEqual([...want.inactiveCandidates]);
      expect(got.items).toEqual(
        want.items.map((it) => ({
          itemId: it.itemId,
          position: it.position,
          score: it.score,
          propensity: it.propensity,
          inSlateProbability: it.inSlateProbability,
        })),
      );
    }
    expect(errors).toEqual([]);
  });

  it('serves each request on the snapshot current when it was sent, across swaps', async () => {
    const a = sharedSnapshot(3, 500);
    const b = { ...sharedSnapshot(4, 800), version: 'b' };
    const policy = parsePolicyConfig({ name: 'in_slate_ts', propensitySlates: 32 });
    const order = [a, b, a, b, b, a];
    const out = await Promise.all(order.map((s, i) => pool.serve(s, { policy, size: 5, seed: i })!));
    out.forEach((o, i) => expect(o.modelVersion).toBe(order[i].version));
    // Indices beyond a's catalogue can only come from b (and have no id in a).
    expect(
      out.filter((_, i) => order[i] === a).every((o) => o.items.every((it) => a.itemIndex.has(it.itemId))),
    ).toBe(true);
  });

  it("rejects with the core's own errors: the bad field named, or nothing to serve", async () => {
    const snap = sharedSnapshot(5, 300);
    const policy = parsePolicyConfig({ name: 'in_slate_ts' });
    const bad = pool.serve(snap, { policy, size: 3, candidates: [1, 9999], seed: 1 })!;
    await expect(bad).rejects.toBeInstanceOf(PolicyInputError);
    await expect(bad).rejects.toMatchObject({ field: 'candidates[1]' });
    const inactive = Array.from(snap.active.keys()).filter((i) => snap.active[i] === 0);
    expect(inactive.length).toBeGreaterThan(0);
    await expect(
      pool.serve(snap, { policy, size: 3, candidates: inactive, seed: 2 })!,
    ).rejects.toBeInstanceOf(NoCandidatesError);
  });

  it('a lost worker fails its requests in flight with SlateWorkerLostError; with none left, serve says so', async () => {
    const snap = sharedSnapshot(6, 2000);
    // ~0.1 s a request: still in flight when the workers go.
    const policy = parsePolicyConfig({ name: 'in_slate_ts', propensitySlates: 20_000 });
    const workers = (pool as unknown as { slots: { worker: Worker }[] }).slots.map((s) => s.worker);
    const inFlight = [0, 1, 2, 3].map((seed) =>
      pool.serve(snap, { policy, size: 10, seed })!.then(
        () => 'served',
        (e: unknown) => e,
      ),
    );
    await Promise.all(workers.map((w) => w.terminate()));
    for (const outcome of await Promise.all(inFlight)) expect(outcome).toBeInstanceOf(SlateWorkerLostError);
    expect(pool.size).toBe(0);
    expect(errors).toHaveLength(2);
    expect(pool.serve(snap, { policy, size: 10, seed: 9 })).toBeNull();
  });

  it('stops a worker that does not answer within its timeout: 503 for that request, the ones behind it served in-process, a new worker', async () => {
    await pool.close();
    const timeoutMs = 100;
    pool = new SlatePool(1, (e) => errors.push(e), { restartDelayMs: 20, timeoutMs });
    const snap = sharedSnapshot(8, 2000);
    // Far longer than the timeout (10^5 simulated slates of 50 items, ≈ 0.5 s here), as a stuck worker would be.
    const stuck = parsePolicyConfig({ name: 'in_slate_ts', propensitySlates: 100_000 });
    const quick = parsePolicyConfig({ name: 'in_slate_ts', propensitySlates: 16 });
    const started = performance.now();
    const outcome = (p: Promise<unknown>) =>
      p.then(
        () => 'served',
        (e: unknown) => e,
      );
    const first = outcome(pool.serve(snap, { policy: stuck, size: 50, seed: 1 })!);
    const behind = [2, 3].map((seed) => outcome(pool.serve(snap, { policy: quick, size: 5, seed })!));
    const e = await first;
    const waited = performance.now() - started;
    expect(e).toBeInstanceOf(SlateTimeoutError);
    expect((e as Error).message).toMatch(/did not answer a request in 100 ms/);
    expect(waited).toBeGreaterThanOrEqual(timeoutMs);
    // Queued behind it, never started: the caller may serve them in-process.
    for (const o of await Promise.all(behind)) expect(o).toBeInstanceOf(SlateWorkerLostError);
    expect(errors.map((x) => x.message)).toEqual([expect.stringMatching(/did not answer/)]);
    // Replaced: the new worker serves.
    for (let i = 0; i < 200 && pool.size !== 1; i++) await new Promise((r) => setTimeout(r, 10));
    const served = await pool.serve(snap, { policy: quick, size: 5, seed: 4 })!;
    expect(served.items).toHaveLength(5);
  });

  it('leaves a worker alone while it answers within its timeout, however long it has been busy', async () => {
    await pool.close();
    pool = new SlatePool(1, (e) => errors.push(e), { restartDelayMs: 20, timeoutMs: 400 });
    const snap = sharedSnapshot(9, 2000);
    const policy = parsePolicyConfig({ name: 'in_slate_ts', propensitySlates: 2000 }); // a few ms each
    // One after another for about a second: more than twice the timeout in all, each far within it.
    const until = performance.now() + 1000;
    let n = 0;
    while (performance.now() < until) await pool.serve(snap, { policy, size: 10, seed: n++ })!;
    expect(n).toBeGreaterThan(10);
    expect(errors).toEqual([]);
    expect(pool.size).toBe(1);
  });

  it('skips a request cancelled while it waits for its worker, and ignores a cancel that comes too late', async () => {
    await pool.close();
    pool = new SlatePool(1, (e) => errors.push(e));
    const snap = sharedSnapshot(11, 2000);
    const slow = parsePolicyConfig({ name: 'in_slate_ts', propensitySlates: 50_000 }); // hundreds of ms
    const quick = parsePolicyConfig({ name: 'in_slate_ts', propensitySlates: 16 });
    const cancels: (() => void)[] = [];
    const first = pool.serve(snap, { policy: slow, size: 50, seed: 1 }, (c) => cancels.push(c))!;
    const second = pool.serve(snap, { policy: quick, size: 5, seed: 2 }, (c) => cancels.push(c))!;
    const third = pool.serve(snap, { policy: quick, size: 5, seed: 3 })!;
    expect(cancels).toHaveLength(2);
    cancels[1](); // the second waits behind the first
    await expect(second).rejects.toBeInstanceOf(SlateCancelledError);
    const served = await first;
    expect(served.items).toHaveLength(50);
    cancels[0](); // answered already: nothing happens
    expect((await third).items).toHaveLength(5); // the one behind the cancelled one is served
    // A cancel is by request: a later one with its own cancel registered is served.
    const later = await pool.serve(snap, { policy: quick, size: 5, seed: 4 }, (c) => cancels.push(c))!;
    expect(later.items).toHaveLength(5);
    expect(errors).toEqual([]);
  });

  it('drops requests that wait for their worker longer than queueMs (overloaded), never the one it has started', async () => {
    await pool.close();
    const queueMs = 50;
    pool = new SlatePool(1, (e) => errors.push(e), { queueMs });
    const snap = sharedSnapshot(12, 2000);
    // 10^5 simulated slates of 50 items (≈ 0.5 s here): many times queueMs.
    const slow = parsePolicyConfig({ name: 'in_slate_ts', propensitySlates: 100_000 });
    const quick = parsePolicyConfig({ name: 'in_slate_ts', propensitySlates: 16 });
    // The worker started and holds the snapshot: the slow request below is started as soon as it arrives.
    await pool.serve(snap, { policy: quick, size: 5, seed: 1 })!;
    const settled = (p: Promise<unknown>) =>
      p.then(
        (v) => ({ at: performance.now(), outcome: v as unknown }),
        (e: unknown) => ({ at: performance.now(), outcome: e }),
      );
    const sent = performance.now();
    const first = settled(pool.serve(snap, { policy: slow, size: 50, seed: 2 })!);
    const behind = [3, 4, 5].map((seed) => settled(pool.serve(snap, { policy: quick, size: 5, seed })!));
    const done = await first;
    // The started request is finished, however long it takes.
    expect((done.outcome as { items: unknown[] }).items).toHaveLength(50);
    expect(done.at - sent).toBeGreaterThan(2 * queueMs);
    for (const b of await Promise.all(behind)) {
      expect(b.outcome).toBeInstanceOf(SlateOverloadedError);
      expect((b.outcome as Error).message).toMatch(/longer than SLATE_QUEUE_MS \(50 ms\)/);
      // Dropped from the queue after queueMs (checked every queueMs / 4), not answered when the slow one ends.
      expect(b.at - sent).toBeGreaterThanOrEqual(queueMs);
      expect(b.at).toBeLessThan(done.at);
    }
    // The queue is empty again: the next request is served.
    expect((await pool.serve(snap, { policy: quick, size: 5, seed: 6 })!).items).toHaveLength(5);
    expect(errors).toEqual([]);
  });

  it('replaces a lost worker (after a delay), at most 5 times a minute', async () => {
    await pool.close();
    pool = new SlatePool(2, (e) => errors.push(e), { restartDelayMs: 20 });
    const snap = sharedSnapshot(7, 300);
    const policy = parsePolicyConfig({ name: 'in_slate_ts', propensitySlates: 32 });
    const waitForSize = async (n: number): Promise<void> => {
      for (let i = 0; i < 200 && pool.size !== n; i++) await new Promise((r) => setTimeout(r, 10));
      expect(pool.size).toBe(n);
    };
    const killAll = async (): Promise<void> => {
      const slots = (pool as unknown as { slots: { worker: Worker }[] }).slots;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    };
    await killAll(); // 2 replacements
    await waitForSize(2);
    const served = await pool.serve(snap, { policy, size: 3, seed: 1 })!; // a replacement serves
    expect(served.items).toHaveLength(3);
    await killAll(); // 4
    await waitForSize(2);
    await killAll(); // the 5th is replaced, the 6th is not
    await waitForSize(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(pool.size).toBe(1);
    expect(errors.some((e) => /not replaced/.test(e.message))).toBe(true);
  });
});
