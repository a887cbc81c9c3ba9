import type { JoinBookImage, JoinDelta, JoinEntry, SlateItem, Tombstone } from './join-book';

/**
 * Binary forms of the join book (checkpoint) and of a batch's journal (learning-log row): the join book's
 * changes and the clicks the batch accepted. JSON of the same content is 5–10× slower to write for a book of
 * 10^5 open slates (seconds on the thread that learns and serves), and larger.
 *
 * Little-endian. A string is u16 byte length + UTF-8 (ids are at most a few hundred bytes: the event schemas
 * bound them); an optional string or number has a presence byte. Layouts:
 *   book:    "RJI1", u32 open, u32 closed, open × (slateId, entry), closed × (slateId, tombstone)
 *   journal: "RJJ1", f64 now, u32 open, u32 closed, u32 clicks, open × (slateId, entry), closed × slateId,
 *            clicks × (eventId, ?slateId, userId, itemId, ?u16 position, f64 ts)
 *   entry:   userId, items, u32 clicked × itemId, u32 pending × (userId, itemId), f64 closesAt
 *   items:   u32 count (0xffffffff: null) × (itemId, u16 position, f64 propensity)
 *   tombstone: userId, items, u32 clicked × itemId, f64 closedAt
 */

/** A click as the journal keeps it (the learning path's click event, without its type). */
export interface JournalClick {
  eventId: string;
  slateId?: string;
  userId: string;
  itemId: string;
  position?: number;
  ts: number;
}

export interface BatchJournal {
  joins: JoinDelta;
  clicks: JournalClick[];
}

const BOOK = 0x31494a52; // "RJI1"
const JOURNAL = 0x314a4a52; // "RJJ1"
const NULL_COUNT = 0xffffffff;

export class JournalFormatError extends Error {
  constructor(message: string) {
    super(`journal: ${message}`);
    this.name = 'JournalFormatError';
  }
}

class Writer {
  private bytes = new Uint8Array(1 << 16);
  private view = new DataView(this.bytes.buffer);
  private o = 0;
  private readonly enc = new TextEncoder();

  private room(n: number): void {
    if (this.o + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.o + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.o));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.room(1);
    this.bytes[this.o++] = v;
  }
  u16(v: number): void {
    this.room(2);
    this.view.setUint16(this.o, v, true);
    this.o += 2;
  }
  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.o, v, true);
    this.o += 4;
  }
  f64(v: number): void {
    this.room(8);
    this.view.setFloat64(this.o, v, true);
    this.o += 8;
  }
  str(s: string): void {
    const n = s.length;
    this.room(2 + 3 * n);
    // ASCII (ids usually are) is written directly: encodeInto needs a fresh view per string.
    const bytes = this.bytes;
    const at = this.o + 2;
    let k = 0;
    for (; k < n; k++) {
      const c = s.charCodeAt(k);
      if (c >= 0x80) break;
      bytes[at + k] = c;
    }
    if (k === n) {
      if (n > 0xffff) throw new RangeError(`journal: string of ${n} bytes (65535 at most)`);
      this.view.setUint16(this.o, n, true);
      this.o = at + n;
      return;
    }
    const { written } = this.enc.encodeInto(s, bytes.subarray(at));
    if (written > 0xffff) throw new RangeError(`journal: string of ${written} bytes (65535 at most)`);
    this.view.setUint16(this.o, written, true);
    this.o += 2 + written;
  }
  done(): Uint8Array {
    return this.bytes.subarray(0, this.o);
  }
}

class Reader {
  private o = 0;
  private readonly view: DataView;
  private readonly dec = new TextDecoder();
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private need(n: number): void {
    if (this.o + n > this.bytes.length) throw new JournalFormatError('truncated');
  }
  u8(): number {
    this.need(1);
    return this.bytes[this.o++];
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.o, true);
    this.o += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.o, true);
    this.o += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.o, true);
    this.o += 8;
    return v;
  }
  str(): string {
    const n = this.u16();
    this.need(n);
    const s = this.dec.decode(this.bytes.subarray(this.o, this.o + n));
    this.o += n;
    return s;
  }
  end(): void {
    if (this.o !== this.bytes.length)
      throw new JournalFormatError(`${this.bytes.length - this.o} trailing bytes`);
  }
}

function writeItems(w: Writer, items: SlateItem[] | null): void {
  if (!items) return w.u32(NULL_COUNT);
  w.u32(items.length);
  for (const it of items) {
    w.str(it.itemId);
    w.u16(it.position);
    w.f64(it.propensity);
  }
}

function readItems(r: Reader): SlateItem[] | null {
  const n = r.u32();
  if (n === NULL_COUNT) return null;
  const items: SlateItem[] = [];
  for (let k = 0; k < n; k++) items.push({ itemId: r.str(), position: r.u16(), propensity: r.f64() });
  return items;
}

function writeEntry(w: Writer, e: JoinEntry): void {
  w.str(e.userId);
  writeItems(w, e.items);
  w.u32(e.clicked.length);
  for (const c of e.clicked) w.str(c);
  w.u32(e.pending.length);
  for (const p of e.pending) {
    w.str(p.userId);
    w.str(p.itemId);
  }
  w.f64(e.closesAt);
}

