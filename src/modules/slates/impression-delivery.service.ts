import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { PeriodicPass } from '../../common/periodic-pass';
import { APP_CONFIG, type AppConfig } from '../../config/config';
import { MetricsService } from '../metrics/metrics.service';
import type { Impression } from './impression';
import { ImpressionsRepository, type OutboxEntry } from './impressions.repository';

/** Called with stored slates (the learner in-process, the Kafka publisher): may reject, and may be called again. */
export type ImpressionSink = (batch: readonly Impression[]) => Promise<void> | void;

/** Stored batches that may wait for the delivery lane; past it, a batch is left to the outbox. */
const MAX_QUEUED_BATCHES = 8;
/** Outbox entries a redelivery step claims. */
const CLAIM_BATCHES = 4;
/** The longest wait between two tries of one outbox entry. */
const MAX_RETRY_MS = 600_000;
/** The longest wait between two redelivery passes. */
const MAX_PASS_MS = 5_000;
/** Slates a redelivery reads and hands on at a time. */
const PAGE_SLATES = 1000;
/** Delivered entries are deleted together, at most this long after (one statement, not one a batch). */
const DELETE_EVERY_MS = 1_000;
/**
 * How long shutdown waits for deliveries in flight: a sink that hangs (kafkajs retrying through a broker outage)
 * must not hold a SIGTERM past an orchestrator's grace period. What is not delivered stays in the outbox.
 */
export const SHUTDOWN_DELIVERY_MS = 10_000;

/**
 * Hands stored slates to the sinks, in order, one batch at a time (the lane), without holding back the writes
 * to PostgreSQL. Every stored batch has an outbox entry (`impression_outbox`, written in its transaction); the
 * entry goes once every sink took the batch. An entry still there after `IMPRESSION_REDELIVER_MS` (the process
 * crashed between the write and the delivery, a sink failed, or the lane was full) is delivered again from the
 * table by the passes here, with backoff. The sinks drop slates they already have (the learner's join book and
 * tombstones), so a slate is learned once however often it is delivered.
 */
