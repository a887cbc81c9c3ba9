import type { SlotLog } from '../core/ope';

/** A growable typed column (doubling), so a million rows need no million objects. */
class Column<T extends Float64Array | Int32Array | Uint8Array> {
  private data: T;
  length = 0;
  constructor(private readonly make: (n: number) => T) {
    this.data = make(1024);
  }
  push(x: number): void {
    if (this.length === this.data.length) {
      const next = this.make(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = x;
  }
  get(i: number): number {
    return this.data[i];
  }
  done(): T {
    return this.data.slice(0, this.length) as T;
  }
}

export interface PendingSlot {
  item: number;
  position: number;
  reward: number;
  pscore: number;
  cascadePscore?: number;
  line: number;
}

/** Builds a SlotLog slate by slate; slots of a slate are sorted by position when the slate is added. */
export class SlotLogBuilder {
  private readonly slateStart = new Column((n) => new Int32Array(n));
  private readonly item = new Column((n) => new Int32Array(n));
  private readonly position = new Column((n) => new Uint8Array(n));
  private readonly reward = new Column((n) => new Float64Array(n));
  private readonly pscore = new Column((n) => new Float64Array(n));
  private readonly cascade = new Column((n) => new Float64Array(n));
  private readonly context = new Column((n) => new Int32Array(n));
  private readonly time = new Column((n) => new Float64Array(n));
  private hasCascade = false;

  addSlate(slots: PendingSlot[], context: number, time: number): void {
    if (slots.length === 0) return;
    slots.sort((a, b) => a.position - b.position);
    this.slateStart.push(this.item.length);
    this.context.push(context);
    this.time.push(time);
    for (const s of slots) {
      this.item.push(s.item);
      this.position.push(s.position);
      this.reward.push(s.reward);
      this.pscore.push(s.pscore);
      this.cascade.push(s.cascadePscore ?? NaN);
      if (s.cascadePscore !== undefined) this.hasCascade = true;
    }
  }

  get nSlots(): number {
    return this.item.length;
  }

  build(nItems: number, slateSize: number): SlotLog {
    const nSlates = this.context.length;
    this.slateStart.push(this.item.length);
    const log: SlotLog = {
      nItems,
      slateSize,
      nSlots: this.item.length,
      nSlates,
      slateStart: this.slateStart.done(),
      item: this.item.done(),
      position: this.position.done(),
      reward: this.reward.done(),
      pscore: this.pscore.done(),
      context: this.context.done(),
      time: this.time.done(),
      cascadePscore: this.hasCascade ? this.cascade.done() : undefined,
    };
    return log;
  }
}

/** Rows that were not used, and why: counted by reason, with line numbers of the first few. */
export class Rejections {
  total = 0;
  readonly byReason: Record<string, number> = {};
  readonly examples: { line: number; reason: string; detail: string }[] = [];
  constructor(private readonly keep = 10) {}

  add(line: number, reason: string, detail: string): void {
    this.total++;
    this.byReason[reason] = (this.byReason[reason] ?? 0) + 1;
    if (this.examples.length < this.keep) this.examples.push({ line, reason, detail });
  }
}

/** A loaded log: the columns, the distinct contexts its slates refer to, and what was rejected. */
export interface LoadedLog {
  readonly log: SlotLog;
  /** Distinct contexts (OBD: user-feature tuple; reco: user id), indexed by log.context. */
  readonly contexts: string[];
  /** Item index → external id. */
  readonly itemIds: string[];
  /** Data lines read (header excluded). */
  readonly rowsRead: number;
  readonly rejected: Rejections;
}
