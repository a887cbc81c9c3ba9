import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Counter } from 'prom-client';
import type { DataSource } from 'typeorm';
import { PeriodicPass } from '../../common/periodic-pass';
import { APP_CONFIG, type AppConfig } from '../../config/config';
import { MetricsService } from '../metrics/metrics.service';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** A pass every minute; the first one soon after start. */
const PASS_MS = 60_000;
const FIRST_PASS_MS = 5_000;
/** Rows a DELETE takes at most (one short statement each, so that the log's own writes never wait long). */
const CHUNK_ROWS = 5_000;
/** Chunks a pass takes at most a table (10^6 rows a minute: far above any rate the service logs at). */
const CHUNKS_PER_PASS = 200;

export interface PruneResult {
  slates: number;
  clicks: number;
  /** Outbox entries of slates already past the retention (undelivered for that long: their slates are gone). */
  outbox: number;
}

/**
 * `LOG_RETENTION_DAYS`: deletes served slates older than the retention (by `served_at`) and clicks learned longer
 * ago than both the retention and the dedupe horizon (a click row is also the record that deduplicates its
 * event id), a chunk of `CHUNK_ROWS` rows a statement, by their indexes. Replicas may prune at once: a row
 * another one deletes first is skipped. Nothing else reads these rows back but replays, exports and
 * retraining, which read only what is kept.
 */
@Injectable()
export class LogRetentionService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(LogRetentionService.name);
  private readonly deleted: Counter;
  private readonly passes = new PeriodicPass(
    () => this.prune(),
    (e) => this.logger.warn({ err: e }, 'deleting logs past LOG_RETENTION_DAYS failed'),
  );

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    metrics: MetricsService,
  ) {
    this.deleted = new Counter({
      name: 'reco_log_rows_deleted_total',
      help: 'Rows deleted for LOG_RETENTION_DAYS, by table (slates, clicks, impression_outbox).',
      labelNames: ['table'] as const,
      registers: [metrics.registry],
    });
  }

  onApplicationBootstrap(): void {
    if (!(this.config.retention.logDays > 0)) return;
    this.passes.start(PASS_MS, FIRST_PASS_MS);
  }

  async onModuleDestroy(): Promise<void> {
    this.passes.stop();
    await this.passes.running;
  }

  /** One pass (the timer's; tests call it): what is past the retention at `now`, up to CHUNKS_PER_PASS chunks a table. */
  async prune(now = Date.now(), chunkRows = CHUNK_ROWS): Promise<PruneResult> {
    const days = this.config.retention.logDays;
    if (!(days > 0)) return { slates: 0, clicks: 0, outbox: 0 };
    const started = performance.now();
    const logCutoff = new Date(now - days * DAY_MS);
    const learnedCutoff = new Date(
      Math.min(logCutoff.getTime(), now - this.config.learning.dedupeHorizonHours * HOUR_MS),
    );
    const slates = await this.chunks(
      'slates',
      `SELECT ctid FROM slates WHERE served_at < $1 LIMIT $2`,
      [logCutoff],
      chunkRows,
    );
    const clicks = await this.chunks(
      'clicks',
      `SELECT ctid FROM clicks WHERE learned_at < $1 LIMIT $2`,
      [learnedCutoff],
      chunkRows,
    );
    const outbox = await this.chunks(
      'impression_outbox',
      `SELECT ctid FROM impression_outbox WHERE created_at < $1 LIMIT $2`,
      [logCutoff],
      chunkRows,
    );
    if (slates || clicks || outbox)
      this.logger.log({
        msg: 'deleted logs past LOG_RETENTION_DAYS',
        slates,
        clicks,
        outbox,
        servedBefore: logCutoff.toISOString(),
        clicksLearnedBefore: learnedCutoff.toISOString(),
        ms: Math.round(performance.now() - started),
      });
    return { slates, clicks, outbox };
  }

  /** DELETE the rows `select` finds (its last parameter: the chunk's size), chunk after chunk. */
  private async chunks(
    table: 'slates' | 'clicks' | 'impression_outbox',
    select: string,
    params: unknown[],
    chunkRows: number,
  ): Promise<number> {
    let total = 0;
    for (let c = 0; c < CHUNKS_PER_PASS && !this.passes.stopped; c++) {
      const [{ n }] = (await this.dataSource.query(
        `WITH gone AS (DELETE FROM ${table} WHERE ctid = ANY(ARRAY(${select})) RETURNING 1)
         SELECT count(*)::int AS n FROM gone`,
        [...params, chunkRows],
      )) as { n: number }[];
      total += n;
      if (n > 0) this.deleted.inc({ table }, n);
      if (n < chunkRows) break;
    }
    return total;
  }
}
