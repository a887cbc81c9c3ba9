/**
 * The join state of the learning path, in memory: slates waiting for their clicks (and clicks waiting for
 * their slate) until their window closes. A closed slate leaves a tombstone, so that a redelivered impression
 * is recognised and a late click still finds its slate's positions: the book keeps recent ones (its
 * `horizonMs`), the durable store keeps them for the dedupe horizon and a batch reads the ones it needs
 * (`JoinTx.unknown`, `JoinTx.remember`); the book's memory is about rate × (window + horizonMs).
 *
 * It is made durable by the learning log: every batch's changes go into that batch's row (`JoinDelta`, in the
 * batch's transaction). A delta holds the whole new state of every join it touches, so replaying the deltas
 * from the batch that last touched the oldest open join (`oldestPut`) onto an empty book rebuilds the open
 * joins exactly, in order: a checkpoint keeps those journals instead of writing the book again (an image,
 * `JoinBookImage`, only when the journals it would need are gone: an upgrade). Changes are staged in a
 * `JoinTx` and reach the book only when the batch has committed (`commit`), so a failed batch leaves it as
 * it was.
 *
 * Pure: no I/O, no clock (every time is passed in), so replay is deterministic.
 */

export interface SlateItem {
  itemId: string;
  position: number;
  propensity: number;
}

export interface PendingClick {
  userId: string;
  itemId: string;
}

/** An open join. */
export interface JoinEntry {
  userId: string;
  /** null while only clicks (no impression) have arrived. */
  items: SlateItem[] | null;
  /** Items clicked while the window was open. */
  clicked: string[];
  /** Clicks that came before their impression. */
  pending: PendingClick[];
  /** When the window closes (ms since the epoch). */
  closesAt: number;
}

/** A closed join, kept for the dedupe horizon. */
export interface Tombstone {
  userId: string;
  /** null: the window closed on clicks whose impression had not come (they were learned as organic). */
  items: SlateItem[] | null;
  /**
   * Items clicked within the window; with items null, the items of the clicks that waited (an impression that
   * comes later does not make them negatives).
   */
  clicked?: string[];
  closedAt: number;
}

/** What one batch changed: the new state of every open join it touched, and the joins it closed. */
export interface JoinDelta {
  /** The batch's clock: closed joins' `closedAt`, and the horizon's reference. */
  now: number;
  open: [string, JoinEntry][];
  closed: string[];
}

/** The whole book, for a checkpoint. */
export interface JoinBookImage {
  open: [string, JoinEntry][];
  closed: [string, Tombstone][];
}

export type JoinState =
  { kind: 'open'; entry: JoinEntry } | { kind: 'closed'; tombstone: Tombstone } | undefined;

function tombstoneOf(e: JoinEntry, closedAt: number): Tombstone {
  const clicked = e.items ? e.clicked : e.pending.map((p) => p.itemId);
  return { userId: e.userId, items: e.items, clicked, closedAt };
}

export class JoinBook {
  /**
   * Open joins, in the order their windows close: an entry whose deadline changes is moved to the end, and
   * every deadline is "now + window", so the map's order is the deadline order while the window is fixed
   * (an image is loaded sorted by deadline, so a changed window after a restart is absorbed there).
   */
  private readonly open = new Map<string, JoinEntry>();
  /** Tombstones, in the order they closed (so the oldest expire from the front). */
  private readonly closed = new Map<string, Tombstone>();
  /** The batch whose delta last put each open join (none for joins loaded from an image). */
  private readonly putIn = new Map<string, number>();

  /** closedAt of the newest tombstone dropped to respect `maxClosed` (−∞: none). */
  private evictedUpTo = -Infinity;

  /**
   * @param horizonMs how long a tombstone is kept after its join closed
   * @param maxClosed how many tombstones are kept at most (the oldest go first): memory stays bounded whatever
   *   the rate; what was dropped is read from the durable store when needed (see `coveredSince`)
   */
  constructor(
    private readonly horizonMs: number,
    private readonly maxClosed = Infinity,
  ) {}

