import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import {
  buildServingSnapshot,
  SnapshotMemory,
  FactorModel,
  foldInUser,
  userSystemOf,
  type ServingSnapshot,
  type UserSystem,
} from '../../core/model';
import { decodeLearningBatch } from '../../core/ingest/learning-log';
import { JoinBook, type Tombstone } from '../../core/ingest/join-book';
import { decodeBatchJournal, decodeJoinBookImage, type JournalClick } from '../../core/ingest/journal-codec';
import { prepareSnapshotForServing } from '../../core/policies/serve-slate';
import { APP_CONFIG, type AppConfig } from '../../config/config';
import type { ItemInput } from '../items/item';
import { ItemsRepository } from '../items/items.repository';
import { ItemsService } from '../items/items.service';
import { MetricsService } from '../metrics/metrics.service';
import { applyLearningUpdates, UserHistories } from './apply-updates';
import { ClickArchive, TombstoneArchive } from './click-archive';
import { ModelStateRepository } from './model-state.repository';
import { PosteriorSolver } from './posterior-solver';

export interface ModelInfo {
  version: string;
  dim: number;
  items: number;
  activeItems: number;
  users: number;
  builtAt: string;
}

/**
 * How long the join book keeps a closed join in memory (after a restart too: recent tombstones are loaded
 * from slate_tombstones): an impression whose event time is less than a window plus this ago is deduplicated
 * by memory alone.
 */
export const RECENT_TOMBSTONES_MS = 3_600_000;

/** Folded-in user vectors kept for serving at most (about 150 bytes each at d = 32). */
const FOLDED_CACHE = 200_000;

/**
 * Owns the learning state (a `FactorModel`) and the immutable `ServingSnapshot` that requests read.
 * Changes (catalogue, learning) mark the model stale; a rebuild runs within `MODEL_REFRESH_MS` and swaps the
 * snapshot reference in one assignment, so a request sees either the old model or the new one, never a mix,
 * and never waits for learning.
 */
