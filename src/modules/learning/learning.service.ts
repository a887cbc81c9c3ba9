import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { estimatorTarget, type EstimatorConfig } from '../../core/estimators';
import { encodeLearningBatch, type LearningUpdate } from '../../core/ingest/learning-log';
import { encodeModelPages, PAGE_ITEMS } from '../../core/model';
import { ThrottledCount } from '../../common/logging/throttled-count';
import { APP_CONFIG, type AppConfig } from '../../config/config';
import type { ClickEvent, ImpressionEvent, RecoEvent } from '../../messaging/event.schema';
import { MetricsService } from '../metrics/metrics.service';
import { applyLearningUpdates, UserVectors } from '../model/apply-updates';
import type { JoinEntry, JoinTx } from '../../core/ingest/join-book';
import { ModelStateRepository, type OffsetCommit } from '../model/model-state.repository';
import { encodeBatchJournal, encodeOpenJoinsInSteps } from '../../core/ingest/journal-codec';
import { ModelService } from '../model/model.service';

/** A deadline after every join window (9999-12-31; PostgreSQL's timestamptz ends in year 294276). */
const END_OF_TIME_MS = Date.UTC(9999, 11, 31);
/** A timer's checkpoint waits at least this many times the last checkpoint's duration after it. */
const CHECKPOINT_SPACING = 9;
/** Join windows closed per batch at most (a backlog of due windows closes over several batches). */
const CLOSE_LIMIT = 5000;
/** Windows closed early (JOIN_MEMORY_MB) are logged at most this often. */
const EARLY_WARN_MS = 60_000;

export type EventOutcome =
  { status: 'accepted' } | { status: 'duplicate' } | { status: 'rejected'; reason: string; field?: string };

export interface BatchResult {
  outcomes: EventOutcome[];
  learned: number;
  updates: number;
  batchId: number | null;
  /** Join windows this batch closed. */
  closedJoins: number;
}

/**
 * The one learning pipeline, for Kafka and HTTP alike: each batch is deduplicated, joined and turned into
 * learning updates inside ONE PostgreSQL transaction that also records the event ids, the updates (learning
 * log) and the consumer offsets. Only after the commit does the in-memory model change. Batches run one at a
 * time. See docs/exactly-once.md.
 */