@Injectable()
export class ImpressionDeliveryService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ImpressionDeliveryService.name);
  private readonly sinks: ImpressionSink[] = [];
  /** The lane: each delivery starts once the one before it settled. */
  private lane: Promise<unknown> = Promise.resolve();
  private queued = 0;
  /** Outbox entries of live batches offered to the lane and not yet settled there: the passes leave them to it. */
  private readonly inLane = new Set<string>();
  private readonly passes = new PeriodicPass(
    () => this.redeliver(),
    (e) => this.logger.warn({ err: e }, 'redelivering stored slates failed'),
  );
  /** Entries delivered, not yet deleted; and the timer and statement that delete them. */
  private toDelete: string[] = [];
  private deleteTimer?: NodeJS.Timeout;
  private deleting?: Promise<void>;
  /** When shutdown stops waiting for deliveries (set by the first `drainForShutdown`). */
  private shutdownBy?: number;
  private readonly deferred: Counter;
  private readonly redelivered: Counter;
  private readonly backlog: Gauge;
  private readonly oldest: Gauge;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repo: ImpressionsRepository,
    metrics: MetricsService,
  ) {
    this.deferred = new Counter({
      name: 'reco_impressions_deferred_total',
      help: 'Stored slates left to the outbox (impression_outbox) for a later delivery, by reason: a sink failed (sink_failed), or the deliveries were behind the writes (behind).',
      labelNames: ['reason'] as const,
      registers: [metrics.registry],
    });
    this.redelivered = new Counter({
      name: 'reco_impressions_redelivered_total',
      help: 'Stored slates delivered again from the outbox (found in slates; those deleted since are not counted).',
      registers: [metrics.registry],
    });
    this.backlog = new Gauge({
      name: 'reco_impression_outbox_batches',
      help: 'Stored batches of slates in the outbox not yet delivered to every sink, as of the last redelivery pass.',
      registers: [metrics.registry],
    });
    this.oldest = new Gauge({
      name: 'reco_impression_outbox_oldest_seconds',
      help: 'Age of the oldest undelivered batch in the outbox, as of the last redelivery pass (0: none).',
      registers: [metrics.registry],
    });
  }

  addSink(sink: ImpressionSink): void {
    this.sinks.push(sink);
  }

  /** Whether stored slates go anywhere (then the writes keep outbox entries). */
  get active(): boolean {
    return this.sinks.length > 0;
  }

  onApplicationBootstrap(): void {
    if (!this.active) return;
    const every = Math.min(MAX_PASS_MS, Math.max(50, Math.floor(this.config.serving.redeliverMs / 2)));
    this.passes.start(every, 0); // the first at once: what a crash left behind is already due
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.drainForShutdown();
  }

  /**
   * Stop the passes and wait for the deliveries in flight, until `SHUTDOWN_DELIVERY_MS` after the first call: this
   * hook and the impression log's (which offers its last batches first) share that one deadline, in either order.
   */
  async drainForShutdown(): Promise<boolean> {
    this.passes.stop();
    this.shutdownBy ??= performance.now() + SHUTDOWN_DELIVERY_MS;
    return this.settledWithin(Math.max(0, this.shutdownBy - performance.now()));
  }

  /**
   * `settled` (and the redelivery pass in flight), but waiting at most `ms`: false, with a warning, if deliveries
   * were still running then. Their slates stay in the outbox, delivered again at the next start.
   */
  async settledWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    try {
      const done = Promise.all([this.passes.running, this.settled()]).then(() => true as const);
      if (await Promise.race([done, timeout])) return true;
      this.logger.warn({
        msg: 'deliveries still running at shutdown; their slates stay in the outbox for the next start',
        queued: this.queued,
        waitedMs: ms,
      });
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Delete the entries delivered so far (the timer's; `settled` and shutdown call it too). */
  async deleteDelivered(): Promise<void> {
    clearTimeout(this.deleteTimer);
    this.deleteTimer = undefined;
    while (this.deleting) await this.deleting;
    if (this.toDelete.length === 0) return;
    const ids = this.toDelete;
    this.toDelete = [];
    this.deleting = this.repo.delivered(ids).catch((e: unknown) => {
      // Kept for the next try; meanwhile a pass may deliver them again, and the learner drops them as known.
      this.toDelete.push(...ids);
      this.scheduleDelete();
      this.logger.warn({ err: e, entries: ids.length }, 'could not delete delivered outbox entries');
    });
    try {
      await this.deleting;
    } finally {
      this.deleting = undefined;
    }
  }

  private scheduleDelete(): void {
    if (this.deleteTimer || this.passes.stopped) return;
    this.deleteTimer = setTimeout(() => void this.deleteDelivered(), DELETE_EVERY_MS);
    this.deleteTimer.unref();
  }

  /**
   * A batch just stored, and its outbox entries: queued for the lane. When `MAX_QUEUED_BATCHES` wait already, it
   * is left to the outbox (counted), so that slow sinks never hold memory or the writes back.
   */
  offer(batch: readonly Impression[], outboxIds: readonly string[]): void {
    if (!this.active || batch.length === 0) return;
    if (this.queued >= MAX_QUEUED_BATCHES) {
      this.deferred.inc({ reason: 'behind' }, batch.length);
      return;
    }
    this.queued++;
    for (const id of outboxIds) this.inLane.add(id);
    this.lane = this.lane
      .then(() => this.deliver(batch, outboxIds))
      .finally(() => {
        this.queued--;
        for (const id of outboxIds) this.inLane.delete(id);
      });
  }

  /** Resolves once every delivery offered so far has settled and its entry is deleted (tests and shutdown). */
  async settled(): Promise<void> {
    let seen: Promise<unknown>;
    do {
      seen = this.lane;
      await seen;
    } while (seen !== this.lane);
    await this.deleteDelivered();
  }

  /**
   * One pass (the timer's; tests call it): claim the entries due, a few at a time, and deliver their slates
   * through the lane, until none is due. Returns the slates delivered again.
   */
  async redeliver(): Promise<number> {
    let slates = 0;
    const { redeliverMs } = this.config.serving;
    while (!this.passes.stopped) {
      // What was delivered goes first: a claim pushes an entry back by only redeliverMs, so an entry delivered
      // more slowly than that (a slow sink, a first publish to a new topic) is due again, and would be delivered
      // again, in this very pass. Skipped below: an entry whose delete failed (in toDelete, delivered), and one
      // whose live batch still waits in the lane (its entry came due while the sinks were slow): the lane delivers
      // it, and if that fails the entry stays for a later pass (this claim pushed it back).
      await this.deleteDelivered();
      const entries = await this.repo.claimDue(CLAIM_BATCHES, redeliverMs, MAX_RETRY_MS);
      if (entries.length === 0) break;
      let fresh = 0;
      for (const entry of entries) {
        if (this.inLane.has(entry.id) || this.toDelete.includes(entry.id)) continue;
        fresh++;
        slates += await this.redeliverEntry(entry);
      }
      if (fresh === 0) break; // only entries the lane has, or that wait for their delete: the next pass
    }
    await this.deleteDelivered();
    const backlog = await this.repo.outboxBacklog();
    this.backlog.set(backlog.batches);
    this.oldest.set((backlog.oldestMs ?? 0) / 1000);
    if (slates > 0) this.logger.log({ msg: 'delivered stored slates again from the outbox', slates });
    return slates;
  }

  /**
   * The slates of one entry, a page at a time through the lane; the entry goes once every page was taken. A page
   * that fails leaves it for its next try (the pages before are then delivered again, and dropped as known).
   */
  private async redeliverEntry(entry: OutboxEntry): Promise<number> {
    let slates = 0;
    let after: { servedAt: Date; slateId: string } | undefined;
    for (;;) {
      const page = await this.repo.findServed(entry.from, entry.to, PAGE_SLATES, after);
      const last = page.length < PAGE_SLATES;
      const done = this.lane.then(() => this.deliver(page, last ? [entry.id] : []));
      this.lane = done;
      if (!(await done)) return slates;
      slates += page.length;
      this.redelivered.inc(page.length);
      if (last) return slates;
      const end = page[page.length - 1];
      after = { servedAt: end.servedAt, slateId: end.slateId };
    }
  }

  /** True once every sink took the batch (its entries then go); false (logged, counted) if a sink failed. */
  private async deliver(batch: readonly Impression[], outboxIds: readonly string[]): Promise<boolean> {
    if (batch.length > 0) {
      for (const sink of this.sinks) {
        try {
          await sink(batch);
        } catch (e) {
          this.deferred.inc({ reason: 'sink_failed' }, batch.length);
          this.logger.error(
            { err: e, slates: batch.length, retryInMs: this.config.serving.redeliverMs },
            'impression sink failed; the outbox delivers the slates again',
          );
          return false;
        }
      }
    }
    if (outboxIds.length > 0) {
      this.toDelete.push(...outboxIds);
      this.scheduleDelete();
    }
    return true;
  }
}
