import type { ServingSnapshot } from './serving-snapshot';

/**
 * Shared memory for serving snapshots, reused once no reader is left.
 *
 * A snapshot's means and variances live in SharedArrayBuffers (slate workers read the same bytes). Fresh memory
 * costs a page fault per 4 KiB on first write, and on this project's 2-core VM writing 13 MB of fresh shared
 * memory took ≈ 40 ms against ≈ 1–3 ms into memory written before: a rebuild spent 8 ms on the serving thread
 * at 10⁴ items, 86 ms at 10⁵ and 1.2 s at 10⁶ (d = 32), almost all of it faulting in the new snapshot's pages,
 * and rebuilds come up to five times a second while learning.
 *
 * Lifetimes are explicit, not left to the garbage collector (which, measured, collected no replaced snapshot in
 * 25 rebuilds 200 ms apart): whoever reads a snapshot's arrays across a turn of the event loop holds it
 * (`hold`/`let go`), and the owner `retire`s a snapshot when it is no longer the one handed out. A retired
 * snapshot's buffers are reused once nothing holds it. Slate workers read a snapshot only while preparing it
 * and serving requests on it, and it is sent to a worker right before the first such request: the request's
 * hold covers both.
 */
export class SnapshotMemory {
  private readonly owned = new Map<
    ServingSnapshot,
    { buffers: SharedArrayBuffer[]; holds: number; retired: boolean }
  >();
  /** Free buffers of the one byte length last asked for (items are only appended: other lengths never return). */
  private free: SharedArrayBuffer[] = [];
  private freeBytes = -1;
  /** Buffers handed out again (tests, metrics). */
  recycled = 0;

  /** @param keep free buffers kept at most (a snapshot takes two of one length, means and variances: one spare snapshot) */
  constructor(private readonly keep = 2) {}

  /** A buffer of `bytes` bytes: a reused one when there is one (holding old data), else a new one (zeroed). */
  take(bytes: number): SharedArrayBuffer {
    if (bytes !== this.freeBytes) {
      this.free = [];
      this.freeBytes = bytes;
    }
    const b = this.free.pop();
    if (!b) return new SharedArrayBuffer(bytes);
    this.recycled++;
    return b;
  }

  /** `snapshot` was built in `buffers` (taken here): they come back once it is retired and nothing holds it. */
  register(snapshot: ServingSnapshot, buffers: SharedArrayBuffer[]): void {
    this.owned.set(snapshot, { buffers, holds: 0, retired: false });
  }

  /** A reader's claim on `snapshot` (a request in flight): its memory is not reused before `letGo`. */
  hold(snapshot: ServingSnapshot): void {
    const o = this.owned.get(snapshot);
    if (o) o.holds++;
  }

  letGo(snapshot: ServingSnapshot): void {
    const o = this.owned.get(snapshot);
    if (!o) return;
    if (o.holds <= 0) throw new Error('SnapshotMemory.letGo: the snapshot is not held');
    o.holds--;
    if (o.retired && o.holds === 0) this.reuse(snapshot);
  }

  /** `snapshot` is no longer handed out: its memory is reused as soon as nothing holds it. */
  retire(snapshot: ServingSnapshot): void {
    const o = this.owned.get(snapshot);
    if (!o || o.retired) return;
    o.retired = true;
    if (o.holds === 0) this.reuse(snapshot);
  }

  /** Snapshots registered and not yet reused (retired ones still held, and the live ones). */
  get live(): number {
    return this.owned.size;
  }

  private reuse(snapshot: ServingSnapshot): void {
    const o = this.owned.get(snapshot)!;
    this.owned.delete(snapshot);
    for (const b of o.buffers)
      if (b.byteLength === this.freeBytes && this.free.length < this.keep) this.free.push(b);
  }
}
