import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { buildServingSnapshot, decodeModel, FactorModel, type ServingSnapshot } from '../../core/model';
import { decodeLearningBatch } from '../../core/ingest/learning-log';
import { prepareSnapshotForWasm } from '../../core/policies/score-moments.wasm';
import { APP_CONFIG, type AppConfig } from '../../config/config';
import type { ItemInput } from '../items/item';
import { ItemsRepository } from '../items/items.repository';
import { ItemsService } from '../items/items.service';
import { MetricsService } from '../metrics/metrics.service';
import { applyLearningUpdates, UserHistories } from './apply-updates';
import { ModelStateRepository } from './model-state.repository';

export interface ModelInfo {
  version: string;
  dim: number;
  items: number;
  activeItems: number;
  users: number;
  builtAt: string;
}

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
  /** Recent targets per user (fold-in), shared with the learning path. */
  readonly histories = new UserHistories();
  /** Folded-in user vectors, overlaid on the trained ones for serving. */
  readonly folded = new Map<string, Float32Array>();
  /** Id of the last learning-log batch applied to the in-memory model. */
  lastBatchId = 0;
  /** Last batch id covered by the newest checkpoint (0: none yet). */
  checkpointBatchId = 0;
  private builtAt = new Date(0);
  /** Active items of the current snapshot (counted once per rebuild). */
  private activeItems = 0;
  private timer?: NodeJS.Timeout;
  private readonly itemsGauge: Gauge;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly items: ItemsRepository,
    private readonly itemsService: ItemsService,
    private readonly state: ModelStateRepository,
    metrics: MetricsService,
  ) {
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
      model = decodeModel(checkpoint.payload);
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
    let replayed = 0;
    for await (const batch of this.state.logAfter(this.lastBatchId)) {
      const { updates } = decodeLearningBatch(batch.payload);
      applyLearningUpdates(model, this.histories, this.folded, updates);
      this.lastBatchId = batch.batchId;
      replayed++;
    }
    this.model = model;
    this.rebuild();
    this.logger.log({
      msg: 'model recovered',
      fromCheckpoint: checkpoint !== null,
      replayedBatches: replayed,
    });
    this.itemsService.onChange((changed) => {
      for (const it of changed) this.upsertItem(this.model, it);
      this.model.generation++;
      this.scheduleRebuild();
    });
    this.logger.log({ msg: 'model ready', ...this.info() });
  }

  onModuleDestroy(): void {
    clearTimeout(this.timer);
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

  /** The snapshot to serve from: read it once per request and use that reference throughout. */
  current(): ServingSnapshot {
    return this.snapshot;
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

  /** Build the next snapshot now (learning calls this through `scheduleRebuild`). */
  rebuild(): void {
    const built = buildServingSnapshot(this.model);
    let next = built;
    if (this.folded.size) {
      const users = new Map(built.users);
      for (const [id, v] of this.folded) users.set(id, v);
      next = Object.freeze({ ...built, users });
    }
    // Lay the snapshot out for the SIMD scorer before it serves, so no request pays for it.
    prepareSnapshotForWasm(next);
    this.snapshot = next;
    this.builtAt = new Date();
    let active = 0;
    for (let i = 0; i < next.active.length; i++) active += next.active[i];
    this.activeItems = active;
    this.itemsGauge.set({ state: 'active' }, active);
    this.itemsGauge.set({ state: 'inactive' }, next.itemIds.length - active);
  }

  scheduleRebuild(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      try {
        this.rebuild();
      } catch (e) {
        this.logger.error({ err: e }, 'model rebuild failed; serving the previous snapshot');
      }
    }, this.config.model.refreshMs);
  }

  private upsertItem(model: FactorModel, it: Pick<ItemInput, 'id' | 'group' | 'active'>): void {
    const i = model.addItem(it.id, it.group, it.active);
    model.itemActive[i] = it.active ? 1 : 0;
  }
}
