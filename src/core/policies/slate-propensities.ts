/**
 * The (item × position) propensity matrix of one request: P(policy puts item i at position j | model,
 * user, candidates), marginal over the policy's own randomness (not conditional on earlier slots).
 *
 * Stored sparsely: explicit rows for the items that can have distinct probabilities, then (Thompson
 * Monte Carlo estimates only) one shared row per pooled exchangeability class for its members without
 * an explicit row, plus one shared row for every other valid candidate (uniform random and ε-greedy
 * give the same probability to every item outside the top k; greedy, UCB and the Thompson estimates
 * give them 0).
 */
export interface SlatePropensities {
  /** Effective slate size (positions 0..k−1). */
  readonly k: number;
  /** Closed form, or Monte Carlo estimate from `simulatedSlates` slates. */
  readonly kind: 'exact' | 'monte_carlo';
  /** Slates simulated for a Monte Carlo estimate (0 when exact). */
  readonly simulatedSlates: number;
  /** Every valid candidate (item indices, ascending): the support of the policy. */
  readonly candidates: Int32Array;
  /** Item indices with an explicit row. */
  readonly items: Int32Array;
  /** p[r·k + j] = P(items[r] at position j). */
  readonly p: Float64Array;
  /** marginal[r] = Σ_j p[r·k + j], capped at 1 (the sum can round a hair above it): probability that items[r] is in the slate. */
  readonly marginal: Float64Array;
  /** Probability at each position of any candidate without an explicit row (each of them). */
  readonly otherProbability: Float64Array;
  /** Number of candidates with neither an explicit row nor a class row. */
  readonly otherCount: number;
  /** Pooled exchangeability classes (see `PropensityClasses`); absent when there are none. */
  readonly classes?: PropensityClasses;
}

/**
 * Classes of exchangeable candidates whose Monte Carlo counts were pooled (thompson-policies.ts): the
 * members of class g are members[start[g] .. start[g + 1]) (item indices), and each has probability
 * p[g·k + j] at position j. Members that also have an explicit row (the ones the simulation produced)
 * carry the same values in it; `otherCount` excludes every member.
 */
export interface PropensityClasses {
  readonly start: Int32Array;
  readonly members: Int32Array;
  readonly p: Float64Array;
}

/** P(item at position) (0-based position); 0 for non-candidates. */
export function propensityAt(m: SlatePropensities, item: number, position: number): number {
  const r = rowOf(m, item);
  if (r >= 0) return m.p[r * m.k + position];
  const g = classOf(m, item);
  if (g >= 0) return m.classes!.p[g * m.k + position];
  return isCandidate(m, item) ? m.otherProbability[position] : 0;
}

/** P(item in the slate). */
export function inSlateProbability(m: SlatePropensities, item: number): number {
  const r = rowOf(m, item);
  if (r >= 0) return m.marginal[r];
  const g = classOf(m, item);
  if (g < 0 && !isCandidate(m, item)) return 0;
  const row = g >= 0 ? m.classes!.p.subarray(g * m.k, g * m.k + m.k) : m.otherProbability;
  return inSlateSum(row, 0, m.k);
}

/** Σ_j row[from + j] over k positions, capped at 1: a sum of probabilities can round above it (67/257 + 165/257 + 25/257). */
function inSlateSum(row: Float64Array, from: number, k: number): number {
  let s = 0;
  for (let j = 0; j < k; j++) s += row[from + j];
  return s < 1 ? s : 1;
}

/**
 * Dense item-major matrix over the whole catalogue, `out[item · k + position]` (the layout of
 * `ope/action-distribution`): non-candidates get 0.
 */
export function toDensePropensities(m: SlatePropensities, nItems: number): Float64Array {
  const k = m.k;
  const out = new Float64Array(nItems * k);
  for (let c = 0; c < m.candidates.length; c++) out.set(m.otherProbability, m.candidates[c] * k);
  const cl = m.classes;
  if (cl)
    for (let g = 0; g + 1 < cl.start.length; g++) {
      const row = cl.p.subarray(g * k, g * k + k);
      for (let t = cl.start[g]; t < cl.start[g + 1]; t++) out.set(row, cl.members[t] * k);
    }
  for (let r = 0; r < m.items.length; r++) out.set(m.p.subarray(r * k, r * k + k), m.items[r] * k);
  return out;
}

function rowOf(m: SlatePropensities, item: number): number {
  // Explicit rows are few (≤ a few hundred): a scan beats building a map per request.
  const items = m.items;
  for (let r = 0; r < items.length; r++) if (items[r] === item) return r;
  return -1;
}

// The pooled class of an item (callers look at explicit rows first), or −1. A scan of the listed members
// (served items always have explicit rows, so serving never comes here).
function classOf(m: SlatePropensities, item: number): number {
  const cl = m.classes;
  if (!cl) return -1;
  const t = cl.members.indexOf(item);
  if (t < 0) return -1;
  let g = 0;
  while (cl.start[g + 1] <= t) g++;
  return g;
}

function isCandidate(m: SlatePropensities, item: number): boolean {
  const c = m.candidates;
  let lo = 0;
  let hi = c.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (c[mid] === item) return true;
    if (c[mid] < item) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** Build from explicit rows; computes the marginals. */
export function makePropensities(
  fields: Omit<SlatePropensities, 'marginal'> & { marginal?: Float64Array },
): SlatePropensities {
  const { k, items, p } = fields;
  let marginal = fields.marginal;
  if (!marginal) {
    marginal = new Float64Array(items.length);
    for (let r = 0; r < items.length; r++) {
      marginal[r] = inSlateSum(p, r * k, k);
    }
  }
  return { ...fields, marginal };
}