@Injectable()
export class ModelService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ModelService.name);
  private model!: FactorModel;
  private snapshot!: ServingSnapshot;
  /**
   * The memory of replaced snapshots that no request holds any more, for the next ones: fresh shared memory
   * faults in a page per 4 KiB (8 ms of a rebuild at 10⁴ items, 86 ms at 10⁵, 1.2 s at 10⁶). A request holds
   * its snapshot from `acquire` to `release`, which covers the slate worker reading it.
   */
  private readonly snapshotMemory = new SnapshotMemory();
  /** Recent targets per user (fold-in), shared with the learning path; at most `FOLD_IN_USERS` users. */
  readonly histories: UserHistories;
  /**
   * Folded-in user vectors computed for serving, by user: valid while the user's history stamp and the user
   * system (rebuilt with each snapshot) are the ones they were computed with. Bounded (oldest dropped first).
   */
  private readonly folded = new Map<string, { stamp: number; system: UserSystem; x: Float32Array }>();
  /** The shared user system of the current snapshot's item means (null until someone has a history). */
  private userSystem: UserSystem | null = null;
  /** The learning path's join state (open joins and tombstones), restored with the model. */
  readonly joins: JoinBook;
  /** The click log, written behind the learning path. */
  readonly clickArchive: ClickArchive;
  /** The tombstones of closed slates, written behind the learning path. */
  readonly tombstoneArchive: TombstoneArchive;
  /** Id of the last learning-log batch applied to the in-memory model. */
  lastBatchId = 0;
  /** Last batch id covered by the newest checkpoint (0: none yet). */
  checkpointBatchId = 0;
  /**
   * The first batch whose journal the learning log still holds (a checkpoint deletes the ones it no longer
   * needs): a checkpoint can rebuild the open joins from the journals only if they start at or after it.
   */
  journalsFrom = 1;
  private builtAt = new Date(0);
  /** Active items of the current snapshot (counted once per rebuild). */
  private activeItems = 0;
  private timer?: NodeJS.Timeout;
  /** A change came while a rebuild was scheduled or running (the scheduled one may not include it). */
  private rebuildPending = false;
  /** How long the last rebuild took (spaces the next one under heavy learning). */
  private lastRebuildMs = 0;
  private readonly itemsGauge: Gauge;
  /** Re-solves item posteriors for rebuilds (worker thread or main thread, `MODEL_SOLVE_THREAD`). */
  private readonly solver: PosteriorSolver;
  private closing = false;
  /** The last posterior job's buffer, reused by the next one. */
  private jobBuffer?: Float64Array;
  /** Settles once the posterior job of the rebuild in progress is installed, abandoned or failed. */
  private jobInFlight?: Promise<void>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly items: ItemsRepository,
    private readonly itemsService: ItemsService,
    private readonly state: ModelStateRepository,
    metrics: MetricsService,
  ) {
    this.histories = new UserHistories(config.learning.foldInUsers);
    // Recent tombstones only: older ones are in slate_tombstones, read by the batches that need them.
    // Item ids are kept as the catalogue's own strings: the open slates' ids share a few thousand strings.
    this.joins = new JoinBook(RECENT_TOMBSTONES_MS, config.learning.recentTombstonesMax, (itemId) => {
      const i = this.model?.itemIndex.get(itemId);
      return i === undefined ? itemId : this.model.itemIds[i];
    });
    this.clickArchive = new ClickArchive(state);
    this.tombstoneArchive = new TombstoneArchive(state);
    this.solver = new PosteriorSolver(config.model.solveThread, (e) =>
      this.logger.error({ err: e, msg: 'posterior worker failed; solving on the main thread from now on' }),
    );
    const joins = this.joins;
    new Gauge({
      name: 'reco_learning_joins',
      help: 'Join book: slates waiting for clicks (open) and closed ones kept for the dedupe horizon.',
      labelNames: ['state'] as const,
      registers: [metrics.registry],
      collect() {
        this.set({ state: 'open' }, joins.openCount);
        this.set({ state: 'closed' }, joins.closedCount);
      },
    });
    const window = config.learning.joinWindowMs;
    new Gauge({
      name: 'reco_learning_join_window_seconds',
      help: 'How long the oldest open join has waited for clicks: JOIN_WINDOW_MS at most; less while JOIN_MEMORY_MB closes windows early (the window the learner really has), or after a start.',
      registers: [metrics.registry],
      collect() {
        const first = joins.firstDeadline();
        this.set(first === undefined ? 0 : Math.max(0, (Date.now() - (first - window)) / 1000));
      },
    });
    const joinMemory = config.learning.joinMemoryBytes;
    new Gauge({
      name: 'reco_learning_joins_bytes',
      help: 'Heap of the open joins, estimated (used), and what JOIN_MEMORY_MB allows (limit): past it the oldest windows close early.',
      labelNames: ['of'] as const,
      registers: [metrics.registry],
      collect() {
        this.set({ of: 'used' }, joins.openBytes);
        this.set({ of: 'limit' }, joinMemory);
      },
    });
    const histories = this.histories;
    new Gauge({
      name: 'reco_fold_in_users',
      help: 'Users whose recent targets are kept for fold-in (kept, at most FOLD_IN_USERS), and those dropped so far to stay within it (dropped).',
      labelNames: ['state'] as const,
      registers: [metrics.registry],
      collect() {
        this.set({ state: 'kept' }, histories.size);
        this.set({ state: 'dropped' }, histories.dropped);
      },
    });
    this.itemsGauge = new Gauge({
      name: 'reco_model_items',
      help: 'Items in the serving snapshot, by state.',
      labelNames: ['state'] as const,
      registers: [metrics.registry],
    });
  }

  /**
   * Start from the newest checkpoint (or an untrained model), add the catalogue, then replay the learning log
   * written after the checkpoint, batch by batch, exactly as it was applied live.
   */
  async onModuleInit(): Promise<void> {
    const checkpoint = await this.state.latestSnapshot();
    let model: FactorModel;
    if (checkpoint) {
      model = checkpoint.model;
      this.lastBatchId = checkpoint.lastBatchId;
      this.checkpointBatchId = checkpoint.lastBatchId;
    } else {
      model = FactorModel.create({ dim: this.config.model.dim });
      model.version = 'prior';
    }
    if (model.dim !== this.config.model.dim) {
      this.logger.warn({
        msg: `the stored model has d = ${model.dim}; MODEL_DIM = ${this.config.model.dim} is ignored until it is retrained`,
      });
    }
    for await (const page of this.items.listForModel()) {
      for (const it of page) this.upsertItem(model, it);
    }
    this.model = model; // (the join book interns item ids through its catalogue from here on)
    // The open joins: the checkpoint's image (or an older version's rows), else its journals (below).
    const joinsFrom = checkpoint?.joinsFrom ?? null;
    const image = checkpoint?.joins
      ? decodeJoinBookImage(checkpoint.joins)
      : joinsFrom === null
        ? await this.state.legacyJoins()
        : null;
    if (image) this.joins.load(image);
    this.joins.loadTombstones(await this.state.recentTombstones(Date.now() - RECENT_TOMBSTONES_MS));
    this.journalsFrom = joinsFrom ?? this.lastBatchId + 1;
    let replayed = 0;
    let rejoined = 0;
    const clicks: JournalClick[] = [];
    const tombstones: [string, Tombstone][] = [];
    const covered = this.lastBatchId;
    for await (const batch of this.state.logAfter(Math.min(this.journalsFrom, covered + 1) - 1)) {
      if (batch.batchId <= covered) {
        // Covered by the checkpoint (its updates, clicks and tombstones are stored): only its join changes.
        if (batch.journal) this.joins.apply(decodeBatchJournal(batch.journal).joins, batch.batchId);
        rejoined++;
        continue;
      }
      if (!batch.payload) throw new Error(`learning_log batch ${batch.batchId} has no updates`);
      const { updates } = decodeLearningBatch(batch.payload);
      applyLearningUpdates(model, this.histories, updates);
      if (batch.journal) {
        const journal = decodeBatchJournal(batch.journal);
        this.joins.apply(journal.joins, batch.batchId);
        for (const c of journal.clicks) clicks.push(c);
        for (const id of journal.joins.closed) {
          const st = this.joins.state(id);
          if (st?.kind === 'closed') tombstones.push([id, st.tombstone]);
        }
      }
      this.lastBatchId = batch.batchId;
      replayed++;
    }
    // The clicks of the replayed batches may not have reached the click log before a crash: write them now
    // (idempotent), so that the log and the dedupe check are complete before anything new is learned.
    await this.clickArchive.writeNow(clicks);
    // Likewise the tombstones of the slates they closed, in order (a slate closed twice ends with the later one).
    await this.tombstoneArchive.writeNow(tombstones);
    this.rebuild();
    this.logger.log({
      msg: 'model recovered',
      fromCheckpoint: checkpoint !== null,
      replayedBatches: replayed,
      journalsReplayedForJoins: rejoined,
      openJoins: this.joins.openCount,
    });
    this.itemsService.onChange((changed) => {
      for (const it of changed) this.upsertItem(this.model, it);
      this.model.generation++;
      this.scheduleRebuild();
    });
    this.logger.log({ msg: 'model ready', ...this.info() });
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    clearTimeout(this.timer);
    await this.solver.close();
  }

  /**
   * Exposure propensity of an organic click on item i: the popularity propensity recorded by the last batch
   * training (`meta.notes.organicPropensity`), else 1. Frozen between trainings on purpose (exactly-once).
   */
  organicPropensity(i: number): number {
    const p = (this.model.meta.notes as { organicPropensity?: number[] } | undefined)?.organicPropensity;
    const v = p?.[i];
    return typeof v === 'number' && v > 0 && v <= 1 ? v : 1;
  }

  /** The learning state. Only the learning path mutates it, one batch at a time. */
  learningModel(): FactorModel {
    return this.model;
  }

  /**
   * The snapshot to serve from, for use within this turn of the event loop: once it is replaced, its means and
   * variances may be reused for a later snapshot. A request that reads them later (on a slate worker) takes it
   * with `acquire` instead.
   */
  current(): ServingSnapshot {
    return this.snapshot;
  }

  /**
   * The snapshot to serve from, held until `release(it)`: its arrays stay as they are however many rebuilds
   * come meanwhile. Read it once per request and use that reference throughout.
   */
  acquire(): ServingSnapshot {
    const s = this.snapshot;
    this.snapshotMemory.hold(s);
    return s;
  }

  /** Give back a snapshot from `acquire` (exactly once). */
  release(snapshot: ServingSnapshot): void {
    this.snapshotMemory.letGo(snapshot);
  }

  /** Snapshots whose memory is not reused yet (the current one, and replaced ones still held), buffers reused. */
  snapshotMemoryStats(): { live: number; recycled: number } {
    return { live: this.snapshotMemory.live, recycled: this.snapshotMemory.recycled };
  }

  info(): ModelInfo {
    const s = this.snapshot;
    return {
      version: s.version,
      dim: s.dim,
      items: s.itemIds.length,
      activeItems: this.activeItems,
      users: s.users.size,
      builtAt: this.builtAt.toISOString(),
    };
  }

  /**
   * The vector to serve user `userId` with: folded in from their recent targets when they have any (against
   * the item means of the last rebuild, computed on first use and cached until their history or the snapshot
   * changes: O(history·d + d²) for the usual unit weights), else their trained vector, else undefined (the
   * population prior).
   */
  servingUser(snap: ServingSnapshot, userId: string): Float32Array | undefined {
    const h = this.histories.get(userId);
    const system = this.userSystem;
    if (!h || !system) return snap.users.get(userId);
    const hit = this.folded.get(userId);
    if (hit && hit.stamp === h.stamp && hit.system === system) return hit.x;
    const x = Float32Array.from(foldInUser(this.model, h, undefined, { refresh: false, system }));
    if (hit)
      this.folded.delete(userId); // re-inserted last: the map's order is the eviction order
    else if (this.folded.size >= FOLDED_CACHE) this.folded.delete(this.folded.keys().next().value!);
    this.folded.set(userId, { stamp: h.stamp, system, x });
    return x;
  }

  /**
   * Build the next snapshot with the posterior re-solves detached from the model (`takePosteriorJob`) and run
   * by the solver: on its worker thread, or on this one in slices between turns of the event loop
   * (`MODEL_SOLVE_THREAD`), so that a request or a learning batch never waits behind a whole rebuild. The items
   * stale when it starts are re-solved; items that turn stale meanwhile wait for the next.
   */
  private async rebuildDetached(): Promise<void> {
    const model = this.model;
    const started = performance.now();
    try {
      await this.solveStaleDetached();
    } catch (e) {
      this.rebuildPending = !this.closing; // its items are stale again, for the next rebuild
      throw e;
    }
    this.swap(buildServingSnapshot(model, { refresh: false, memory: this.snapshotMemory }));
    // The solves' time counts towards the spacing of rebuilds on whichever thread they ran: on a worker they still
    // take a core that PostgreSQL, Kafka and the other requests share.
    this.lastRebuildMs = performance.now() - started;
    if (model.dirtyCount > 0) this.rebuildPending = true;
  }

  /**
   * Re-solve the posteriors of the items stale now as one job (`takePosteriorJob`) run by the solver, and install
   * it. On failure the job's items are stale again and this rejects. One job at a time: a call waits for the job
   * in flight first.
   */
  private async solveStaleDetached(): Promise<void> {
    await this.jobInFlight;
    const model = this.model;
    const job = model.takePosteriorJob(Infinity, this.jobBuffer);
    if (!job) return;
    this.jobBuffer = undefined; // it belongs to the job now (and may move to the worker)
    let settle!: () => void;
    const inFlight = (this.jobInFlight = new Promise<void>((r) => (settle = r)));
    try {
      let res;
      try {
        res = await this.solver.solve(job);
      } catch (e) {
        model.abandonPosteriorJob(job); // solved nowhere: its items are stale again
        throw e;
      }
      this.jobBuffer = res.data && new Float64Array(res.data.buffer as ArrayBuffer); // its whole memory
      const failed = model.applyPosteriorJob(job, res);
      if (failed.length)
        this.logger.error({
          msg: 'posterior precision not positive definite (corrupted statistics?); previous posteriors kept',
          items: failed.slice(0, 10),
          count: failed.length,
        });
    } finally {
      settle();
      if (this.jobInFlight === inFlight) this.jobInFlight = undefined;
    }
  }

  /**
   * Solve every stale posterior off the serving thread (the solver's thread, `MODEL_SOLVE_THREAD`): waits for a
   * rebuild's job in flight, then runs the items still stale as a job of their own. A checkpoint calls it before it
   * encodes the model, which refreshes every stale posterior: otherwise it took a job's items back and solved them,
   * and every other stale item, on the serving thread (≈ 0.1 s for 10^4 items at d = 32), while the job's
   * solution was thrown away. A failed solve leaves the items stale: the checkpoint then solves them itself.
   */
  async solveStale(): Promise<void> {
    await this.solveStaleDetached().catch(() => undefined);
  }

  /** Build the next snapshot now, in one go (start-up, tests; learning goes through `scheduleRebuild`). */
  rebuild(): void {
    const started = performance.now();
    this.swap(buildServingSnapshot(this.model, { memory: this.snapshotMemory }));
    this.lastRebuildMs = performance.now() - started;
  }

  private swap(next: ServingSnapshot): void {
    // The user system of these means, for fold-in at serving time (built here so that no request pays for it).
    if (this.histories.size) this.userSystem = userSystemOf(this.model, false);
    // Lay the snapshot out for the SIMD scorer and find its classes of identical items before it serves,
    // so no request pays for it; with slate workers they do it themselves (a request that falls back to this
    // thread prepares it then).
    if (this.config.serving.threads === 0) prepareSnapshotForServing(next);
    const previous = this.snapshot;
    this.snapshot = next;
    if (previous) this.snapshotMemory.retire(previous);
    this.builtAt = new Date();
    let active = 0;
    for (let i = 0; i < next.active.length; i++) active += next.active[i];
    this.activeItems = active;
    this.itemsGauge.set({ state: 'active' }, active);
    this.itemsGauge.set({ state: 'inactive' }, next.itemIds.length - active);
  }

  /**
   * Rebuild within `MODEL_REFRESH_MS`, or, when rebuilds have become expensive (a large catalogue under
   * constant learning re-solves every touched item's posterior each time), no sooner than three times the last
   * rebuild's duration after the change, so that rebuilding takes at most about a quarter of the thread that
   * also learns and serves; never later than 1 s.
   */
  scheduleRebuild(): void {
    if (this.timer) {
      this.rebuildPending = true; // a change during a rebuild: another one follows it
      return;
    }
    const refresh = this.config.model.refreshMs;
    const delay = Math.min(Math.max(refresh, 3 * this.lastRebuildMs), Math.max(refresh, 1000));
    this.timer = setTimeout(() => {
      this.rebuildDetached()
        .catch((e: unknown) => {
          if (!this.closing)
            this.logger.error({ err: e }, 'model rebuild failed; serving the previous snapshot');
        })
        .finally(() => {
          this.timer = undefined;
          if (this.rebuildPending) {
            this.rebuildPending = false;
            this.scheduleRebuild();
          }
        });
    }, delay);
  }

  private upsertItem(model: FactorModel, it: Pick<ItemInput, 'id' | 'group' | 'active'>): void {
    model.setActive(model.addItem(it.id, it.group, it.active), it.active);
  }
}