@Injectable()
export class LearningService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(LearningService.name);
  private chain: Promise<unknown> = Promise.resolve();
  private closeTimer?: NodeJS.Timeout;
  private checkpointTimer?: NodeJS.Timeout;
  private readonly events: Counter;
  private readonly freshness: Histogram;
  private readonly batchSize: Histogram;
  private readonly batchSeconds: Histogram;
  private readonly closedEarly: Counter;
  /** Windows closed early, logged at most once every EARLY_WARN_MS. */
  private readonly earlyWarning = new ThrottledCount(EARLY_WARN_MS);
  /** The timer's run of closing batches, if one is going on. */
  private closing?: Promise<void>;
  private destroyed = false;
  /** The checkpoint being written, if any. */
  private checkpointing?: Promise<void>;
  /**
   * The memory the last checkpoint's model was encoded into, reused by the next (checkpoints run one at a time,
   * and a write is done with it before the next cut): copying into fresh memory costs a page fault every 4 KB.
   */
  private checkpointBuffer?: ArrayBuffer;
  /** When the last checkpoint was written, and how long it took from its cut. */
  private lastCheckpoint = { endedAt: 0, ms: 0 };
  /** The user vectors of the batch being learned (batches run one at a time). */
  private vectors?: UserVectors;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly state: ModelStateRepository,
    private readonly models: ModelService,
    metrics: MetricsService,
  ) {
    this.events = new Counter({
      name: 'reco_events_total',
      help: 'Events by source and outcome (learned, duplicate, rejected, dead_lettered).',
      labelNames: ['source', 'outcome'] as const,
      registers: [metrics.registry],
    });
    this.freshness = new Histogram({
      name: 'reco_learning_freshness_seconds',
      help: 'Event time to learned-and-committed (the serving snapshot follows within MODEL_REFRESH_MS).',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: [metrics.registry],
    });
    this.batchSize = new Histogram({
      name: 'reco_learning_batch_events',
      help: 'Events per learning batch (one transaction).',
      buckets: [1, 10, 100, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000],
      registers: [metrics.registry],
    });
    this.closedEarly = new Counter({
      name: 'reco_joins_closed_early_total',
      help: 'Join windows closed before their deadline because the open ones reached JOIN_MEMORY_MB.',
      registers: [metrics.registry],
    });
    this.batchSeconds = new Histogram({
      name: 'reco_learning_batch_seconds',
      help: 'Time to learn and commit one batch.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [metrics.registry],
    });
  }

  onApplicationBootstrap(): void {
    const tick = Math.min(5000, Math.max(250, Math.floor(this.config.learning.joinWindowMs / 4)));
    this.closeTimer = setInterval(() => {
      if (this.closing) return;
      // A backlog of due windows closes batch after batch (other batches queue between them), not one batch
      // of CLOSE_LIMIT per tick.
      this.closing = (async () => {
        while ((await this.learn([], 'timer')).closedJoins >= CLOSE_LIMIT && !this.destroyed);
      })()
        .catch((e: unknown) => this.logger.warn({ err: e }, 'closing join windows failed'))
        .finally(() => (this.closing = undefined));
    }, tick);
    this.closeTimer.unref();
    this.checkpointTimer = setInterval(() => {
      // A slow checkpoint (a large model) spaces the next ones out: at most a tenth of the time is spent in them.
      if (Date.now() - this.lastCheckpoint.endedAt < CHECKPOINT_SPACING * this.lastCheckpoint.ms) return;
      this.checkpoint().catch((e: unknown) => this.logger.warn({ err: e }, 'checkpoint failed'));
    }, this.config.learning.checkpointIntervalMs);
    this.checkpointTimer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.destroyed = true;
    clearInterval(this.closeTimer);
    clearInterval(this.checkpointTimer);
    await this.closing;
    await this.chain.catch(() => undefined);
    await this.checkpointing?.catch(() => undefined);
    // Clicks not yet in the click log are in the learning log: a failure here loses nothing (recovery).
    await this.models.clickArchive.drain().catch(() => undefined);
    await this.models.tombstoneArchive.drain().catch(() => undefined);
  }

  countEvents(source: string, outcome: string, n = 1): void {
    this.events.inc({ source, outcome }, n);
  }

  /**
   * Learn a batch exactly once. `events` are already schema-valid; `offsets` (Kafka) commit with the batch.
   * Resolves after the commit, with one outcome per event; rejects if the transaction failed (nothing changed).
   */
  learn(
    events: readonly RecoEvent[],
    source: string,
    offsets: readonly OffsetCommit[] = [],
  ): Promise<BatchResult> {
    const run = this.chain.then(() => this.learnNow(events, source, offsets, Date.now()));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Close every open join window now, whatever its deadline (a backfill's last step: its events were all
   * learned within seconds, so their windows would otherwise stay open for JOIN_WINDOW_MS).
   */
  async closeAllJoins(source: string): Promise<void> {
    for (;;) {
      const run = this.chain.then(() => this.learnNow([], source, [], Date.now(), END_OF_TIME_MS));
      this.chain = run.catch(() => undefined);
      if ((await run).closedJoins < CLOSE_LIMIT) return;
    }
  }

  /**
   * Write a checkpoint of the whole model now (also on a timer, and at shutdown by the consumer). The state is
   * serialised between two batches (a consistent cut); the write itself runs beside the batches that follow,
   * once the clicks and tombstones of the batches it covers are archived (it drops their updates).
   *
   * The open joins are not written: the checkpoint keeps the journals of the batches from the one that last
   * put the oldest open join (`JoinBook.oldestPut`), which rebuild them at recovery. Writing them cost
   * ≈ 280 bytes and 3 µs an open slate at every checkpoint (rate × window of them: a 1 GB image a minute at
   * 2,000 slates/s and a 30-minute window). Only when those journals are gone (the book came from an image:
   * an upgrade) is an image written, a step at a time.
   */
  checkpoint(): Promise<void> {
    // One at a time; a request during a write gets a checkpoint of the state after it, not the older one.
    if (this.checkpointing) return this.checkpointing.catch(() => undefined).then(() => this.checkpoint());
    const cut = this.chain.then(async () => {
      // Stale posteriors solved on the solver's thread first: encodeModelPages refreshes every stale one, here, on
      // the serving thread otherwise. No batch is learned meanwhile: this is the chain.
      await this.models.solveStale();
      const last = this.models.lastBatchId;
      if (last === this.models.checkpointBatchId) return null;
      const oldest = this.models.joins.oldestPut();
      const from =
        oldest === undefined
          ? last + 1
          : oldest !== null && oldest >= this.models.journalsFrom
            ? oldest
            : null;
      const startedAt = performance.now();
      // The head and the pages of the items changed since the last checkpoint, copied now (the cut).
      const model = encodeModelPages(this.models.learningModel(), 'changed', {
        into: this.checkpointBuffer,
        // Room for the COPY's row header before each page: the pages go to PostgreSQL from this buffer.
        gap: this.state.pageGap,
      });
      this.checkpointBuffer = model.head.buffer as ArrayBuffer;
      return {
        last,
        startedAt,
        model,
        from,
        // Open joins to write as an image (tombstones are in slate_tombstones), encoded below a step at a time.
        open: from === null ? this.models.joins.openJoins() : null,
        clicksMark: this.models.clickArchive.mark(),
        tombstonesMark: this.models.tombstoneArchive.mark(),
      };
    });
    this.chain = cut.catch(() => undefined);
    const run = cut
      .then(async (c) => {
        if (!c) return;
        const image = c.open && (await runInSteps(encodeOpenJoinsInSteps(c.open.ids, c.open.entries)));
        // The items' pages, users (−1, −2, …, written only when a user changed), then item ids (numbered down
        // from −2^30, written only for items not stored before): the order they lie in the buffer.
        const pages = [...c.model.pages, ...c.model.userPages, ...c.model.itemIdPages];
        await this.models.clickArchive.flushed(c.clicksMark);
        await this.models.tombstoneArchive.flushed(c.tombstonesMark);
        try {
          await this.state.writeCheckpoint(
            c.last,
            c.model.head,
            pages,
            image ? { image } : { from: c.from! },
            this.config.learning.dedupeHorizonHours,
            c.model.gap,
          );
        } catch (e) {
          // Not stored: the next checkpoint writes these pages again.
          this.models.learningModel().markPagesChanged(
            c.model.pages.map((p) => p.page),
            PAGE_ITEMS,
          );
          if (c.model.userPages.length) this.models.learningModel().markUsersChanged();
          this.models.learningModel().markItemIdsUntaken(c.model.itemIdsFrom);
          throw e;
        }
        this.models.checkpointBatchId = c.last;
        this.lastCheckpoint = { endedAt: Date.now(), ms: performance.now() - c.startedAt };
        this.models.journalsFrom = image ? c.last + 1 : c.from!;
        this.logger.log({
          msg: 'model checkpoint written',
          lastBatchId: c.last,
          bytes:
            pages.reduce((t, p) => t + p.bytes.byteLength, c.model.head.byteLength) +
            (image?.byteLength ?? 0),
          pages: c.model.pages.length,
          userPages: c.model.userPages.length,
          itemIdPages: c.model.itemIdPages.length,
          ...(image ? { joinsImage: c.open!.ids.length } : { joinsFromBatch: c.from }),
        });
      })
      .finally(() => (this.checkpointing = undefined));
    this.checkpointing = run;
    return run;
  }

  private async learnNow(
    events: readonly RecoEvent[],
    source: string,
    offsets: readonly OffsetCommit[],
    now: number,
    dueBy = now,
  ): Promise<BatchResult> {
    const archive = this.models.clickArchive;
    const tombstoneArchive = this.models.tombstoneArchive;
    await archive.room();
    await tombstoneArchive.room();
    const model = this.models.learningModel();
    this.vectors = new UserVectors(model);
    const outcomes: EventOutcome[] = new Array(events.length);
    // Reject what can never be learned before claiming ids, so a fixed event can be sent again.
    const candidates: number[] = [];
    const firstById = new Map<string, number>();
    for (let e = 0; e < events.length; e++) {
      const ev = events[e];
      if (ev.type === 'click' && !model.itemIndex.has(ev.itemId)) {
        outcomes[e] = {
          status: 'rejected',
          field: 'itemId',
          reason: `item "${ev.itemId}" is not in the catalogue`,
        };
        continue;
      }
      if (firstById.has(ev.eventId)) {
        outcomes[e] = { status: 'duplicate' };
        continue;
      }
      firstById.set(ev.eventId, e);
      candidates.push(e);
    }

    const est = model.config.estimator;
    const started = performance.now();
    const clickIdx = candidates.filter((e) => events[e].type === 'click');
    const impIdx = candidates.filter((e) => events[e].type === 'impression');
    // The batch's changes to the join book, staged: the book itself changes only after the commit.
    const joins = this.models.joins.begin(now);
    const committed = await this.state.transaction(async (m) => {
      // A click is new unless the click log holds its id or it is on its way there (the archive); an
      // impression is new unless its slate's join is open with items or closed (the join book). Both records are
      // made durable by this batch's learning-log row.
      const known = await this.state.knownClicks(
        m,
        clickIdx.map((e) => events[e].eventId).filter((id) => !archive.has(id)),
      );
      const clicks: ClickEvent[] = [];
      for (const e of clickIdx) {
        const id = events[e].eventId;
        if (!known.has(id) && !archive.has(id)) {
          outcomes[e] = { status: 'accepted' };
          clicks.push(events[e] as ClickEvent);
        } else outcomes[e] = { status: 'duplicate' };
      }
      // Tombstones the book may not hold: a click's slate it does not know (a late click, or one before its
      // impression), and an impression older than what the book surely covers (if it was learned before, it
      // closed at least a window after its event time, and the book holds every join closed since `coveredSince`).
      const covered = joins.coveredSince() - this.config.learning.joinWindowMs;
      const unknown = joins.unknown([
        ...impIdx.flatMap((e) => (events[e].ts < covered ? [(events[e] as ImpressionEvent).slateId] : [])),
        ...clicks.flatMap((c) => (c.slateId ? [c.slateId] : [])),
      ]);
      const stored = await this.state.tombstones(m, unknown);
      // A tombstone the book let go of may still be on its way to the table: the queued one is the newer.
      for (const id of unknown) {
        const queued = tombstoneArchive.latest(id);
        if (queued) stored.set(id, queued[1]);
      }
      joins.remember(stored);
      const updates: LearningUpdate[] = [];
      const { opened, closedJoins } = this.join(
        joins,
        impIdx.map((e) => events[e] as ImpressionEvent),
        clicks,
        updates,
        est,
        dueBy,
      );
      impIdx.forEach(
        (e, k) => (outcomes[e] = opened.has(k) ? { status: 'accepted' } : { status: 'duplicate' }),
      );
      const batchId =
        updates.length || !joins.empty || clicks.length
          ? await this.state.appendLog(
              m,
              updates.length,
              encodeLearningBatch(model.dim, updates),
              encodeBatchJournal({ joins: joins.delta(), clicks }),
            )
          : null;
      await this.state.commitOffsets(m, offsets);
      return {
        updates,
        clicks,
        tombstones: joins.tombstones(),
        batchId,
        learned: clicks.length + opened.size,
        closedJoins,
      };
    });

    // Committed: now, and only now, the in-memory state changes.
    if (committed.batchId !== null) {
      joins.commit(committed.batchId);
      archive.append(committed.clicks);
      tombstoneArchive.append(committed.tombstones);
      applyLearningUpdates(model, this.models.histories, committed.updates);
      if (joins.closedEarly) this.noteClosedEarly(joins.closedEarly);
      this.models.lastBatchId = committed.batchId;
      // Only updates change what serving reads (a batch that only opened joins does not).
      if (committed.updates.length) this.models.scheduleRebuild();
    }
    const done = Date.now();
    if (events.length) {
      this.batchSize.observe(events.length);
      this.batchSeconds.observe((performance.now() - started) / 1000);
    }
    let learned = 0;
    for (let e = 0; e < events.length; e++) {
      const o = outcomes[e];
      if (o.status === 'accepted') {
        learned++;
        this.freshness.observe(Math.max(0, (done - events[e].ts) / 1000));
      } else this.events.inc({ source, outcome: o.status });
    }
    if (learned) this.events.inc({ source, outcome: 'learned' }, learned);
    return {
      outcomes,
      learned: committed.learned,
      updates: committed.updates.length,
      batchId: committed.batchId,
      closedJoins: committed.closedJoins,
    };
  }

  /**
   * Joins impressions and clicks in either order (they come from different topics and partitions):
   * - a click on an open slate is a positive at its logged position (position-based propensity);
   * - a click that comes before its impression waits in the join's `pending` list and is learned when the
   *   impression arrives, exactly as if it had come after it;
   * - a click on a slate whose window already closed is learned at its logged position (late, not dropped);
   * - a click with no slate is organic.
   * Then the windows due by `dueBy` close: unclicked items become negatives, clicks still waiting for an
   * impression that never came are learned as organic. Entries of the book are never changed in place: a
   * changed join is staged as a copy.
   */
  private join(
    tx: JoinTx,
    impressions: ImpressionEvent[],
    clicks: ClickEvent[],
    updates: LearningUpdate[],
    est: EstimatorConfig,
    dueBy: number,
  ): { opened: Set<number>; closedJoins: number } {
    const window = this.config.learning.joinWindowMs;
    const opened = new Set<number>();
    // A positive at the item's position in `entry` (organic when it is not there); marks it clicked.
    const positiveIn = (userId: string, itemId: string, entry: JoinEntry) => {
      const position = entry.items?.find((it) => it.itemId === itemId)?.position;
      if (position !== undefined && !entry.clicked.includes(itemId)) entry.clicked.push(itemId);
      this.positive(userId, itemId, position, updates, est);
    };

    for (let k = 0; k < impressions.length; k++) {
      const imp = impressions[k];
      const prev = tx.state(imp.slateId);
      if (prev?.kind === 'closed') {
        if (prev.tombstone.items) continue; // learned already: a duplicate
        // Its clicks waited a whole window and were learned as organic: the impression is still new. Its window
        // opens now; the items those clicks were on are not negatives.
        opened.add(k);
        tx.put(imp.slateId, {
          userId: imp.userId,
          items: imp.items,
          clicked: [...(prev.tombstone.clicked ?? [])],
          pending: [],
          closesAt: tx.now + window,
        });
        continue;
      }
      if (prev?.entry.items) continue; // learned already: a duplicate
      opened.add(k);
      // The window runs from when the impression is learned, not from its event time, so that a consumer
      // catching up on a backlog still joins the clicks that follow.
      const entry: JoinEntry = {
        userId: imp.userId,
        items: imp.items,
        clicked: prev ? [...prev.entry.clicked] : [],
        pending: [],
        closesAt: tx.now + window,
      };
      for (const pc of prev?.entry.pending ?? []) positiveIn(pc.userId, pc.itemId, entry);
      tx.put(imp.slateId, entry);
    }

    for (const c of clicks) {
      if (!c.slateId) {
        this.positive(c.userId, c.itemId, undefined, updates, est);
        continue;
      }
      const st = tx.state(c.slateId);
      if (st?.kind === 'closed') {
        // A late click: its window has closed (its negatives are learned); learned at its logged position.
        const position = st.tombstone.items?.find((it) => it.itemId === c.itemId)?.position;
        this.positive(c.userId, c.itemId, position, updates, est);
      } else if (st) {
        const entry = { ...st.entry, clicked: [...st.entry.clicked], pending: [...st.entry.pending] };
        if (entry.items) positiveIn(c.userId, c.itemId, entry);
        else entry.pending.push({ userId: c.userId, itemId: c.itemId });
        tx.put(c.slateId, entry);
      } else {
        tx.put(c.slateId, {
          userId: c.userId,
          items: null,
          clicked: [],
          pending: [{ userId: c.userId, itemId: c.itemId }],
          closesAt: tx.now + window,
        });
      }
    }

    const closed = tx.closeDue(CLOSE_LIMIT, dueBy, this.config.learning.joinMemoryBytes);
    for (const [, entry] of closed) {
      if (entry.items) this.negatives(entry, updates);
      else for (const pc of entry.pending) this.positive(pc.userId, pc.itemId, undefined, updates, est);
    }
    return { opened, closedJoins: closed.length };
  }

  /** Count windows closed early, and say so in the log at most once every EARLY_WARN_MS. */
  private noteClosedEarly(n: number): void {
    this.closedEarly.inc(n);
    const closedEarly = this.earlyWarning.take(n);
    if (closedEarly === undefined) return;
    this.logger.warn({
      msg: 'join windows closed before JOIN_WINDOW_MS: the open ones reached JOIN_MEMORY_MB',
      closedEarly,
      openJoins: this.models.joins.openCount,
      openJoinsMb: Math.round(this.models.joins.openBytes / 1048576),
      joinMemoryMb: Math.round(this.config.learning.joinMemoryBytes / 1048576),
      hint: 'slates per second × JOIN_WINDOW_MS exceed the memory: shorten JOIN_WINDOW_MS, or raise JOIN_MEMORY_MB with the heap (NODE_OPTIONS=--max-old-space-size)',
    });
  }

  /** A click as a least-squares target: Y/θ with θ the slot's examination probability, or organic. */
  private positive(
    userId: string,
    itemId: string,
    position: number | undefined,
    updates: LearningUpdate[],
    est: EstimatorConfig,
  ): void {
    const model = this.models.learningModel();
    const i = model.itemIndex.get(itemId);
    if (i === undefined) return;
    const exam = this.config.learning.examination;
    // Organic (exposure unknown): Saito's popularity propensity, frozen with the last batch training so that an
    // event's update does not depend on what was learned before it (docs/exactly-once.md); 1 until then.
    const theta =
      position !== undefined ? exam[Math.min(position, exam.length) - 1] : this.models.organicPropensity(i);
    updates.push({
      userId,
      itemId,
      x: this.vectors!.get(userId),
      target: estimatorTarget(est, 1, theta),
      weight: 1,
    });
  }

  /** A closed slate's unclicked items are negatives (target 0, weight 1: Rel-MF's Y = 0 term). */
  private negatives(closed: JoinEntry, updates: LearningUpdate[]): void {
    const model = this.models.learningModel();
    const clicked = new Set(closed.clicked);
    const x = this.vectors!.get(closed.userId);
    for (const it of closed.items ?? []) {
      if (clicked.has(it.itemId) || !model.itemIndex.has(it.itemId)) continue;
      updates.push({ userId: closed.userId, itemId: it.itemId, x, target: 0, weight: 1 });
    }
  }
}

/** Run a generator to its end, letting the event loop run (I/O first) between its steps. */
async function runInSteps<T>(steps: Generator<void, T, void>): Promise<T> {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
