import type { ServingSnapshot } from '../model/serving-snapshot';
import type { Rng } from '../random';
import { deterministicPropensities, selectGreedy, selectUcb } from './greedy';
import { epsGreedyPropensities, selectEpsGreedy } from './eps-greedy';
import type { PolicyConfig } from './policy-config.schema';
import type { ScoredCandidates, Selection } from './policy-types';
import { randomPropensities, selectRandom } from './random-policy';
import { classLayout } from './score-classes';
import { scoreCandidates, scoreClassLayout } from './score-kernel';
import { activeRows, resolveSlateRequest, type ResolvedRequest, type SlateRequest } from './slate-request';
import { prepareSnapshotForWasm } from './score-moments.wasm';
import { inSlateProbability, propensityAt, type SlatePropensities } from './slate-propensities';
import {
  oneDrawRanks,
  selectInSlateTs,
  selectSlateTs,
  thompsonPropensities,
  usesOneDrawConditional,
} from './thompson-policies';
import { scanSpec, ThompsonTopK } from './thompson-sampler';

/** One served item. */
export interface ServedItem {
  /** Item index in the snapshot. */
  readonly index: number;
  /** External item id. */
  readonly itemId: string;
  /** 1-based position in the slate. */
  readonly position: number;
  /** The score the policy ranked by: sampled score (TS), mean (greedy, ε-greedy, random), mean + β·sd (UCB). */
  readonly score: number;
  /** P(policy puts this item at this position | model, user, candidates): exact or Monte Carlo. */
  readonly propensity: number;
  /** P(this item is anywhere in the slate). */
  readonly inSlateProbability: number;
}

/** A served slate with everything an impression log needs. */
export interface ServedSlate {
  readonly items: readonly ServedItem[];
  readonly policy: PolicyConfig;
  readonly modelVersion: string;
  /** Slate size asked for (`items.length` is smaller only when fewer valid candidates exist). */
  readonly requestedSize: number;
  /** Requested candidate indices skipped because the item is inactive (report them as warnings). */
  readonly inactiveCandidates: readonly number[];
  /**
   * 'exact' closed form, or 'monte_carlo' from `simulatedSlates` slates (slate_ts, and in_slate_ts of 1–32 items:
   * conditional Monte Carlo over the simulated slates and the served slate's own draws; otherwise counts, the served
   * slate included as one of them).
   */
  readonly propensityKind: 'exact' | 'monte_carlo';
  readonly simulatedSlates: number;
}

export interface ServeOptions {
  /** Also return the full (item × position) propensity matrix of this request. */
  readonly withMatrix?: boolean;
  /**
   * in_slate_ts and slate_ts: count where the served items landed in the simulated slates (the served slate one
   * more of them) instead of the conditional estimate (conditional-propensities.ts): the full matrix's numbers.
   * Tests and benchmarks compare the two.
   */
  readonly countedPropensities?: boolean;
}

/**
 * Score a resolved request: each candidate's score mean, variance and sd (one pass over the model).
 * The arrays may live in the kernel's scratch memory: use them before the next request.
 */
export function scoreRequest(snapshot: ServingSnapshot, req: ResolvedRequest): ScoredCandidates {
  return scoreCandidates(snapshot, req.user, req.rows, true);
}

/**
 * Everything serving computes once per snapshot: the SIMD kernel's layout, the classes of identical
 * items and the class layout of the whole catalogue. Call it when a model is swapped in, so that no
 * request pays for it (each is otherwise computed lazily by the first request that needs it).
 * `replaces`: a snapshot that will not be served again (a worker's previous one), whose memory this one
 * may take over.
 */
export function prepareSnapshotForServing(snapshot: ServingSnapshot, replaces?: ServingSnapshot): void {
  prepareSnapshotForWasm(snapshot, replaces);
  classLayout(snapshot, activeRows(snapshot), true);
}

/**
 * Score a request and build its Thompson sampler; the sampler's first pass over the candidates is
 * fused into the SIMD scoring pass (one pass over n instead of two). Candidates with bit-identical
 * posterior rows (items at their group's prior) are scored once per class and planned as one entry
 * (score-classes.ts) unless `classes` is false (tests compare both ways). The sampler draws `ranks`
 * (default the slate's k; one more for slate_ts's conditional propensities, see `oneDrawRanks`).
 */
export function scoreWithSampler(
  snapshot: ServingSnapshot,
  req: ResolvedRequest,
  classes = true,
  ranks = req.k,
): { sc: ScoredCandidates; sampler: ThompsonTopK } {
  const spec = scanSpec(req.rows.length, ranks);
  const fused = spec.collect ? { ...spec, k: ranks } : undefined;
  const layout = classes ? classLayout(snapshot, req.rows, req.rowsShared) : null;
  if (layout) {
    const sc = scoreClassLayout(snapshot, req.user, layout, req.rows, fused);
    const sampler = new ThompsonTopK(sc.mean, sc.sd, ranks, {
      shared: true,
      scan: sc.scan,
      classes: { start: layout.start },
    });
    return { sc, sampler };
  }
  const sc = scoreCandidates(snapshot, req.user, req.rows, true, fused);
  return { sc, sampler: new ThompsonTopK(sc.mean, sc.sd, ranks, { shared: true, scan: sc.scan }) };
}

