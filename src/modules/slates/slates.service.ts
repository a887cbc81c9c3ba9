import { randomInt } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { z } from 'zod';
import { NoCandidatesError, PolicyInputError } from '../../core/policies/policy-errors';
import type { PolicyConfig } from '../../core/policies/policy-config.schema';
import { serveSlate } from '../../core/policies/serve-slate';
import { Rng } from '../../core/random';
import { AppException } from '../../common/http/app-exception';
import { APP_CONFIG, type AppConfig } from '../../config/config';
import { ModelService } from '../model/model.service';
import type { SlateRequestSchema, SlateResponse, SlateWarning } from './dto/slate.schema';
import type { Impression } from './impression';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';
import { ImpressionLogService } from './impression-log.service';
import { ImpressionsRepository } from './impressions.repository';
import {
  SlateCancelledError,
  SlateOverloadedError,
  SlatePool,
  SlateTimeoutError,
  SlateWorkerLostError,
  type PoolItem,
  type PoolRequest,
  type PoolServed,
} from './slate-pool';
import type { ServingSnapshot } from '../../core/model/serving-snapshot';
import { ThrottledCount } from '../../common/logging/throttled-count';
import { uuid7 } from '../../common/uuid7';

type SlateRequest = z.infer<typeof SlateRequestSchema>;

/** At most one warning this often while requests are shed (`SLATE_QUEUE_MS`); /metrics counts every one. */
const SHED_WARN_MS = 10_000;

/**
 * The client closed its connection before the slate was answered: nothing is sent, and nothing is logged (a slate
 * no one received is not an impression: learning would take its items as shown and not clicked).
 */
export class ClientGoneError extends Error {
  /**
   * @param stage before_serving: gone before the request was looked at; queued: gone while it waited for a slate
   *   worker, not computed (the worker skipped it, or was lost); after_serving: gone while its slate was chosen
   *   (computed, dropped)
   */
  constructor(readonly stage: 'before_serving' | 'queued' | 'after_serving') {
    super(`the client closed the connection before its slate was answered (${stage})`);
    this.name = 'ClientGoneError';
  }
}

/** The connection a slate is for: whether its client has closed it, and a way to hear when it does. */
export interface SlateClient {
  gone(): boolean;
  onGone(listener: () => void): void;
}

interface Prepared {
  readonly req: SlateRequest;
  readonly snap: ServingSnapshot;
  readonly request: PoolRequest;
  readonly warnings: SlateWarning[];
}

/** What `finish` needs of a served slate, from `serveSlate` or from a worker. */
interface Served {
  /** In the shape the response and the impression carry (shared by both, not copied). */
  readonly items: PoolItem[];
  readonly modelVersion: string;
  readonly inactiveCandidates: readonly number[];
  readonly propensityKind: 'exact' | 'monte_carlo';
  readonly simulatedSlates: number;
}

