import { PeriodicPass } from './periodic-pass';

/** A pass whose every run waits for `finish()`; `runs()` counts the runs started. */
function heldPass(): { pass: PeriodicPass; runs: () => number; finish: () => void } {
  let runs = 0;
  let finish!: () => void;
  const pass = new PeriodicPass(
    () => {
      runs++;
      return new Promise<void>((r) => (finish = r));
    },
    () => undefined,
  );
  return { pass, runs: () => runs, finish: () => finish() };
}

describe('PeriodicPass', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('runs one at a time: ticks while a run is in flight do nothing', async () => {
    const { pass, runs, finish } = heldPass();
    pass.start(100, 0);
    expect(runs()).toBe(1); // at once
    await jest.advanceTimersByTimeAsync(350);
    expect(runs()).toBe(1);
    finish();
    await jest.advanceTimersByTimeAsync(100);
    expect(runs()).toBe(2);
    pass.stop();
  });

  it('waits firstInMs for the first run, hands failures to onError, and keeps ticking after one', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const pass = new PeriodicPass(
      () => (++runs === 1 ? Promise.reject(new Error('down')) : Promise.resolve()),
      (e) => errors.push(e),
    );
    pass.start(1000, 50);
    await jest.advanceTimersByTimeAsync(49);
    expect(runs).toBe(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(runs).toBe(1);
    expect(errors).toEqual([new Error('down')]);
    await jest.advanceTimersByTimeAsync(1000);
    expect(runs).toBe(2);
    pass.stop();
  });

  it('stops ticking, and lets the run in flight finish through running', async () => {
    const { pass, runs, finish } = heldPass();
    pass.start(100, 0);
    pass.stop();
    expect(pass.stopped).toBe(true);
    let done = false;
    void pass.running.then(() => (done = true));
    await jest.advanceTimersByTimeAsync(500);
    expect(done).toBe(false);
    finish();
    await jest.advanceTimersByTimeAsync(0);
    expect(done).toBe(true);
    pass.tick();
    expect(runs()).toBe(1);
  });
});
