/**
 * The join state of the learning path, in memory: slates waiting for their clicks (and clicks waiting for
 * their slate) until their window closes. A closed slate leaves a tombstone, so that a redelivered impression
 * is recognised and a late click still finds its slate's positions: the book keeps recent ones (its
 * `horizonMs`), the durable store keeps them for the dedupe horizon and a batch reads the ones it needs
 * (`JoinTx.unknown`, `JoinTx.remember`); the book's memory is about rate × (window + horizonMs).
 *
 * It is made durable by the learning log: every batch's changes go into that batch's row (`JoinDelta`, in the
 * batch's transaction). A delta holds the whole new state of every join it touches, so replaying the deltas
 * from the batch that gave the oldest open join its deadline (`oldestPut`) onto an empty book rebuilds the
 * open joins exactly, in order: a checkpoint keeps those journals instead of writing the book again (an image,
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

/**
 * What one batch changed: the new state of every join it opened or changed, and the joins it closed (a join
 * closed as the book held it is only in `closed`: its state is already in the journal that last put it).
 */
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

/**
 * What a closed join keeps as clicked: the items clicked within its window, or, when no impression came, the
 * items of the clicks that waited for it (an impression that comes later does not make them negatives).
 */
function clickedOnClose(hasItems: boolean, clicked: string[], pending: readonly PendingClick[]): string[] {
  return hasItems ? clicked : pending.map((p) => p.itemId);
}

function tombstoneOf(e: JoinEntry, closedAt: number): Tombstone {
  return {
    userId: e.userId,
    items: e.items,
    clicked: clickedOnClose(e.items !== null, e.clicked, e.pending),
    closedAt,
  };
}

/** Shared by every stored join with no clicks (most of them); frozen, so that a write to it fails loudly. */
const NONE: never[] = Object.freeze([]) as unknown as never[];

/**
 * Heap an open join takes in the book, estimated: ≈ 300 bytes a join and 16 an item, measured by bench:joins
 * (heap after a full collection over 10^5 open slates: 318, 460, 780 and 1,902 bytes a slate of 1, 10, 30 and
 * 100 items), plus a pointer a clicked id and an object a waiting click. What `JoinTx.closeDue` holds the book
 * to (`maxOpenBytes`): an estimate, but one that grows with the slates' sizes as the heap does.
 */
export function joinHeapBytes(items: number, clicked: number, pending: number): number {
  return JOIN_BYTES + JOIN_ITEM_BYTES * items + 16 * clicked + 64 * pending;
}
const JOIN_BYTES = 300;
const JOIN_ITEM_BYTES = 16;

function storedBytes(s: Stored): number {
  return joinHeapBytes(s.ids ? s.ids.length : 0, s.clicked.length, s.pending.length);
}

function entryBytes(e: JoinEntry): number {
  return joinHeapBytes(e.items ? e.items.length : 0, e.clicked.length, e.pending.length);
}

/**
 * A join as the book stores it. A slate of k items takes two arrays (ids, and one array of doubles) instead of
 * k + 1 objects and k boxed propensities: ≈ 3× less heap an open slate, and fewer objects for the collector
 * to trace and to promote, which matters at rate × window of them. Book-internal: readers get `JoinEntry` /
 * `Tombstone` copies, so `nums` may be reused in place (an open join's, for its tombstone).
 */
interface Stored {
  userId: string;
  /** The items' ids (interned), in slate order; null: no impression yet (clicks only). */
  ids: string[] | null;
  /**
   * [time, batch, propensity₁, …, propensityₖ], or [time, batch, position₁, propensity₁, …] when the positions
   * are not 1…k in slate order (reco's own slates' always are; the length tells which). time is `closesAt`
   * (open) or `closedAt` (tombstone); batch is the batch that gave an open join its deadline, and so its place
   * in the book (−1: loaded from an image; unused in a tombstone).
   */
  nums: number[];
  /** Items clicked within the window (a tombstone with no items: the items of the clicks that waited). */
  clicked: readonly string[];
  /** Clicks waiting for their impression (open joins only). */
  pending: readonly PendingClick[];
}

const TIME = 0;
const BATCH = 1;
const ITEMS = 2;
const FROM_IMAGE = -1;

