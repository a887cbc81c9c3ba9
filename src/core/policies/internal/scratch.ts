/**
 * Reusable per-name scratch arrays for the per-request hot path.
 *
 * Why: a 100k-item request used to allocate ~2 MB of n-sized typed arrays (marks, stamps, row maps);
 * their external memory drives V8's garbage collector (~10% of the request time). These arrays are
 * only ever compared against a fresh `nextStamp()` value, so they are never cleared: a slot "is set"
 * when it holds the current stamp. Node runs one request at a time on this thread, and every stamp is
 * unique, so several live users of the same array never confuse each other's marks.
 */
const pool = new Map<string, Int32Array>();
let stamp = 0;

/** An Int32Array of length ≥ n shared under `name` (contents are arbitrary: use with stamps). */
export function scratchInt32(name: string, n: number): Int32Array {
  let a = pool.get(name);
  if (!a || a.length < n) {
    a = new Int32Array(Math.max(n, 2 * (a?.length ?? 0)));
    pool.set(name, a);
  }
  return a;
}

const floatPool = new Map<string, Float64Array>();

/**
 * A Float64Array of length ≥ n shared under `name`, for per-request work arrays that are fully written
 * before being read (no stamps needed). Contents are arbitrary on return.
 */
export function scratchFloat64(name: string, n: number): Float64Array {
  let a = floatPool.get(name);
  if (!a || a.length < n) {
    a = new Float64Array(Math.max(n, 2 * (a?.length ?? 0)));
    floatPool.set(name, a);
  }
  return a;
}

/** A stamp never returned before (wraps after 2^31 − 2 calls by clearing every scratch array). */
export function nextStamp(): number {
  if (++stamp === 0x7fffffff) {
    for (const a of pool.values()) a.fill(0);
    stamp = 1;
  }
  return stamp;
}
