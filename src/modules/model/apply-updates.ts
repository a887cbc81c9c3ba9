import { foldInUser, type FactorModel } from '../../core/model';
import type { LearningUpdate } from '../../core/ingest/learning-log';

const HISTORY = 100;

/** Recent learning targets per user, for fold-in (in memory; rebuilt by log replay after a restart). */
export class UserHistories {
  private readonly byUser = new Map<string, { items: number[]; targets: number[]; weights: number[] }>();

  push(userId: string, item: number, target: number, weight: number): void {
    let h = this.byUser.get(userId);
    if (!h) {
      h = { items: [], targets: [], weights: [] };
      this.byUser.set(userId, h);
    }
    h.items.push(item);
    h.targets.push(target);
    h.weights.push(weight);
    if (h.items.length > HISTORY) {
      h.items.shift();
      h.targets.shift();
      h.weights.shift();
    }
  }

  get(userId: string) {
    return this.byUser.get(userId);
  }
}

/**
 * Apply one committed batch of learning updates to the in-memory model: the additive statistics first (with
 * the stored user vectors, so that live learning and log replay add the very same terms), then fold in every
 * touched user from their recent history against the refreshed item means, into `folded` (serving's overlay).
 *
 * Users are covariates of the online item update, fixed between batch trainings: an update uses the user's
 * trained vector, or the population default, never a folded-in one. That makes each event's contribution a
 * function of the event alone, so the statistics do not depend on how events were batched or ordered, and a
 * recovered model equals a clean single pass over the distinct events. Fold-in serves personal slates at once
 * without feeding back into the statistics between trainings.
 */
export function applyLearningUpdates(
  model: FactorModel,
  histories: UserHistories,
  folded: Map<string, Float32Array>,
  updates: readonly LearningUpdate[],
): void {
  if (updates.length === 0) return;
  const x64 = new Float64Array(model.dim);
  const touchedUsers = new Set<string>();
  for (const u of updates) {
    const i = model.addItem(u.itemId);
    for (let k = 0; k < x64.length; k++) x64[k] = u.x[k];
    model.stats.add(i, x64, 0, u.target, u.weight);
    model.markDirty(i);
    histories.push(u.userId, i, u.target, u.weight);
    touchedUsers.add(u.userId);
  }
  model.generation++;
  for (const userId of touchedUsers) {
    const h = histories.get(userId)!;
    // Against the current means without re-solving stale posteriors first: the overlay only serves, and the
    // snapshot rebuild re-solves them within MODEL_REFRESH_MS anyway.
    folded.set(
      userId,
      Float32Array.from(
        foldInUser(model, { items: h.items, targets: h.targets, weights: h.weights }, undefined, {
          refresh: false,
        }),
      ),
    );
  }
}

/** The user vector an update uses now: the user's estimate, else the population default; rounded to f32. */
export function userVectorFor(model: FactorModel, userId: string): Float32Array {
  const u = model.userIndex.get(userId);
  return Float32Array.from(u === undefined ? model.defaultUser : model.userVector(u));
}
