import type { ServingSnapshot } from '../model/serving-snapshot';
import { NoCandidatesError, PolicyInputError } from './policy-errors';

/** Largest slate a request may ask for. */
export const MAX_SLATE_SIZE = 100;

/** What a caller asks the serving core for (item *indices*; the HTTP layer maps ids to indices). */
export interface SlateRequest {
  /** The user's vector (length `snapshot.dim`); omitted → `snapshot.defaultUser` (population prior). */
  readonly user?: ArrayLike<number>;
  /** Slate size k, an integer in 1..100. Fewer items are served when fewer valid candidates exist. */
  readonly size: number;
  /** Restrict the choice to these item indices (duplicates ignored); omitted → the whole catalogue. */
  readonly candidates?: ArrayLike<number>;
  /** Item indices never to serve. */
  readonly exclude?: ArrayLike<number>;
}

/** A request checked against a snapshot: the valid candidate rows, ascending, and what was skipped. */
export interface ResolvedRequest {
  /** User vector as float64 (length dim). */
  readonly user: Float64Array;
  /** Effective slate size: min(size, number of valid candidates). */
  readonly k: number;
  /** Requested size. */
  readonly requestedSize: number;
  /** Valid candidate item indices, ascending (active, not excluded). Shared between requests: read only. */
  readonly rows: Int32Array;
  /** Requested candidates skipped because the item is inactive (only when `candidates` was given). */
  readonly inactiveCandidates: readonly number[];
  /** `rows` is the snapshot's shared list of every active item (no candidates, no exclusions given). */
  readonly rowsShared: boolean;
}

// Active item indices of a snapshot, computed once (snapshots are immutable); shared, never mutated.
const activeRowsCache = new WeakMap<ServingSnapshot, Int32Array>();
/** Every active item index of a snapshot, ascending (computed once per snapshot; read only). */
export function activeRows(snapshot: ServingSnapshot): Int32Array {
  let rows = activeRowsCache.get(snapshot);
  if (!rows) {
    const { active } = snapshot;
    const n = active.length;
    let count = 0;
    for (let i = 0; i < n; i++) if (active[i] !== 0) count++;
    rows = new Int32Array(count);
    for (let i = 0, w = 0; i < n; i++) if (active[i] !== 0) rows[w++] = i;
    activeRowsCache.set(snapshot, rows);
  }
  return rows;
}

function checkIndex(v: number, n: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v >= n)
    throw new PolicyInputError(field, `must be an integer item index in [0, ${n})`);
}

/**
 * Check a request once at the core's boundary, so inner loops can trust it.
 * @throws PolicyInputError for a malformed request (field and rule named);
 *         NoCandidatesError when the catalogue is empty or no candidate is active and not excluded.
 */
export function resolveSlateRequest(snapshot: ServingSnapshot, req: SlateRequest): ResolvedRequest {
  const n = snapshot.itemIds.length;
  const d = snapshot.dim;
  if (!Number.isInteger(req.size) || req.size < 1 || req.size > MAX_SLATE_SIZE)
    throw new PolicyInputError('size', `must be an integer in [1, ${MAX_SLATE_SIZE}]`);
  const src = req.user ?? snapshot.defaultUser;
  if (src.length !== d)
    throw new PolicyInputError('user', `must have length ${d} (the model dimension), got ${src.length}`);
  const user = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    const v = src[j];
    if (!Number.isFinite(v)) throw new PolicyInputError(`user[${j}]`, 'must be a finite number');
    user[j] = v;
  }
  if (n === 0) throw new NoCandidatesError('the catalogue is empty');

  // Exclusions and candidates as a per-item mark: 0 untouched, 1 candidate, 2 excluded. (An empty
  // exclusion list is no exclusion: the shared rows, and their cached class layout, still apply.)
  const mark = (req.exclude && req.exclude.length > 0) || req.candidates ? new Uint8Array(n) : null;
  if (req.exclude && mark) {
    for (let j = 0; j < req.exclude.length; j++) {
      const v = req.exclude[j];
      checkIndex(v, n, `exclude[${j}]`);
      mark[v] = 2;
    }
  }
  const inactiveCandidates: number[] = [];
  let rows: Int32Array;
  let rowsShared = false;
  if (req.candidates && mark) {
    const c = req.candidates;
    const picked: number[] = [];
    for (let j = 0; j < c.length; j++) {
      const v = c[j];
      checkIndex(v, n, `candidates[${j}]`);
      if (mark[v] !== 0) continue; // excluded or duplicate
      mark[v] = 1;
      if (snapshot.active[v] === 0) inactiveCandidates.push(v);
      else picked.push(v);
    }
    rows = Int32Array.from(picked).sort();
  } else {
    const all = activeRows(snapshot);
    if (mark) {
      let w = 0;
      const kept = new Int32Array(all.length);
      for (let t = 0; t < all.length; t++) if (mark[all[t]] !== 2) kept[w++] = all[t];
      rows = kept.subarray(0, w);
    } else {
      rows = all;
      rowsShared = true;
    }
  }
  if (rows.length === 0) throw new NoCandidatesError('no candidate item is active and not excluded');
  return {
    user,
    k: Math.min(req.size, rows.length),
    requestedSize: req.size,
    rows,
    inactiveCandidates,
    rowsShared,
  };
}