function readEntry(r: Reader): JoinEntry {
  const userId = r.str();
  const items = readItems(r);
  const clicked: string[] = [];
  for (let k = r.u32(); k > 0; k--) clicked.push(r.str());
  const pending: JoinEntry['pending'] = [];
  for (let k = r.u32(); k > 0; k--) pending.push({ userId: r.str(), itemId: r.str() });
  return { userId, items, clicked, pending, closesAt: r.f64() };
}

function writeTombstone(w: Writer, t: Tombstone): void {
  w.str(t.userId);
  writeItems(w, t.items);
  w.u32(t.clicked?.length ?? 0);
  for (const c of t.clicked ?? []) w.str(c);
  w.f64(t.closedAt);
}

function readTombstone(r: Reader): Tombstone {
  const userId = r.str();
  const items = readItems(r);
  const clicked: string[] = [];
  for (let k = r.u32(); k > 0; k--) clicked.push(r.str());
  return { userId, items, clicked, closedAt: r.f64() };
}

/** Encode a join book's image (`JoinBook.image()`). */
export function encodeJoinBookImage(image: JoinBookImage): Uint8Array {
  const w = new Writer();
  w.u32(BOOK);
  w.u32(image.open.length);
  w.u32(image.closed.length);
  for (const [id, e] of image.open) {
    w.str(id);
    writeEntry(w, e);
  }
  for (const [id, t] of image.closed) {
    w.str(id);
    writeTombstone(w, t);
  }
  return w.done();
}

/**
 * The open joins of a book as a checkpoint image, `encodeJoinBookImage({ open, closed: none })` byte for byte,
 * encoded `chunk` entries at a time: a generator that pauses between chunks, so that its caller can let other
 * work run in between (≈ 3 µs an open slate: seconds for 10^6, which would otherwise stall every request on
 * the thread that encodes). `ids` and `entries` are the open joins taken at the checkpoint's cut
 * (`JoinBook.openJoins`, copies), so encoding them later is still the cut.
 */
export function* encodeOpenJoinsInSteps(
  ids: readonly string[],
  entries: readonly JoinEntry[],
  chunk = 2000,
): Generator<void, Uint8Array, void> {
  const w = new Writer();
  w.u32(BOOK);
  w.u32(ids.length);
  w.u32(0);
  for (let i = 0; i < ids.length; i++) {
    if (i > 0 && i % chunk === 0) yield;
    w.str(ids[i]);
    writeEntry(w, entries[i]);
  }
  return w.done();
}

export function decodeJoinBookImage(bytes: Uint8Array): JoinBookImage {
  const r = new Reader(bytes);
  if (r.u32() !== BOOK) throw new JournalFormatError('not a join book (bad magic)');
  const nOpen = r.u32();
  const nClosed = r.u32();
  const image: JoinBookImage = { open: [], closed: [] };
  for (let k = 0; k < nOpen; k++) image.open.push([r.str(), readEntry(r)]);
  for (let k = 0; k < nClosed; k++) image.closed.push([r.str(), readTombstone(r)]);
  r.end();
  return image;
}

export function encodeBatchJournal(journal: BatchJournal): Uint8Array {
  const w = new Writer();
  const { joins, clicks } = journal;
  w.u32(JOURNAL);
  w.f64(joins.now);
  w.u32(joins.open.length);
  w.u32(joins.closed.length);
  w.u32(clicks.length);
  for (const [id, e] of joins.open) {
    w.str(id);
    writeEntry(w, e);
  }
  for (const id of joins.closed) w.str(id);
  for (const c of clicks) {
    w.str(c.eventId);
    w.u8(c.slateId === undefined ? 0 : 1);
    if (c.slateId !== undefined) w.str(c.slateId);
    w.str(c.userId);
    w.str(c.itemId);
    w.u8(c.position === undefined ? 0 : 1);
    if (c.position !== undefined) w.u16(c.position);
    w.f64(c.ts);
  }
  return w.done();
}

export function decodeBatchJournal(bytes: Uint8Array): BatchJournal {
  const r = new Reader(bytes);
  if (r.u32() !== JOURNAL) throw new JournalFormatError('not a batch journal (bad magic)');
  const now = r.f64();
  const nOpen = r.u32();
  const nClosed = r.u32();
  const nClicks = r.u32();
  const joins: JoinDelta = { now, open: [], closed: [] };
  for (let k = 0; k < nOpen; k++) joins.open.push([r.str(), readEntry(r)]);
  for (let k = 0; k < nClosed; k++) joins.closed.push(r.str());
  const clicks: JournalClick[] = [];
  for (let k = 0; k < nClicks; k++) {
    const eventId = r.str();
    const slateId = r.u8() ? r.str() : undefined;
    const userId = r.str();
    const itemId = r.str();
    const position = r.u8() ? r.u16() : undefined;
    const ts = r.f64();
    const c: JournalClick = { eventId, userId, itemId, ts };
    if (slateId !== undefined) c.slateId = slateId;
    if (position !== undefined) c.position = position;
    clicks.push(c);
  }
  r.end();
  return { joins, clicks };
}
