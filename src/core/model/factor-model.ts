import { estimateGroupPriors, globalPriors } from './group-prior';
import { grow, ItemStats } from './item-stats';
import { type ModelConfig, type ModelConfigInput, parseModelConfig } from './model-config';
import { itemPosterior, SolveWorkspace } from './posterior';
import { jobStride, type PosteriorJob, type PosteriorResult } from './posterior-job';
import { ModelInputError } from './errors';
import { popularityPropensity } from '../propensity/popularity';

/** Where the propensities used for training came from; recorded with the model (JSON). */
export interface PropensityRecord {
  /** e.g. 'popularity', 'position', 'file', 'none'. */
  source: string;
  /** Popularity exponent η, when source is popularity. */
  eta?: number;
  /** Lower clip applied to the propensities. */
  clipMin?: number;
  /** Examination probability by position (index 0 = position 1), when a position-based model is used. */
  examination?: number[];
  /** How the examination curve was estimated ('regression_em', 'randomised', ...). */
  examinationMethod?: string;
}

/** Free-form, JSON-serialisable facts about how the model was learned. */
export interface ModelMeta {
  propensity: PropensityRecord | null;
  trainedAt?: string;
  epochs?: number;
  /** Anything else worth keeping with the model version (hyperparameter search results, data hash, ...). */
  notes?: Record<string, unknown>;
}

export interface ItemSpec {
  id: string;
  /** Group id for the hierarchical prior; null or absent for the global prior. */
  group?: string | null;
  active?: boolean;
}

/**
 * The mutable state of a factor model: items with Gaussian posteriors backed by additive statistics, group
 * priors, user point estimates. Learners (`train/als.ts`, `model/online.ts`) change it; serving never reads it
 * directly but through an immutable `ServingSnapshot` (`serving.ts`).
 *
 * Layout: item k's posterior mean and marginal variances are `itemMean/itemVar[k·n .. k·n + n)` with
 * n = d + 1 (factors, then bias), matching the snapshot's stride. User u's factors are `userVec[u·d ..)`.
 * Posteriors are refreshed lazily: statistics change in O(d²) per event and the item is marked dirty;
 * `refreshPosteriors()` re-solves only dirty items (once per batch, not per event).
 */
export class FactorModel {
  readonly config: ModelConfig;
  readonly dim: number;
  /** d + 1. */
  readonly n: number;
  /** Opaque version label (set by whoever trains or loads the model). */
  version = 'untrained';
  /** Incremented by every change of learned state (training, online batch); part of the snapshot version. */
  generation = 0;
  meta: ModelMeta = { propensity: null };

  readonly itemIds: string[] = [];
  readonly itemIndex = new Map<string, number>();
  itemGroup: Int32Array = new Int32Array(0);
  itemActive: Uint8Array = new Uint8Array(0);
  readonly groupIds: string[] = [];
  readonly groupIndex = new Map<string, number>();
  stats: ItemStats;
  /** Prior means/variances per slot: slot 0 global, slot g+1 group g; n numbers each. */
  priorMean: Float64Array;
  priorVar: Float64Array;
  itemMean: Float64Array = new Float64Array(0);
  itemVar: Float64Array = new Float64Array(0);

  readonly userIds: string[] = [];
  readonly userIndex = new Map<string, number>();
  userVec: Float64Array = new Float64Array(16);
  /** Population mean of user vectors: the vector of a user with no estimate and no history. */
  defaultUser: Float64Array;
  /**
   * Bumped whenever a user's vector may have changed: `addUser`, `setUserVector`, and `userVectorsChanged` for
   * whoever writes into `userVec` directly (a batch trainer, a decoder). Online learning never changes them, so
   * serving snapshots share their users while it is unchanged (`buildServingSnapshot`).
   */
  private userStampValue = 0;
  /** The user stamp a checkpoint last took (`takeUsersChanged`); −1: the users are not stored yet. */
  private usersTaken = -1;
  /** Items whose ids a checkpoint has taken (`takeItemIdsFrom`): items are only appended, and ids never change. */
  private itemIdsTaken = 0;