function store(
  userId: string,
  items: readonly SlateItem[] | null,
  time: number,
  batch: number,
  clicked: readonly string[] | undefined,
  pending: readonly PendingClick[],
  intern: (itemId: string) => string,
): Stored {
  const n = items ? items.length : 0;
  let inOrder = true;
  for (let k = 0; k < n && inOrder; k++) inOrder = items![k].position === k + 1;
  // Sized once; the first double makes it an unboxed double array (8 bytes an element).
  const nums = new Array<number>(ITEMS + (inOrder ? n : 2 * n));
  nums[TIME] = time;
  nums[BATCH] = batch;
  let ids: string[] | null = null;
  if (items) {
    ids = new Array<string>(n);
    for (let k = 0; k < n; k++) {
      const it = items[k];
      ids[k] = intern(it.itemId);
      if (inOrder) nums[ITEMS + k] = it.propensity;
      else {
        nums[ITEMS + 2 * k] = it.position;
        nums[ITEMS + 2 * k + 1] = it.propensity;
      }
    }
  }
  return {
    userId,
    ids,
    nums,
    clicked: clicked && clicked.length ? clicked : NONE,
    pending: pending.length ? pending : NONE,
  };
}

function itemsOf(s: Stored): SlateItem[] | null {
  const ids = s.ids;
  if (!ids) return null;
  const nums = s.nums;
  const n = ids.length;
  const items = new Array<SlateItem>(n);
  if (nums.length === ITEMS + n)
    for (let k = 0; k < n; k++) items[k] = { itemId: ids[k], position: k + 1, propensity: nums[ITEMS + k] };
  else
    for (let k = 0; k < n; k++)
      items[k] = { itemId: ids[k], position: nums[ITEMS + 2 * k], propensity: nums[ITEMS + 2 * k + 1] };
  return items;
}

function entryOf(s: Stored): JoinEntry {
  return {
    userId: s.userId,
    items: itemsOf(s),
    clicked: s.clicked as string[],
    pending: s.pending as PendingClick[],
    closesAt: s.nums[TIME],
  };
}

function tombstoneOfStored(s: Stored): Tombstone {
  return { userId: s.userId, items: itemsOf(s), clicked: s.clicked as string[], closedAt: s.nums[TIME] };
}

const asIs = (itemId: string): string => itemId;

export class JoinBook {
  /**
   * Open joins, in the order their windows close: an entry whose deadline changes is moved to the end, one
   * whose deadline stays (a click) is replaced in place, and every deadline is "now + window", so the map's
   * order is the deadline order while the window is fixed (an image is loaded sorted by deadline, so a changed
   * window after a restart is absorbed there). It is also the order of the batches that set the deadlines,
   * which `oldestPut` relies on. (Until 2026-12-07 a click moved its join to the end too: a clicked slate then
   * closed only when every slate in front of it had, up to a window late.)
   */
  private readonly open = new Map<string, Stored>();
  /** Tombstones, in the order they closed (so the oldest expire from the front). */
  private readonly closed = new Map<string, Stored>();
  /** Σ `joinHeapBytes` over the open joins. */
  private openHeap = 0;

  /** closedAt of the newest tombstone dropped to respect `maxClosed` (−∞: none). */
  private evictedUpTo = -Infinity;