function needsSampler(
  policy: PolicyConfig,
): policy is Extract<PolicyConfig, { name: 'in_slate_ts' | 'slate_ts' }> {
  return policy.name === 'in_slate_ts' || policy.name === 'slate_ts';
}

function select(
  policy: PolicyConfig,
  sc: ScoredCandidates,
  k: number,
  rng: Rng,
  sampler: ThompsonTopK | null,
): Selection {
  switch (policy.name) {
    case 'in_slate_ts':
      return selectInSlateTs(sampler!, k, rng);
    case 'slate_ts':
      return selectSlateTs(sampler!, k, rng);
    case 'greedy':
      return selectGreedy(sc, k);
    case 'ucb':
      return selectUcb(sc, k, policy.beta);
    case 'eps_greedy':
      return selectEpsGreedy(sc, k, policy.epsilon, rng);
    case 'random':
      return selectRandom(sc, k, rng);
  }
}

/** `servedRowsOnly`: only the served items' propensities will be read (see `thompsonPropensities`). */
function propensities(
  policy: PolicyConfig,
  sc: ScoredCandidates,
  k: number,
  rng: Rng,
  sampler: ThompsonTopK | null,
  served: Selection | null,
  servedRowsOnly = false,
  counted = false,
): SlatePropensities {
  switch (policy.name) {
    case 'in_slate_ts':
    case 'slate_ts':
      return thompsonPropensities(sc, sampler!, k, policy.name, policy.propensitySlates, rng, served?.cand, {
        servedOnly: servedRowsOnly,
        conditional: !counted,
        servedDraws: served?.draws,
        servedDraw: served?.draw,
      });
    case 'greedy':
      return deterministicPropensities(sc, served ?? selectGreedy(sc, k));
    case 'ucb':
      return deterministicPropensities(sc, served ?? selectUcb(sc, k, policy.beta));
    case 'eps_greedy':
      return epsGreedyPropensities(sc, k, policy.epsilon);
    case 'random':
      return randomPropensities(sc, k);
  }
}

/**
 * Serve one slate: the function the HTTP layer calls.
 *
 * Deterministic given `rng`'s seed: the slate uses `rng`, the Monte Carlo propensities a generator
 * forked from it afterwards. `policy` must come from `parsePolicyConfig`.
 * @throws PolicyInputError (bad request field), NoCandidatesError (nothing servable).
 */
export function serveSlate(
  snapshot: ServingSnapshot,
  policy: PolicyConfig,
  request: SlateRequest,
  rng: Rng,
  options: ServeOptions = {},
): ServedSlate & { matrix?: SlatePropensities } {
  const req = resolveSlateRequest(snapshot, request);
  const k = req.k;
  const servedOnly = options.withMatrix !== true;
  const counted = options.countedPropensities === true;
  // slate_ts (and in_slate_ts of one item, the same policy) with the one-draw conditional propensities: each draw,
  // the served one included, needs one rank more than the slate.
  const oneDraw = needsSampler(policy) && servedOnly && !counted && usesOneDrawConditional(policy.name, k);
  const { sc, sampler } = needsSampler(policy)
    ? scoreWithSampler(snapshot, req, true, oneDraw ? oneDrawRanks(k, req.rows.length) : k)
    : { sc: scoreRequest(snapshot, req), sampler: null };
  const sel = oneDraw ? selectSlateTs(sampler!, k, rng) : select(policy, sc, k, rng, sampler);
  const matrix = propensities(policy, sc, k, rng.fork(), sampler, sel, servedOnly, counted);
  const items: ServedItem[] = [];
  for (let j = 0; j < k; j++) {
    const index = sc.rows[sel.cand[j]];
    items.push({
      index,
      itemId: snapshot.itemIds[index],
      position: j + 1,
      score: sel.score[j],
      propensity: propensityAt(matrix, index, j),
      inSlateProbability: inSlateProbability(matrix, index),
    });
  }
  const out = {
    items,
    policy,
    modelVersion: snapshot.version,
    requestedSize: req.requestedSize,
    inactiveCandidates: req.inactiveCandidates,
    propensityKind: matrix.kind,
    simulatedSlates: matrix.simulatedSlates,
  };
  return options.withMatrix ? { ...out, matrix } : out;
}

/**
 * The full (item × position) propensity matrix of a request, for off-policy evaluation: exact for
 * greedy, UCB, ε-greedy and random; for the Thompson policies a Monte Carlo estimate from
 * `policy.propensitySlates` simulated slates (default 256) drawn with `rng` (exactly 1/n when every candidate has the
 * same score distribution).
 */
export function slatePropensities(
  snapshot: ServingSnapshot,
  policy: PolicyConfig,
  request: SlateRequest,
  rng: Rng,
): SlatePropensities {
  const req = resolveSlateRequest(snapshot, request);
  const { sc, sampler } = needsSampler(policy)
    ? scoreWithSampler(snapshot, req)
    : { sc: scoreRequest(snapshot, req), sampler: null };
  return propensities(policy, sc, req.k, rng, sampler, null);
}