  private dirty: Uint8Array = new Uint8Array(0);
  private dirtyList: number[] = [];
  /**
   * Items whose stored form (statistics, posterior, group, active flag) changed since a checkpoint last took
   * them (`takeChangedPages`): a checkpoint writes only their pages. Every write of an item's arrays marks it.
   */
  private changed: Uint8Array = new Uint8Array(0);
  // Jobs taken and not yet applied or abandoned, with a copy of their items (a job's own may move to a worker).
  // Every in-place solve takes them all back: a job no longer here is older than its items' posteriors.
  private readonly detached = new Map<PosteriorJob, Int32Array>();
  private readonly ws: SolveWorkspace;

  constructor(config: ModelConfig) {
    this.config = config;
    this.dim = config.dim;
    this.n = config.dim + 1;
    this.stats = new ItemStats(this.dim, 0);
    const p = globalPriors(config, 0);
    this.priorMean = p.mean;
    this.priorVar = p.variance;
    this.defaultUser = new Float64Array(this.dim);
    this.ws = new SolveWorkspace(this.n);
  }

  /** A new, untrained model with the given items (each starting at its group's prior) and users (at 0). */
  static create(
    config: ModelConfigInput | ModelConfig,
    opts: { items?: ItemSpec[]; users?: string[] } = {},
  ): FactorModel {
    const m = new FactorModel(parseModelConfig(config));
    m.reserve(opts.items?.length ?? 0, opts.users?.length ?? 0);
    for (const it of opts.items ?? []) m.addItem(it.id, it.group ?? null, it.active ?? true);
    for (const u of opts.users ?? []) m.addUser(u);
    return m;
  }

  /** Pre-allocate for this many items and users (avoids repeated growth; see `ItemStats.reserve`). */
  reserve(items: number, users: number): void {
    const n = this.n;
    if (items > this.itemGroup.length) {
      this.itemGroup = grow(this.itemGroup, items);
      this.itemActive = grow(this.itemActive, items);
      this.dirty = grow(this.dirty, items);
      this.changed = grow(this.changed, items);
      this.itemMean = grow(this.itemMean, items * n);
      this.itemVar = grow(this.itemVar, items * n);
    }
    this.stats.reserve(items);
    this.userVec = grow(this.userVec, users * this.dim);
  }

  get numItems(): number {
    return this.itemIds.length;
  }
  get numUsers(): number {
    return this.userIds.length;
  }
  get numGroups(): number {
    return this.groupIds.length;
  }

  /** Index of a group, creating it (with the global prior) if new. */
  addGroup(id: string): number {
    const known = this.groupIndex.get(id);
    if (known !== undefined) return known;
    const g = this.groupIds.length;
    this.groupIds.push(id);
    this.groupIndex.set(id, g);
    const n = this.n;
    this.priorMean = grow(this.priorMean, (g + 2) * n);
    this.priorVar = grow(this.priorVar, (g + 2) * n);
    for (let k = 0; k < n; k++) {
      this.priorMean[(g + 1) * n + k] = this.priorMean[k];
      this.priorVar[(g + 1) * n + k] = this.priorVar[k];
    }
    return g;
  }

  /**
   * Index of an item, adding it if new. A new item has zero statistics, so its posterior is its group's prior
   * (or the global prior): wide, and therefore explored by Thompson sampling.
   */
  addItem(id: string, group: string | null = null, active = true): number {
    if (typeof id !== 'string' || id.length === 0)
      throw new ModelInputError('itemId', 'must be a non-empty string');
    const known = this.itemIndex.get(id);
    if (known !== undefined) return known;
    const i = this.itemIds.length;
    const g = group === null ? -1 : this.addGroup(group);
    const n = this.n;
    this.itemIds.push(id);
    this.itemIndex.set(id, i);
    if (i >= this.itemGroup.length) {
      const c = Math.max(16, i + 1, this.itemGroup.length * 2);
      this.itemGroup = grow(this.itemGroup, c);
      this.itemActive = grow(this.itemActive, c);
      this.dirty = grow(this.dirty, c);
      this.changed = grow(this.changed, c);
      this.itemMean = grow(this.itemMean, c * n);
      this.itemVar = grow(this.itemVar, c * n);
    }
    this.itemGroup[i] = g;
    this.itemActive[i] = active ? 1 : 0;
    this.changed[i] = 1;
    this.stats.ensureSize(i + 1);
    const po = (g + 1) * n;
    for (let k = 0; k < n; k++) {
      this.itemMean[i * n + k] = this.priorMean[po + k];
      this.itemVar[i * n + k] = this.priorVar[po + k];
    }
    this.generation++;
    return i;
  }

