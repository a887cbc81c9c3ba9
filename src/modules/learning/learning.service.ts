import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import type { EntityManager } from 'typeorm';
import { estimatorTarget, type EstimatorConfig } from '../../core/estimators';
import { encodeLearningBatch, type LearningUpdate } from '../../core/ingest/learning-log';
import { encodeModel, MODEL_FORMAT_VERSION } from '../../core/model';
import { APP_CONFIG, type AppConfig } from '../../config/config';
import type { ClickEvent, ImpressionEvent, RecoEvent } from '../../messaging/event.schema';
import { MetricsService } from '../metrics/metrics.service';
import { applyLearningUpdates, userVectorFor } from '../model/apply-updates';
import {
  ModelStateRepository,
  type OffsetCommit,
  type SlateItem,
  type SlateJoinRow,
} from '../model/model-state.repository';
import { ModelService } from '../model/model.service';

/** A deadline after every join window (9999-12-31; PostgreSQL's timestamptz ends in year 294276). */
const END_OF_TIME_MS = Date.UTC(9999, 11, 31);
/** Join windows closed per batch at most (a backlog of due windows closes over several batches). */
const CLOSE_LIMIT = 5000;

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
      this.learn([], 'timer').catch((e: unknown) =>
        this.logger.warn({ err: e }, 'closing join windows failed'),
      );
    }, tick);
    this.closeTimer.unref();
    this.checkpointTimer = setInterval(() => {
      this.checkpoint().catch((e: unknown) => this.logger.warn({ err: e }, 'checkpoint failed'));
    }, this.config.learning.checkpointIntervalMs);
    this.checkpointTimer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.closeTimer);
    clearInterval(this.checkpointTimer);
    await this.chain.catch(() => undefined);
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
      const run = this.chain.then(() => this.learnNow([], source, [], END_OF_TIME_MS));
      this.chain = run.catch(() => undefined);
      if ((await run).closedJoins < CLOSE_LIMIT) return;
    }
  }

  /** Write a checkpoint of the whole model now (also on a timer, and at shutdown by the consumer). */
  checkpoint(): Promise<void> {
    const run = this.chain.then(async () => {
      const last = this.models.lastBatchId;
      if (last === this.models.checkpointBatchId) return;
      const payload = encodeModel(this.models.learningModel());
      await this.state.writeCheckpoint(
        last,
        MODEL_FORMAT_VERSION,
        payload,
        this.config.learning.dedupeHorizonHours,
      );
      this.models.checkpointBatchId = last;
      this.logger.log({ msg: 'model checkpoint written', lastBatchId: last, bytes: payload.byteLength });
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async learnNow(
    events: readonly RecoEvent[],
    source: string,
    offsets: readonly OffsetCommit[],
    now: number,
  ): Promise<BatchResult> {
    const model = this.models.learningModel();
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
    const committed = await this.state.transaction(async (m) => {
      // The dedupe records are the logs themselves: a click is claimed by inserting it into `clicks`
      // (event_id is its key), an impression by opening its slate's join row (slate_id is its key).
      const clickIdx = candidates.filter((e) => events[e].type === 'click');
      const impIdx = candidates.filter((e) => events[e].type === 'impression');
      const fresh = await this.state.recordClicks(
        m,
        clickIdx.map((e) => events[e] as ClickEvent),
      );
      const clicks: ClickEvent[] = [];
      for (const e of clickIdx) {
        if (fresh.has(events[e].eventId)) {
          outcomes[e] = { status: 'accepted' };
          clicks.push(events[e] as ClickEvent);
        } else outcomes[e] = { status: 'duplicate' };
      }
      const updates: LearningUpdate[] = [];
      const { opened, closedJoins } = await this.join(
        m,
        impIdx.map((e) => events[e] as ImpressionEvent),
        clicks,
        updates,
        est,
        now,
      );
      impIdx.forEach(
        (e, k) => (outcomes[e] = opened.has(k) ? { status: 'accepted' } : { status: 'duplicate' }),
      );
      const batchId = updates.length
        ? await this.state.appendLog(m, updates.length, encodeLearningBatch(model.dim, updates))
        : null;
      await this.state.commitOffsets(m, offsets);
      return { updates, batchId, learned: clicks.length + opened.size, closedJoins };
    });

    // Committed: now, and only now, the in-memory model changes.
    if (committed.batchId !== null) {
      applyLearningUpdates(model, this.models.histories, this.models.folded, committed.updates);
      this.models.lastBatchId = committed.batchId;
      this.models.scheduleRebuild();
    }
    const done = Date.now();
    if (events.length) {
      this.batchSize.observe(events.length);
      this.batchSeconds.observe((performance.now() - started) / 1000);
    }
    for (let e = 0; e < events.length; e++) {
      const o = outcomes[e];
      this.events.inc({ source, outcome: o.status === 'accepted' ? 'learned' : o.status });
      if (o.status === 'accepted') this.freshness.observe(Math.max(0, (done - events[e].ts) / 1000));
    }
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
   * - a click that comes before its impression waits in the join row's `pending` list and is learned when the
   *   impression arrives, exactly as if it had come after it;
   * - a click on a slate whose window already closed is learned at its logged position (late, not dropped);
   * - a click with no slate is organic.
   * Then the windows that are due close: unclicked items become negatives, clicks still waiting for an
   * impression that never came are learned as organic.
   */
  private async join(
    m: EntityManager,
    impressions: ImpressionEvent[],
    clicks: ClickEvent[],
    updates: LearningUpdate[],
    est: EstimatorConfig,
    now: number,
  ): Promise<{ opened: Set<number>; closedJoins: number }> {
    const window = this.config.learning.joinWindowMs;
    const opened = new Set<number>();
    let closedJoins = 0;
    const slateIds = [
      ...new Set([
        ...impressions.map((i) => i.slateId),
        ...clicks.flatMap((c) => (c.slateId ? [c.slateId] : [])),
      ]),
    ];
    const joins = await this.state.lockJoins(m, slateIds);
    // `existed`: the row was there before this batch (locked above), so it is updated, not inserted.
    const dirty = new Map<string, SlateJoinRow & { closesAt: number; existed: boolean }>();
    const positive = (
      userId: string,
      itemId: string,
      items: readonly SlateItem[] | null,
      row?: SlateJoinRow,
    ) => {
      const position = items?.find((it) => it.itemId === itemId)?.position;
      if (position !== undefined && row && !row.clicked.includes(itemId)) row.clicked.push(itemId);
      this.positive(userId, itemId, position, updates, est);
    };

    for (let k = 0; k < impressions.length; k++) {
      const imp = impressions[k];
      const prev = joins.get(imp.slateId);
      if (prev?.items || prev?.closed) continue; // this slate's impression was learned already: a duplicate
      opened.add(k);
      // The window runs from when the impression is learned, not from its event time, so that a consumer
      // catching up on a backlog still joins the clicks that follow.
      const row = {
        slate_id: imp.slateId,
        user_id: imp.userId,
        items: imp.items,
        clicked: prev?.clicked ?? [],
        pending: [],
        closesAt: now + window,
        existed: prev !== undefined || dirty.get(imp.slateId)?.existed === true,
      };
      for (const pc of prev?.pending ?? []) positive(pc.userId, pc.itemId, row.items, row);
      joins.set(imp.slateId, row);
      dirty.set(imp.slateId, row);
    }

    for (const c of clicks) {
      if (!c.slateId) {
        this.positive(c.userId, c.itemId, undefined, updates, est);
        continue;
      }
      const row = joins.get(c.slateId);
      if (row?.closed) {
        positive(c.userId, c.itemId, row.items); // late click: its window has closed, its negatives are learned
      } else if (row?.items) {
        positive(c.userId, c.itemId, row.items, row);
        dirty.set(c.slateId, {
          ...row,
          closesAt: dirty.get(c.slateId)?.closesAt ?? NaN,
          existed: dirty.get(c.slateId)?.existed ?? true,
        });
      } else if (row) {
        row.pending.push({ userId: c.userId, itemId: c.itemId });
        dirty.set(c.slateId, {
          ...row,
          closesAt: dirty.get(c.slateId)?.closesAt ?? NaN,
          existed: dirty.get(c.slateId)?.existed ?? true,
        });
      } else {
        const waiting = {
          slate_id: c.slateId,
          user_id: c.userId,
          items: null,
          clicked: [],
          pending: [{ userId: c.userId, itemId: c.itemId }],
          closesAt: now + window,
          existed: false,
        };
        joins.set(c.slateId, waiting);
        dirty.set(c.slateId, waiting);
      }
    }
    // Rows only touched by clicks keep their deadline: read it back with the row when saving.
    await this.state.saveJoins(
      m,
      [...dirty.values()].filter((r) => !Number.isNaN(r.closesAt)),
    );
    await this.state.updateJoinClicks(
      m,
      [...dirty.values()].filter((r) => Number.isNaN(r.closesAt)),
    );

    const closed = await this.state.closeDueJoins(m, now, CLOSE_LIMIT);
    closedJoins = closed.length;
    for (const row of closed) {
      if (row.items) this.negatives(row, updates);
      else for (const pc of row.pending) this.positive(pc.userId, pc.itemId, undefined, updates, est);
    }
    return { opened, closedJoins };
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
      x: userVectorFor(model, userId),
      target: estimatorTarget(est, 1, theta),
      weight: 1,
    });
  }

  /** A closed slate's unclicked items are negatives (target 0, weight 1: Rel-MF's Y = 0 term). */
  private negatives(closed: SlateJoinRow, updates: LearningUpdate[]): void {
    const model = this.models.learningModel();
    const clicked = new Set(closed.clicked);
    const x = userVectorFor(model, closed.user_id);
    for (const it of closed.items ?? []) {
      if (clicked.has(it.itemId) || !model.itemIndex.has(it.itemId)) continue;
      updates.push({ userId: closed.user_id, itemId: it.itemId, x, target: 0, weight: 1 });
    }
  }
}
