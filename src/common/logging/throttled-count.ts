/**
 * Occurrences worth a warning, but not one each: `take` counts them and says, at most once per `periodMs`, how many
 * came since the last time it said so (undefined meanwhile). The caller logs that count with its own fields.
 */
export class ThrottledCount {
  private since = 0;
  private lastAt = -Infinity;

  constructor(
    private readonly periodMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  take(n = 1): number | undefined {
    this.since += n;
    const t = this.now();
    if (t - this.lastAt < this.periodMs) return undefined;
    this.lastAt = t;
    const count = this.since;
    this.since = 0;
    return count;
  }
}
