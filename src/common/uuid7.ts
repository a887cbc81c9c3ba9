import { randomFillSync } from 'node:crypto';

/**
 * A UUID version 7 (RFC 9562, section 5.7): the first 48 bits are the Unix time in milliseconds, then the version
 * (7), 12 random bits, the variant (10) and 62 random bits, from the operating system's CSPRNG like
 * `crypto.randomUUID`. Ids made later sort after earlier ones (within a millisecond, at random): a table keyed by
 * them grows at the right edge of its primary key's index instead of at random pages, so inserts touch a few
 * hot pages, and old rows deleted by time (`LOG_RETENTION_DAYS`) leave whole pages at its left edge.
 */
export function uuid7(ms: number = Date.now()): string {
  if (pos + 10 > POOL.length) {
    randomFillSync(POOL);
    pos = 0;
  }
  const t = Math.floor(ms);
  const hi = Math.floor(t / 0x1000000); // the top 24 of the 48 bits
  const lo = t % 0x1000000;
  const r = POOL;
  const p = pos;
  pos += 10;
  return (
    HEX[(hi >>> 16) & 0xff] +
    HEX[(hi >>> 8) & 0xff] +
    HEX[hi & 0xff] +
    HEX[(lo >>> 16) & 0xff] +
    '-' +
    HEX[(lo >>> 8) & 0xff] +
    HEX[lo & 0xff] +
    '-' +
    HEX[0x70 | (r[p] & 0x0f)] +
    HEX[r[p + 1]] +
    '-' +
    HEX[0x80 | (r[p + 2] & 0x3f)] +
    HEX[r[p + 3]] +
    '-' +
    HEX[r[p + 4]] +
    HEX[r[p + 5]] +
    HEX[r[p + 6]] +
    HEX[r[p + 7]] +
    HEX[r[p + 8]] +
    HEX[r[p + 9]]
  );
}

/** The time a version-7 UUID carries, in milliseconds since the epoch. */
export function uuid7Time(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
/** Random bytes, 10 an id, refilled from the CSPRNG when used up (one system call every 409 ids). */
const POOL = new Uint8Array(4096);
let pos = POOL.length;