  /** Index of a user, adding it (with vector `vec`, or zeros) if new; an existing user's vector is replaced if given. */
  addUser(id: string, vec?: ArrayLike<number>): number {
    if (typeof id !== 'string' || id.length === 0)
      throw new ModelInputError('userId', 'must be a non-empty string');
    let u = this.userIndex.get(id);
    if (u === undefined) {
      u = this.userIds.length;
      this.userIds.push(id);
      this.userIndex.set(id, u);
      this.userStampValue++;
      if ((u + 1) * this.dim > this.userVec.length)
        this.userVec = grow(this.userVec, Math.max((u + 1) * this.dim, this.userVec.length * 2));
    }
    if (vec) this.setUserVector(u, vec);
    return u;
  }

  /** Replace user u's factors (length d, finite). */
  setUserVector(u: number, vec: ArrayLike<number>): void {
    if (vec.length !== this.dim)
      throw new ModelInputError('userVector', `must have length ${this.dim}, got ${vec.length}`);
    for (let k = 0; k < this.dim; k++) {
      if (!Number.isFinite(vec[k])) throw new ModelInputError(`userVector[${k}]`, 'must be finite');
      this.userVec[u * this.dim + k] = vec[k];
    }
    this.userStampValue++;
  }

  /** See `userStamp`: call after writing user vectors into `userVec` directly. */
  userVectorsChanged(): void {
    this.userStampValue++;
  }

  /** Changes whenever a user vector may have (see `userVectorsChanged`); equal stamps, equal vectors. */
  get userStamp(): number {
    return this.userStampValue;
  }

  /**
   * Whether any user changed since the last call (a checkpoint then writes the user pages); the users count as
   * unchanged from now on (a checkpoint that fails gives them back with `markUsersChanged`).
   */
  takeUsersChanged(): boolean {
    const changed = this.usersTaken !== this.userStampValue;
    this.usersTaken = this.userStampValue;
    return changed;
  }

  /** The next checkpoint writes the users again (this one failed). */
  markUsersChanged(): void {
    this.usersTaken = -1;
  }

  /** The users are as stored (a model just read from its user pages). */
  clearUsersChanged(): void {
    this.usersTaken = this.userStampValue;
  }

  /**
   * The first item whose id no checkpoint has taken (the number of items when every id was), for a checkpoint
   * to write the ids from there; every id counts as taken from now on (a checkpoint that fails gives them
   * back with `markItemIdsUntaken`).
   */
  takeItemIdsFrom(): number {
    const from = this.itemIdsTaken;
    this.itemIdsTaken = this.numItems;
    return from;
  }

  /** The ids of items `from` onwards are to be written again (the checkpoint that took them failed). */
  markItemIdsUntaken(from: number): void {
    this.itemIdsTaken = Math.min(this.itemIdsTaken, from);
  }

  /** Every item id is as stored (a model just read from its item id pages). */
  clearItemIdsTaken(): void {
    this.itemIdsTaken = this.numItems;
  }

  /** User u's factors (a view, not a copy). */
  userVector(u: number): Float64Array {
    return this.userVec.subarray(u * this.dim, (u + 1) * this.dim);
  }

  /** Whether item i is served (an inactive item is kept, and learned, but never served). */
  setActive(i: number, active: boolean): void {
    const v = active ? 1 : 0;
    if (this.itemActive[i] === v) return;
    this.itemActive[i] = v;
    this.changed[i] = 1;
  }

  /**
   * The pages (of `pageItems` items) holding an item changed since the last call, ascending; their items count
   * as unchanged from now on (a checkpoint that fails gives them back with `markPagesChanged`).
   */
  takeChangedPages(pageItems: number): number[] {
    const pages: number[] = [];
    const ni = this.numItems;
    const changed = this.changed;
    for (let p = 0; p * pageItems < ni; p++) {
      const end = Math.min(ni, (p + 1) * pageItems);
      let any = false;
      for (let i = p * pageItems; i < end && !any; i++) any = changed[i] !== 0;
      if (any) {
        pages.push(p);
        changed.fill(0, p * pageItems, end);
      }
    }
    return pages;
  }