  /**
   * @param horizonMs how long a tombstone is kept after its join closed
   * @param maxClosed how many tombstones are kept at most (the oldest go first): memory stays bounded whatever
   *   the rate; what was dropped is read from the durable store when needed (see `coveredSince`)
   * @param intern the canonical string of an item id (the catalogue's), so that the ids of thousands of open
   *   slates share a few strings instead of each holding its own copy from the parsed event
   */
  constructor(
    private readonly horizonMs: number,
    private readonly maxClosed = Infinity,
    private readonly intern: (itemId: string) => string = asIs,
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

  /** The open joins' heap, estimated (`joinHeapBytes`). */
  get openBytes(): number {
    return this.openHeap;
  }

  get closedCount(): number {
    return this.closed.size;
  }

  /** The join's state (a copy: the book's own form is internal). */
  state(slateId: string): JoinState {
    const open = this.open.get(slateId);
    if (open) return { kind: 'open', entry: entryOf(open) };
    const closed = this.closed.get(slateId);
    return closed ? { kind: 'closed', tombstone: tombstoneOfStored(closed) } : undefined;
  }

  /** Whether the book knows the slate (open or closed), without copying its state. */
  has(slateId: string): boolean {
    return this.open.has(slateId) || this.closed.has(slateId);
  }

  /** Whether the slate's join is open, without copying its state. */
  isOpen(slateId: string): boolean {
    return this.open.has(slateId);
  }

  begin(now: number): JoinTx {
    return new JoinTx(this, now);
  }

  /**
   * Apply a committed batch's changes (live, after the commit; or replayed from the log at start), with the
   * batch's id in the learning log (what `oldestPut` reports).
   */
  apply(delta: JoinDelta, batchId: number): void {
    for (const [id, e] of delta.open) {
      const prev = this.open.get(id);
      if (prev && prev.nums[TIME] === e.closesAt) {
        // Its deadline unchanged (a click came): it keeps its place, and the batch that put it there.
        this.openHeap -= storedBytes(prev);
        const s = store(e.userId, e.items, e.closesAt, prev.nums[BATCH], e.clicked, e.pending, this.intern);
        this.open.set(id, s); // an existing key keeps its place in a Map
        this.openHeap += storedBytes(s);
        continue;
      }
      this.dropOpen(id); // a new deadline, the latest: re-inserted at the end
      this.closed.delete(id);
      this.putOpen(id, store(e.userId, e.items, e.closesAt, batchId, e.clicked, e.pending, this.intern));
    }
    for (const id of delta.closed) {
      const s = this.dropOpen(id);
      if (!s) continue;
      // Its tombstone reuses the stored form: no reader holds it.
      s.nums[TIME] = delta.now;
      const clicked = clickedOnClose(s.ids !== null, s.clicked as string[], s.pending);
      s.clicked = clicked.length ? clicked : NONE;
      s.pending = NONE;
      this.closed.set(id, s);
    }
    this.expire(delta.now);
  }

  private putOpen(id: string, s: Stored): void {
    this.open.set(id, s);
    this.openHeap += storedBytes(s);
  }

  private dropOpen(id: string): Stored | undefined {
    const s = this.open.get(id);
    if (s) {
      this.open.delete(id);
      this.openHeap -= storedBytes(s);
    }
    return s;
  }

  /**
   * The batch that gave the oldest open join its deadline: replaying the deltas of that batch and of every later
   * one onto an empty book gives exactly the open joins of this book, in the same order (the map is in the order
   * of those batches, every later change of a join is in a later delta, and a delta holds a join's whole
   * state). undefined: no open join; null: the oldest came from an image, no delta
   * rebuilds it.
   */
  oldestPut(): number | null | undefined {
    for (const s of this.open.values()) return s.nums[BATCH] === FROM_IMAGE ? null : s.nums[BATCH];
    return undefined;
  }

  /** Drop tombstones older than the horizon, then the oldest beyond `maxClosed`. */
  expire(now: number): void {
    for (const [id, t] of this.closed) {
      if (t.nums[TIME] >= now - this.horizonMs) break;
      this.closed.delete(id);
    }
    this.cap();
  }

  private cap(): void {
    if (this.closed.size <= this.maxClosed) return;
    for (const [id, t] of this.closed) {
      if (this.closed.size <= this.maxClosed) break;
      this.closed.delete(id);
      if (t.nums[TIME] > this.evictedUpTo) this.evictedUpTo = t.nums[TIME];
    }
  }

  /**
   * The open joins now, in order, as ids and entries (copies): what a checkpoint that must write an image
   * encodes afterwards, step by step (`encodeOpenJoinsInSteps`), while the book moves on.
   */
  openJoins(): { ids: string[]; entries: JoinEntry[] } {
    const ids = new Array<string>(this.open.size);
    const entries = new Array<JoinEntry>(this.open.size);
    let i = 0;
    this.open.forEach((s, id) => {
      ids[i] = id;
      entries[i++] = entryOf(s);
    });
    return { ids, entries };
  }

  image(): JoinBookImage {
    const open: [string, JoinEntry][] = [];
    for (const [id, s] of this.open) open.push([id, entryOf(s)]);
    const closed: [string, Tombstone][] = [];
    for (const [id, s] of this.closed) closed.push([id, tombstoneOfStored(s)]);
    return { open, closed };
  }

  private storeTombstone(t: Tombstone): Stored {
    return store(t.userId, t.items, t.closedAt, FROM_IMAGE, t.clicked, NONE, this.intern);
  }

  /** Add tombstones kept elsewhere (recovery), oldest first; joins the book has open stay open. */
  loadTombstones(tombstones: Iterable<[string, Tombstone]>): void {
    for (const [id, t] of tombstones) if (!this.open.has(id)) this.closed.set(id, this.storeTombstone(t));
    this.cap();
  }

  /** Replace the content with an image (recovery). */
  load(image: JoinBookImage): void {
    this.open.clear();
    this.openHeap = 0;
    this.closed.clear();
    const open = [...image.open].sort((a, b) => a[1].closesAt - b[1].closesAt);
    for (const [id, e] of open)
      this.putOpen(id, store(e.userId, e.items, e.closesAt, FROM_IMAGE, e.clicked, e.pending, this.intern));
    const closed = [...image.closed].sort((a, b) => a[1].closedAt - b[1].closedAt);
    for (const [id, t] of closed) this.closed.set(id, this.storeTombstone(t));
    this.cap();
  }

  /** The earliest deadline of an open join (undefined: none open). */
  firstDeadline(): number | undefined {
    for (const s of this.open.values()) return s.nums[TIME];
    return undefined;
  }

  /** Every open join in deadline order, as its id and deadline (`state` copies one). */
  *openInOrder(): Generator<[string, number]> {
    for (const [id, s] of this.open) yield [id, s.nums[TIME]];
  }
}

/** One batch's staged changes: reads see them, the book does not until `commit`. */
export class JoinTx {
  private readonly staged = new Map<string, JoinEntry>();
  private readonly closing: string[] = [];
  private readonly closingSet = new Set<string>();
  /** The book's state of the joins this batch closes without changing them (they are not in the delta's `open`). */
  private readonly closingAsIs = new Map<string, JoinEntry>();
  /** Tombstones read from the durable store for this batch (joins that closed before the book's memory). */
  private readonly known = new Map<string, Tombstone>();
  private early = 0;

