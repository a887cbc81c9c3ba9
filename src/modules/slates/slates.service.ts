import { randomInt, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
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
import { ImpressionLogService } from './impression-log.service';
import { ImpressionsRepository } from './impressions.repository';

type SlateRequest = z.infer<typeof SlateRequestSchema>;

@Injectable()
export class SlatesService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly model: ModelService,
    private readonly log: ImpressionLogService,
    private readonly impressions: ImpressionsRepository,
  ) {}

  /** Serve one slate with the default policy (experiments choose another per variant). */
  serve(req: SlateRequest, policy: PolicyConfig = this.config.serving.defaultPolicy): SlateResponse {
    // One snapshot reference for the whole request: a swap in between cannot mix two models.
    const snap = this.model.current();
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

    const seed = randomInt(0, 2 ** 32);
    let served: ReturnType<typeof serveSlate>;
    try {
      served = serveSlate(
        snap,
        policy,
        { user: this.model.servingUser(snap, req.userId), size: req.size, candidates, exclude },
        new Rng(seed),
      );
    } catch (e) {
      if (e instanceof NoCandidatesError) {
        throw req.candidates
          ? new AppException(422, 'no_valid_candidates', `None of the candidates can be served: ${e.message}`)
          : new AppException(409, 'no_servable_items', `No item can be served: ${e.message}`);
      }
      if (e instanceof PolicyInputError) throw new AppException(400, 'invalid_request', e.message);
      throw e;
    }
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

    const items = served.items.map((it) => ({
      itemId: it.itemId,
      position: it.position,
      score: it.score,
      propensity: it.propensity,
      inSlateProbability: it.inSlateProbability,
    }));
    const impression: Impression = {
      slateId: randomUUID(),
      userId: req.userId,
      servedAt: new Date(),
      policy: served.policy,
      seed,
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
      policy: { ...served.policy },
      modelVersion: served.modelVersion,
      propensityKind: served.propensityKind,
      ...(warnings.length ? { warnings } : {}),
    };
  }

  async find(slateId: string): Promise<Impression | null> {
    return this.impressions.findById(slateId);
  }
}