@Injectable()
export class SlatesService implements OnModuleDestroy {
  private readonly logger = new Logger(SlatesService.name);
  private readonly pool: SlatePool | null;
  private readonly served: Counter<'thread'>;
  private readonly abandoned: Counter<'stage'>;
  private readonly shed: Counter;
  /** Shed requests, for one warning per `SHED_WARN_MS` at most. */
  private readonly shedWarning = new ThrottledCount(SHED_WARN_MS);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly model: ModelService,
    private readonly log: ImpressionLogService,
    private readonly impressions: ImpressionsRepository,
    metrics: MetricsService,
  ) {
    const threads = config.serving.threads;
    this.pool =
      threads > 0
        ? new SlatePool(
            threads,
            (e) =>
              this.logger.error({
                err: e,
                msg: 'slate worker lost; its requests are served on the main thread (one it timed out on: 503)',
              }),
            { timeoutMs: config.serving.timeoutMs, queueMs: config.serving.queueMs },
          )
        : null;
    const pool = this.pool;
    new Gauge({
      name: 'reco_slate_workers',
      help: 'Slate worker threads alive (SERVING_THREADS; 0: slates are chosen on the main thread).',
      registers: [metrics.registry],
      collect() {
        this.set(pool?.size ?? 0);
      },
    });
    this.served = new Counter({
      name: 'reco_slates_served_total',
      help: 'Slates served, by the thread that chose them (main: no worker, or its worker was lost).',
      labelNames: ['thread'] as const,
      registers: [metrics.registry],
    });
    this.abandoned = new Counter({
      name: 'reco_slates_abandoned_total',
      help: 'Slate requests whose client closed the connection before the answer, none logged as an impression (stage: before_serving, never looked at; queued, waiting for its slate worker and not computed; after_serving, chosen and dropped).',
      labelNames: ['stage'] as const,
      registers: [metrics.registry],
    });
    this.shed = new Counter({
      name: 'reco_slates_shed_total',
      help: 'Slate requests answered 503 (overloaded) because they waited longer than SLATE_QUEUE_MS for a slate worker; none computed, none logged.',
      registers: [metrics.registry],
    });
    this.logger.log({
      msg: this.pool?.size
        ? `slates chosen on ${this.pool.size} worker thread(s)`
        : 'slates chosen on the main thread',
      servingThreads: this.pool?.size ?? 0,
    });
  }

  /**
   * Serve one slate with the default policy (experiments choose another per variant): on a slate worker when
   * `SERVING_THREADS` > 0 (same slate and propensities as in-process), else right here. With `client` (the
   * connection it is for): a request already abandoned is not served, one still queued on its worker when the client
   * leaves is skipped there, and a slate chosen for a client that has gone meanwhile is not logged (all three
   * reject with `ClientGoneError`).
   */
  serve(
    req: SlateRequest,
    policy: PolicyConfig = this.config.serving.defaultPolicy,
    client?: SlateClient,
  ): Promise<SlateResponse> {
    if (client?.gone()) return Promise.reject(this.gone('before_serving'));
    // One snapshot for the whole request, held until it is answered: a swap in between cannot mix two models,
    // nor reuse this one's memory while a worker (or this thread, after a lost worker) still reads it.
    const snap = this.model.acquire();
    let onWorker: Promise<PoolServed> | null | undefined;
    let p: Prepared;
    try {
      p = this.prepare(req, policy, snap);
      // A request still queued on its worker when its client leaves is skipped there (cancelled).
      onWorker = this.pool?.serve(p.snap, p.request, client && ((cancel) => client.onGone(cancel)));
      if (!onWorker) return Promise.resolve(this.finish(p, this.serveHere(p), 'main', client));
    } finally {
      if (!onWorker) this.model.release(snap);
    }
    return onWorker
      .then(
        (served) => this.finish(p, served, 'worker', client),
        (e: unknown) => {
          // A lost worker: serve this request here (the same slate: same snapshot and seed), unless its client left.
          if (e instanceof SlateWorkerLostError) {
            if (client?.gone()) throw this.gone('queued');
            return this.finish(p, this.serveHere(p), 'main', client);
          }
          if (e instanceof SlateCancelledError) throw this.gone('queued');
          throw this.httpError(e, p.req);
        },
      )
      .finally(() => this.model.release(snap));
  }

  private gone(stage: ClientGoneError['stage']): ClientGoneError {
    this.abandoned.inc({ stage });
    return new ClientGoneError(stage);
  }

  /** Slate worker threads alive (0: slates are chosen on the main thread). */
  get servingThreads(): number {
    return this.pool?.size ?? 0;
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool?.close();
  }

  /** Check the request against the snapshot: ids to indices, warnings for unknown ones, the seed. */
  private prepare(req: SlateRequest, policy: PolicyConfig, snap: ServingSnapshot): Prepared {
    if (snap.itemIds.length === 0) {
      throw new AppException(
        409,
        'catalogue_empty',
        'The catalogue has no items yet: PUT /v1/items/:id first.',
      );
    }
    const warnings: SlateWarning[] = [];
    let candidates: number[] | undefined;
    if (req.candidates) {
      const unknown: string[] = [];
      candidates = [];
      for (const id of req.candidates) {
        const i = snap.itemIndex.get(id);
        if (i === undefined) unknown.push(id);
        else candidates.push(i);
      }
      if (unknown.length) {
        warnings.push({
          code: 'unknown_item',
          message: 'Candidates not in the catalogue were skipped.',
          itemIds: unknown,
        });
      }
    }
    const exclude: number[] = [];
    const unknownExcluded: string[] = [];
    for (const id of req.exclude ?? []) {
      const i = snap.itemIndex.get(id);
      if (i === undefined) unknownExcluded.push(id);
      else exclude.push(i);
    }
    if (unknownExcluded.length) {
      warnings.push({
        code: 'unknown_excluded_item',
        message: 'Excluded ids not in the catalogue were ignored.',
        itemIds: unknownExcluded,
      });
    }
    const request: PoolRequest = {
      policy,
      user: this.model.servingUser(snap, req.userId),
      size: req.size,
      candidates,
      exclude,
      seed: randomInt(0, 2 ** 32),
    };
    return { req, snap, request, warnings };
  }

  private serveHere(p: Prepared): Served {
    try {
      const r = p.request;
      const s = serveSlate(
        p.snap,
        r.policy,
        { user: r.user, size: r.size, candidates: r.candidates, exclude: r.exclude },
        new Rng(r.seed),
      );
      return {
        ...s,
        items: s.items.map((it) => ({
          itemId: it.itemId,
          position: it.position,
          score: it.score,
          propensity: it.propensity,
          inSlateProbability: it.inSlateProbability,
        })),
      };
    } catch (e) {
      throw this.httpError(e, p.req);
    }
  }

  /** The core's errors as HTTP answers (anything else is a bug: rethrown, a 500). */
  private httpError(e: unknown, req: SlateRequest): unknown {
    if (e instanceof NoCandidatesError) {
      return req.candidates
        ? new AppException(422, 'no_valid_candidates', `None of the candidates can be served: ${e.message}`)
        : new AppException(409, 'no_servable_items', `No item can be served: ${e.message}`);
    }
    if (e instanceof PolicyInputError) return new AppException(400, 'invalid_request', e.message);
    if (e instanceof SlateTimeoutError) {
      return new AppException(503, 'slate_timeout', `The slate could not be chosen in time: ${e.message}.`);
    }
    if (e instanceof SlateOverloadedError) {
      this.countShed(e);
      return new AppException(
        503,
        'overloaded',
        `The service is overloaded: this request ${e.message}; retry later.`,
        undefined,
        { headers: { 'Retry-After': '1' }, expected: true },
      );
    }
    return e;
  }

  /** Count a shed request; warn at most once per `SHED_WARN_MS`, with how many were shed since the last warning. */
  private countShed(e: SlateOverloadedError): void {
    this.shed.inc();
    const shed = this.shedWarning.take();
    if (shed === undefined) return;
    this.logger.warn({
      msg: 'overloaded: slate requests that waited longer than SLATE_QUEUE_MS for a slate worker were answered 503',
      shed,
      queueMs: e.limitMs,
    });
  }

  /** Warnings, the impression (logged) and the response. */
  private finish(
    p: Prepared,
    served: Served,
    thread: 'worker' | 'main',
    client?: SlateClient,
  ): SlateResponse {
    // Nothing after this check yields before the answer is written, so a slate is logged iff it was sent.
    if (client?.gone()) throw this.gone('after_serving');
    this.served.inc({ thread });
    const { req, snap, warnings } = p;
    if (served.inactiveCandidates.length) {
      warnings.push({
        code: 'inactive_item',
        message: 'Inactive candidates were skipped.',
        itemIds: served.inactiveCandidates.map((i) => snap.itemIds[i]),
      });
    }
    if (served.items.length < req.size) {
      warnings.push({
        code: 'fewer_items_than_requested',
        message: `Only ${served.items.length} of the ${req.size} requested items could be served.`,
      });
    }

    const items = served.items;
    const servedAt = Date.now();
    const impression: Impression = {
      slateId: uuid7(servedAt), // time-ordered: the slates table's key index grows at its right edge
      userId: req.userId,
      servedAt: new Date(servedAt),
      policy: p.request.policy,
      seed: p.request.seed,
      modelVersion: served.modelVersion,
      experiment: null,
      context: req.context ?? null,
      requestedSize: req.size,
      propensityKind: served.propensityKind,
      simulatedSlates: served.simulatedSlates,
      items,
    };
    this.log.record(impression);
    return {
      slateId: impression.slateId,
      items,
      policy: { ...p.request.policy },
      modelVersion: served.modelVersion,
      propensityKind: served.propensityKind,
      ...(warnings.length ? { warnings } : {}),
    };
  }

  async find(slateId: string): Promise<Impression | null> {
    return this.impressions.findById(slateId);
  }
}