  /** Mark every item of these pages changed (a checkpoint that took them and failed). */
  markPagesChanged(pages: readonly number[], pageItems: number): void {
    for (const p of pages) this.changed.fill(1, p * pageItems, Math.min(this.numItems, (p + 1) * pageItems));
  }

  /** Mark every item unchanged (a model just loaded from the pages it was stored in). */
  clearChanged(): void {
    this.changed.fill(0);
  }

  /** Mark an item's posterior stale (its statistics or its prior changed). */
  markDirty(i: number): void {
    this.changed[i] = 1;
    if (this.dirty[i] === 0) {
      this.dirty[i] = 1;
      this.dirtyList.push(i);
    }
  }

  /** Number of items whose posterior is stale. */
  get dirtyCount(): number {
    return this.dirtyList.length;
  }

  /** Items whose posterior is not solved from their current statistics: stale, or in a job still out. */
  get staleCount(): number {
    let out = 0;
    for (const items of this.detached.values()) out += items.length;
    return this.dirtyList.length + out;
  }

  /**
   * Re-solve the posteriors of stale items only. Returns how many were solved. Items of jobs still out count as
   * stale: they are solved here, so that afterwards every posterior is fresh (the jobs, then older than this
   * solve, are not installed: see `applyPosteriorJob`).
   */
  refreshPosteriors(limit = Infinity): number {
    for (const items of this.detached.values()) for (const i of items) this.markDirty(i);
    this.detached.clear();
    const list = this.dirtyList;
    const count = Math.min(limit, list.length);
    for (let j = 0; j < count; j++) {
      const i = list[j];
      this.solveItem(i);
      this.dirty[i] = 0;
    }
    // At most `limit` items at a time (a caller spreading a large refresh over several turns of its loop).
    this.dirtyList = count === list.length ? [] : list.slice(count);
    return count;
  }

  /** Re-solve every item's posterior (after a prior change or a load). */
  refreshAll(): void {
    for (let i = 0; i < this.numItems; i++) this.solveItem(i);
    this.dirty.fill(0);
    this.dirtyList = [];
    this.detached.clear(); // their items are solved: the jobs, now older, will not be installed
  }

  /**
   * Detach the re-solves of up to `limit` stale items as a job (see `PosteriorJob`) that any thread can run;
   * those items count as fresh from now on, so an update after this call makes them stale again. Give the
   * result back to `applyPosteriorJob`. Null when nothing is stale. `reuse`: an earlier job's `data` to copy into
   * (when its size fits), instead of allocating.
   */
  takePosteriorJob(limit = Infinity, reuse?: Float64Array): PosteriorJob | null {
    const list = this.dirtyList;
    const count = Math.min(limit, list.length);
    if (count === 0) return null;
    const n = this.n;
    const ps = this.stats.psize;
    const stride = jobStride(n);
    const items = new Int32Array(count);
    // Reusing the last job's buffer spares the page faults of a fresh one (tens of MB for 10^4 items at d = 32): also
    // when it is larger than needed (rebuilds and checkpoints take jobs of different sizes in turn; dropping the
    // larger buffer for a smaller job made the next large one fault all its memory again: ≈ 150–200 ms for 8,000
    // items), unless both over 64 MiB and 8 times larger, so that the memory of a one-off bulk job is let go.
    // A buffer that is too small is replaced by one a quarter larger than the job, so that jobs growing a little
    // at a time (a rebuild's, under learning) do not fault fresh memory at every step.
    const need = count * stride;
    const data =
      reuse && reuse.length >= need && reuse.length <= Math.max(8 * need, 8 << 20)
        ? reuse.subarray(0, need)
        : new Float64Array(reuse && reuse.length < need ? Math.ceil(need * 1.25) : need).subarray(0, need);
    const { xx, xy } = this.stats;
    for (let j = 0; j < count; j++) {
      const i = list[j];
      items[j] = i;
      this.dirty[i] = 0;
      const o = j * stride;
      data.set(xx.subarray(i * ps, (i + 1) * ps), o);
      data.set(xy.subarray(i * n, (i + 1) * n), o + ps);
      const po = (this.itemGroup[i] + 1) * n;
      data.set(this.priorMean.subarray(po, po + n), o + ps + n);
      data.set(this.priorVar.subarray(po, po + n), o + ps + 2 * n);
    }
    this.dirtyList = count === list.length ? [] : list.slice(count);
    const job = { n, noiseVar: this.config.noiseVar, items, data };
    this.detached.set(job, items.slice());
    return job;
  }

