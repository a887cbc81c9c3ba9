/**
 * The (item × position) propensity matrix of one request: P(policy puts item i at position j | model,
 * user, candidates), marginal over the policy's own randomness (not conditional on earlier slots).
 *
 * Stored sparsely: explicit rows for the items that can have distinct probabilities, plus one shared
 * row for every other valid candidate (uniform random and ε-greedy give the same probability to every
 * item outside the top k; greedy, UCB and the Thompson estimates give them 0).
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
  /** marginal[r] = Σ_j p[r·k + j]: probability that items[r] is in the slate. */
  readonly marginal: Float64Array;
  /** Probability at each position of any candidate without an explicit row (each of them). */
  readonly otherProbability: Float64Array;
  /** Number of candidates without an explicit row. */
  readonly otherCount: number;
}

/** P(item at position) (0-based position); 0 for non-candidates. */
export function propensityAt(m: SlatePropensities, item: number, position: number): number {
  const r = rowOf(m, item);
  if (r >= 0) return m.p[r * m.k + position];
  return isCandidate(m, item) ? m.otherProbability[position] : 0;
}

/** P(item in the slate). */
export function inSlateProbability(m: SlatePropensities, item: number): number {
  const r = rowOf(m, item);
  if (r >= 0) return m.marginal[r];
  if (!isCandidate(m, item)) return 0;
  let s = 0;
  for (let j = 0; j < m.k; j++) s += m.otherProbability[j];
  return s;
}

/**
 * Dense item-major matrix over the whole catalogue, `out[item · k + position]` (the layout of
 * `ope/action-distribution`): non-candidates get 0.
 */
export function toDensePropensities(m: SlatePropensities, nItems: number): Float64Array {
  const k = m.k;
  const out = new Float64Array(nItems * k);
  for (let c = 0; c < m.candidates.length; c++) out.set(m.otherProbability, m.candidates[c] * k);
  for (let r = 0; r < m.items.length; r++) out.set(m.p.subarray(r * k, r * k + k), m.items[r] * k);
  return out;
}

function rowOf(m: SlatePropensities, item: number): number {
  // Explicit rows are few (≤ a few hundred): a scan beats building a map per request.
  const items = m.items;
  for (let r = 0; r < items.length; r++) if (items[r] === item) return r;
  return -1;
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
      let s = 0;
      for (let j = 0; j < k; j++) s += p[r * k + j];
      marginal[r] = s;
    }
  }
  return { ...fields, marginal };
}
