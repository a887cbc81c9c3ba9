import {
  CANCEL_SLOTS,
  cancelTable,
  hasStarted,
  isCancelled,
  markCancelled,
  markStarted,
} from './slate-pool.protocol';

describe('slate pool protocol: the shared cancellation table', () => {
  it('marks a request cancelled by its id, in its own slot', () => {
    const t = cancelTable();
    markCancelled(t, 7);
    expect(isCancelled(t, 7)).toBe(true);
    expect(isCancelled(t, 8)).toBe(false);
    // The slot's next tenant (CANCEL_SLOTS ids later) is not cancelled by an old mark.
    expect(isCancelled(t, 7 + CANCEL_SLOTS)).toBe(false);
  });

  it('tells which requests the worker has started (in order), past the int32 wrap', () => {
    const t = cancelTable();
    markStarted(t, 10);
    expect(hasStarted(t, 9)).toBe(true);
    expect(hasStarted(t, 10)).toBe(true);
    expect(hasStarted(t, 11)).toBe(false);
    // Ids keep growing as JS numbers; the table holds them as int32.
    const big = 2 ** 31 - 2;
    markStarted(t, big);
    expect(hasStarted(t, big)).toBe(true);
    expect(hasStarted(t, big + 3)).toBe(false); // stored as a negative int32: still later
    markStarted(t, big + 3);
    expect(hasStarted(t, big + 2)).toBe(true);
    expect(hasStarted(t, big + 4)).toBe(false);
    // The started id lives apart from the cancellation slots: starting a request never cancels one.
    for (const id of [1, CANCEL_SLOTS - 1, CANCEL_SLOTS, 2 * CANCEL_SLOTS]) {
      markStarted(t, id);
      expect(isCancelled(t, id)).toBe(false);
    }
  });
});