  /**
   * The book holds every tombstone that closed at or after this time (and, being a book of recent ones, none
   * before it may be assumed): the later of the horizon and the newest tombstone dropped for room. A reader
   * must look in the durable store for a slate that may have closed earlier.
   */
  coveredSince(now: number): number {
    return Math.max(now - this.horizonMs, this.evictedUpTo + 1);
  }

  get openCount(): number {
    return this.open.size;
  }

  get closedCount(): number {
    return this.closed.size;
  }

  state(slateId: string): JoinState {
    const entry = this.open.get(slateId);
    if (entry) return { kind: 'open', entry };
    const tombstone = this.closed.get(slateId);
    return tombstone ? { kind: 'closed', tombstone } : undefined;
  }

  begin(now: number): JoinTx {
    return new JoinTx(this, now);
  }

  /**
   * Apply a committed batch's changes (live, after the commit; or replayed from the log at start), with the
   * batch's id in the learning log (what `oldestPut` reports).
   */
  apply(delta: JoinDelta, batchId: number): void {
    for (const [id, entry] of delta.open) {
      this.open.delete(id); // re-inserted at the end: its deadline is the latest
      this.closed.delete(id);
      this.open.set(id, entry);
      this.putIn.set(id, batchId);
    }
    for (const id of delta.closed) {
      const entry = this.open.get(id);
      if (!entry) continue;
      this.open.delete(id);
      this.putIn.delete(id);
      this.closed.set(id, tombstoneOf(entry, delta.now));
    }
    this.expire(delta.now);
  }

  /**
   * The batch that last put the oldest open join: replaying the deltas of that batch and of every later one
   * onto an empty book gives exactly the open joins of this book (the map is in the order of the last put, and
   * a delta holds a join's whole state; a join put earlier and closed since appears, with its state, in the
   * delta that closes it). undefined: no open join; null: the oldest came from an image, no delta rebuilds it.
   */
  oldestPut(): number | null | undefined {
    for (const id of this.open.keys()) return this.putIn.get(id) ?? null;
    return undefined;
  }

  /** Drop tombstones older than the horizon, then the oldest beyond `maxClosed`. */
  expire(now: number): void {
    for (const [id, t] of this.closed) {
      if (t.closedAt >= now - this.horizonMs) break;
      this.closed.delete(id);
    }
    this.cap();
  }

  private cap(): void {
    if (this.closed.size <= this.maxClosed) return;
    for (const [id, t] of this.closed) {
      if (this.closed.size <= this.maxClosed) break;
      this.closed.delete(id);
      if (t.closedAt > this.evictedUpTo) this.evictedUpTo = t.closedAt;
    }
  }

  /** Read-only views of the open joins and the tombstones (for encoding a checkpoint without copying). */
  view(): { open: ReadonlyMap<string, JoinEntry>; closed: ReadonlyMap<string, Tombstone> } {
    return { open: this.open, closed: this.closed };
  }

  /**
   * The open joins now, in order (ids and entries; a pass over the map, no pairs allocated): what a checkpoint
   * that must write an image encodes afterwards, step by step (`encodeOpenJoinsInSteps`), while the book moves on.
   */
  openJoins(): { ids: string[]; entries: JoinEntry[] } {
    const ids = new Array<string>(this.open.size);
    const entries = new Array<JoinEntry>(this.open.size);
    let i = 0;
    this.open.forEach((e, id) => {
      ids[i] = id;
      entries[i++] = e;
    });
    return { ids, entries };
  }

  image(): JoinBookImage {
    return { open: [...this.open], closed: [...this.closed] };
  }

  /** Add tombstones kept elsewhere (recovery), oldest first; joins the book has open stay open. */
  loadTombstones(tombstones: Iterable<[string, Tombstone]>): void {
    for (const [id, t] of tombstones) if (!this.open.has(id)) this.closed.set(id, t);
    this.cap();
  }