  constructor(
    private readonly book: JoinBook,
    readonly now: number,
  ) {}

  state(slateId: string): JoinState {
    if (this.closingSet.has(slateId)) {
      return { kind: 'closed', tombstone: tombstoneOf(this.closingEntry(slateId), this.now) };
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
    for (const id of slateIds) if (!this.staged.has(id) && !this.book.has(id)) out.add(id);
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
    return this.closing.map((id) => [id, tombstoneOf(this.closingEntry(id), this.now)]);
  }

  private closingEntry(slateId: string): JoinEntry {
    return (this.staged.get(slateId) ?? this.closingAsIs.get(slateId))!;
  }

  /** Stage the new state of an open join (a copy: the book's entries are never mutated in place). */
  put(slateId: string, entry: JoinEntry): void {
    this.staged.set(slateId, entry);
  }

  /**
   * Close up to `limit` joins whose deadline is at or before `dueBy` (default: the batch's clock; a backfill
   * closes everything with a later one), with their staged state if this batch touched them, in deadline order.
   *
   * With `maxOpenBytes`: then, while the open joins (the book's and this batch's new ones) would take more than
   * that (`joinHeapBytes`), the oldest of the others close too, before their deadline (`closedEarly` counts
   * them): the heap stays bounded whatever the rate × window. Joins this batch touched are not among them (a
   * click or an impression just came). The book holds at most `maxOpenBytes` plus one batch's new joins.
   */
  closeDue(limit: number, dueBy = this.now, maxOpenBytes = Infinity): [string, JoinEntry][] {
    const out: [string, JoinEntry][] = [];
    let excess = maxOpenBytes === Infinity ? -Infinity : this.book.openBytes - maxOpenBytes;
    if (excess > -Infinity)
      for (const [id, e] of this.staged) if (!this.book.isOpen(id)) excess += entryBytes(e);
    for (const [id, closesAt] of this.book.openInOrder()) {
      if (out.length >= limit) break;
      const staged = this.staged.get(id);
      if (closesAt <= dueBy) {
        if (staged && staged.closesAt > dueBy) continue; // reopened by this batch (its impression came)
      } else if (excess <= 0) break;
      else if (staged) continue;
      else this.early++;
      const entry = staged ?? (this.book.state(id) as { kind: 'open'; entry: JoinEntry }).entry;
      excess -= entryBytes(entry);
      out.push([id, entry]);
    }
    // Joins this batch created are due only if `dueBy` is past their deadline already (closing everything).
    for (const [id, entry] of this.staged) {
      if (out.length >= limit) break;
      if (entry.closesAt <= dueBy && !this.book.isOpen(id)) out.push([id, entry]);
    }
    for (const [id, entry] of out) {
      this.closing.push(id);
      this.closingSet.add(id);
      if (!this.staged.has(id)) this.closingAsIs.set(id, entry);
    }
    return out;
  }

  /** Joins `closeDue` closed before their deadline, to keep the book within `maxOpenBytes`. */
  get closedEarly(): number {
    return this.early;
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