  /** A job that will never be applied (its thread failed): its items are stale again. */
  abandonPosteriorJob(job: PosteriorJob): void {
    const items = this.detached.get(job);
    if (!items) return; // already reclaimed by an in-place refresh
    this.detached.delete(job);
    for (const i of items) this.markDirty(i);
  }

  /**
   * Install a job's solutions. Returns the items whose precision was not positive definite (their previous
   * posterior stays; with non-negative weights this only happens on corrupted statistics). A job whose items an
   * in-place solve took back meanwhile (`refreshAll`, `refreshPosteriors`) is older than their posteriors: it is
   * dropped, as those items are already solved, or stale and to be solved, from their current statistics.
   */
  applyPosteriorJob(job: PosteriorJob, res: PosteriorResult): string[] {
    const n = this.n;
    const failed: string[] = [];
    if (!this.detached.delete(job)) return failed; // taken back by an in-place solve (or abandoned)
    for (let j = 0; j < res.items.length; j++) {
      const i = res.items[j];
      if (i >= this.numItems) continue;
      if (res.failed[j]) failed.push(this.itemIds[i]);
      else {
        this.itemMean.set(res.mean.subarray(j * n, (j + 1) * n), i * n);
        this.itemVar.set(res.variance.subarray(j * n, (j + 1) * n), i * n);
        this.changed[i] = 1;
      }
    }
    return failed;
  }

  private solveItem(i: number): void {
    this.changed[i] = 1;
    const n = this.n;
    const slot = this.itemGroup[i] + 1;
    const ok = itemPosterior(
      this.stats,
      i,
      this.priorMean,
      this.priorVar,
      slot * n,
      this.config.noiseVar,
      this.itemMean,
      this.itemVar,
      i * n,
      this.ws,
    );
    // With non-negative weights the precision is ≥ the prior's, so this only fails on corrupted statistics.
    if (!ok) throw new Error(`item ${this.itemIds[i]}: posterior precision is not positive definite`);
  }

  /**
   * Empirical-Bayes update of the group priors from the current posteriors (see `group-prior.ts`), then
   * re-solve every item under its new prior. `iterations` alternations of the two.
   */
  reestimateGroupPriors(iterations = 1): void {
    if (this.numGroups === 0) return;
    for (let t = 0; t < iterations; t++) {
      estimateGroupPriors(
        this.config,
        this.numGroups,
        this.numItems,
        this.itemGroup,
        this.stats.count,
        this.itemMean,
        this.itemVar,
        this.priorMean,
        this.priorVar,
      );
      this.refreshAll();
    }
    this.generation++;
  }

  /**
   * Popularity propensity of every item for organic clicks (Saito et al.): θ_i = (n_i / max n)^η, clipped below,
   * with n_i the item's positive events in the statistics (so it is learned and stored with the model).
   */
  popularityPropensity(eta = 0.5, clipMin = 1e-3): Float64Array {
    return popularityPropensity(this.stats.positives.subarray(0, this.numItems), eta, clipMin);
  }

  /** Set the default user vector to the mean of the known users' vectors. */
  updateDefaultUser(): void {
    const d = this.dim;
    this.defaultUser.fill(0);
    const nu = this.numUsers;
    if (nu === 0) return;
    for (let u = 0; u < nu; u++) for (let k = 0; k < d; k++) this.defaultUser[k] += this.userVec[u * d + k];
    for (let k = 0; k < d; k++) this.defaultUser[k] /= nu;
  }

  /** Posterior mean score x·v_i + b_i for user vector x (d numbers at x[xoff ..]). */
  score(x: ArrayLike<number>, xoff: number, item: number): number {
    const n = this.n;
    const o = item * n;
    let s = this.itemMean[o + n - 1];
    for (let k = 0; k < n - 1; k++) s += x[xoff + k] * this.itemMean[o + k];
    return s;
  }
}