  /** Replace the content with an image (recovery). */
  load(image: JoinBookImage): void {
    this.open.clear();
    this.closed.clear();
    this.putIn.clear();
    const open = [...image.open].sort((a, b) => a[1].closesAt - b[1].closesAt);
    for (const [id, e] of open) this.open.set(id, e);
    const closed = [...image.closed].sort((a, b) => a[1].closedAt - b[1].closedAt);
    for (const [id, t] of closed) this.closed.set(id, t);
    this.cap();
  }

  /** Open joins whose deadline is at or before `now`, in deadline order. */
  *due(now: number): Generator<[string, JoinEntry]> {
    for (const e of this.open) {
      if (e[1].closesAt > now) return;
      yield e;
    }
  }
}

/** One batch's staged changes: reads see them, the book does not until `commit`. */
export class JoinTx {
  private readonly staged = new Map<string, JoinEntry>();
  private readonly closing: string[] = [];
  private readonly closingSet = new Set<string>();
  /** Tombstones read from the durable store for this batch (joins that closed before the book's memory). */
  private readonly known = new Map<string, Tombstone>();

  constructor(
    private readonly book: JoinBook,
    readonly now: number,
  ) {}

  state(slateId: string): JoinState {
    if (this.closingSet.has(slateId)) {
      const e = this.staged.get(slateId) ?? (this.book.state(slateId) as { entry: JoinEntry }).entry;
      return { kind: 'closed', tombstone: tombstoneOf(e, this.now) };
    }
    const entry = this.staged.get(slateId);
    if (entry) return { kind: 'open', entry };
    const inBook = this.book.state(slateId);
    if (inBook) return inBook;
    const t = this.known.get(slateId);
    return t ? { kind: 'closed', tombstone: t } : undefined;
  }

  /** The ids among these that neither this batch nor the book knows (look for their tombstones). */
  unknown(slateIds: Iterable<string>): string[] {
    const out = new Set<string>();
    for (const id of slateIds) if (!this.staged.has(id) && !this.book.state(id)) out.add(id);
    return [...out];
  }

  /** See `JoinBook.coveredSince`, at this batch's clock. */
  coveredSince(): number {
    return this.book.coveredSince(this.now);
  }

  /** Tombstones of older closed joins, read from the durable store, for this batch's decisions. */
  remember(tombstones: ReadonlyMap<string, Tombstone>): void {
    for (const [id, t] of tombstones) this.known.set(id, t);
  }

  /** The tombstones of the joins this batch closes (to be stored with the batch). */
  tombstones(): [string, Tombstone][] {
    return this.closing.map((id) => [id, tombstoneOf(this.staged.get(id)!, this.now)]);
  }

  /** Stage the new state of an open join (a copy: the book's entries are never mutated in place). */
  put(slateId: string, entry: JoinEntry): void {
    this.staged.set(slateId, entry);
  }

  /**
   * Close up to `limit` joins whose deadline is at or before `dueBy` (default: the batch's clock; a backfill
   * closes everything with a later one), with their staged state if this batch touched them, in deadline order.
   */
  closeDue(limit: number, dueBy = this.now): [string, JoinEntry][] {
    const out: [string, JoinEntry][] = [];
    for (const [id, entry] of this.book.due(dueBy)) {
      if (out.length >= limit) break;
      const staged = this.staged.get(id);
      if (staged && staged.closesAt > dueBy) continue; // reopened by this batch (its impression came)
      out.push([id, staged ?? entry]);
    }
    // Joins this batch created are due only if `dueBy` is past their deadline already (closing everything).
    for (const [id, entry] of this.staged) {
      if (out.length >= limit) break;
      if (entry.closesAt <= dueBy && this.book.state(id)?.kind !== 'open') out.push([id, entry]);
    }
    for (const [id, entry] of out) {
      this.closing.push(id);
      this.closingSet.add(id);
      this.staged.set(id, entry);
    }
    return out;
  }

  get empty(): boolean {
    return this.staged.size === 0 && this.closing.length === 0;
  }

  delta(): JoinDelta {
    return { now: this.now, open: [...this.staged], closed: this.closing };
  }

  /** The batch committed as `batchId` in the learning log: its changes reach the book. */
  commit(batchId: number): void {
    this.book.apply(this.delta(), batchId);
  }
}
