import { ClickArchive } from './click-archive';
import { WriteBehind } from './write-behind';
import type { ModelStateRepository } from './model-state.repository';

type Click = { eventId: string; userId: string; itemId: string; ts: number };
const click = (k: number): Click => ({ eventId: `e${k}`, userId: 'u', itemId: 'i', ts: k });

/** A stand-in for the repository's click-log write: records what it stores, fails when told to. */
function fakeState(failFirst = 0) {
  const stored: string[] = [];
  let failures = failFirst;
  let release: (() => void) | undefined;
  let gate: Promise<void> | undefined;
  const state = {
    dataSource: { manager: {} },
    recordClicks: async (_m: unknown, clicks: Click[]) => {
      if (gate) await gate;
      if (failures > 0) {
        failures--;
        throw new Error('database down');
      }
      for (const c of clicks) stored.push(c.eventId);
      return new Set(clicks.map((c) => c.eventId));
    },
  };
  return {
    state: state as unknown as ModelStateRepository,
    stored,
    hold: (): void => {
      gate = new Promise<void>((r) => (release = r));
    },
    open: () => {
      gate = undefined;
      release?.();
    },
  };
}

describe('ClickArchive (the click log written behind the learning path)', () => {
  it('reports a click as in flight until it is stored, and resolves marks in order', async () => {
    const f = fakeState();
    f.hold();
    const a = new ClickArchive(f.state);
    a.append([click(1), click(2)]);
    const mark = a.mark();
    a.append([click(3)]);
    expect(a.has('e1')).toBe(true);
    let flushed = false;
    const p = a.flushed(mark).then(() => (flushed = true));
    await new Promise((r) => setImmediate(r));
    expect(flushed).toBe(false);
    f.open();
    await p;
    expect(f.stored.slice(0, 2)).toEqual(['e1', 'e2']);
    await a.drain();
    expect(f.stored).toEqual(['e1', 'e2', 'e3']);
    expect(a.has('e1')).toBe(false);
    expect(a.size).toBe(0);
  });

  it('hands out the latest queued row of a key until it is written (a slate closed twice)', async () => {
    const written: string[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const w = new WriteBehind<[string, number]>(
      'test',
      ([k]) => k,
      async (rows) => {
        await gate;
        written.push(rows.map(([k, v]) => `${k}=${v}`));
      },
    );
    w.append([
      ['s1', 1],
      ['s2', 1],
    ]);
    w.append([['s1', 2]]);
    expect(w.latest('s1')).toEqual(['s1', 2]);
    expect(w.latest('s3')).toBeUndefined();
    release();
    await w.drain();
    expect(written.flat()).toEqual(['s1=1', 's2=1', 's1=2']); // in order: the later row lands last
    expect(w.latest('s1')).toBeUndefined();
    expect(w.has('s1')).toBe(false);
  });

  it('retries a failed write and loses nothing', async () => {
    jest.useFakeTimers();
    try {
      const f = fakeState(2);
      const a = new ClickArchive(f.state);
      a.append([click(1), click(2)]);
      for (let k = 0; k < 10 && f.stored.length < 2; k++) await jest.advanceTimersByTimeAsync(1000);
      expect(f.stored).toEqual(['e1', 'e2']);
      expect(a.has('e2')).toBe(false);
    } finally {
      jest.useRealTimers();
    }
  });

  it('makes learning wait above its high-water mark', async () => {
    const f = fakeState();
    f.hold();
    const a = new ClickArchive(f.state);
    a.append(Array.from({ length: 100_001 }, (_, k) => click(k)));
    let room = false;
    const p = a.room().then(() => (room = true));
    await new Promise((r) => setImmediate(r));
    expect(room).toBe(false);
    f.open();
    await p;
    expect(room).toBe(true);
    await a.drain();
    expect(f.stored).toHaveLength(100_001);
  });
});
