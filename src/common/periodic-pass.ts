/**
 * A background job on a timer, one run at a time: a tick while a run is in flight, or after `stop`, does nothing;
 * a run that fails goes to `onError` and the next tick tries again. Timers are unref'd (they never hold the
 * process up). Used by the log retention and the impression outbox's redelivery.
 */
export class PeriodicPass {
  private interval?: NodeJS.Timeout;
  private first?: NodeJS.Timeout;
  private halted = false;
  private inFlight?: Promise<void>;

  constructor(
    private readonly run: () => Promise<unknown>,
    private readonly onError: (e: unknown) => void,
  ) {}

  /** A tick every `everyMs`, the first after `firstInMs` (0: at once). */
  start(everyMs: number, firstInMs: number): void {
    this.interval = setInterval(() => this.tick(), everyMs);
    this.interval.unref();
    if (firstInMs <= 0) {
      this.tick();
      return;
    }
    this.first = setTimeout(() => this.tick(), firstInMs);
    this.first.unref();
  }

  /** Start a run unless one is in flight or the pass is stopped. */
  tick(): void {
    if (this.inFlight || this.halted) return;
    this.inFlight = this.run()
      .then(() => undefined, this.onError)
      .finally(() => (this.inFlight = undefined));
  }

  /** No tick from now on; the run in flight, if any, goes on (`running`). */
  stop(): void {
    this.halted = true;
    clearTimeout(this.first);
    clearInterval(this.interval);
  }

  get stopped(): boolean {
    return this.halted;
  }

  /** The run in flight (resolved when none). */
  get running(): Promise<void> {
    return this.inFlight ?? Promise.resolve();
  }
}
