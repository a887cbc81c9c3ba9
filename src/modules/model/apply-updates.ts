import type { FactorModel } from '../../core/model';
import type { LearningUpdate } from '../../core/ingest/learning-log';

const HISTORY = 100;

interface History {
  items: number[];
  targets: number[];
  weights: number[];
  /**
   * The push that last changed it, counted over all users: a folded-in vector computed at stamp s is current while
   * the stamp is still s. Unique across users and time, so a user dropped and back again never repeats a stamp
   * that a cached fold-in of their old history could match.
   */
  stamp: number;
}

/**
 * Recent learning targets per user, for fold-in (in memory; rebuilt by log replay after a restart). Pushing
 * is O(1) amortised: a history grows to twice its cap before its oldest half is dropped in one splice, and
 * readers take the newest `HISTORY` entries.
 *
 * At most `maxUsers` users (`FOLD_IN_USERS`), the least recently updated dropped first: a full history is
 * ≈ 5.7 KB of heap (measured: 10^5 users after 200 pushes each), and every user served slates gets one once
 * their join windows close, so an unbounded map would outgrow V8's heap at about 7·10^5 users. A dropped user
 * is served as one with no history (their trained vector, or the population prior) until new events come.
 */
export class UserHistories {
  /** In order of last update, oldest first (a Map keeps insertion order: an update moves its user last). */
  private readonly byUser = new Map<string, History>();
  /** The user of the last push: updates come in runs per user (a closed slate's items), moved once a run. */
  private last: string | undefined;
  private droppedUsers = 0;
  private pushes = 0;

  constructor(private readonly maxUsers = Infinity) {
    if (!(maxUsers >= 1)) throw new RangeError(`maxUsers must be at least 1, got ${maxUsers}`);
  }

  push(userId: string, item: number, target: number, weight: number): void {
    let h = this.byUser.get(userId);
    if (!h) {
      h = { items: [], targets: [], weights: [], stamp: 0 };
      this.byUser.set(userId, h);
      if (this.byUser.size > this.maxUsers) {
        this.byUser.delete(this.byUser.keys().next().value!);
        this.droppedUsers++;
      }
    } else if (this.last !== userId) {
      this.byUser.delete(userId);
      this.byUser.set(userId, h);
    }
    this.last = userId;
    h.items.push(item);
    h.targets.push(target);
    h.weights.push(weight);
    h.stamp = ++this.pushes;
    if (h.items.length >= 2 * HISTORY) {
      const drop = h.items.length - HISTORY;
      h.items.splice(0, drop);
      h.targets.splice(0, drop);
      h.weights.splice(0, drop);
    }
  }

  /** The user's newest (at most 100) targets, and the stamp that identifies them; undefined: no history. */
  get(userId: string): { items: number[]; targets: number[]; weights: number[]; stamp: number } | undefined {
    const h = this.byUser.get(userId);
    if (!h) return undefined;
    if (h.items.length <= HISTORY) return h;
    return {
      items: h.items.slice(-HISTORY),
      targets: h.targets.slice(-HISTORY),
      weights: h.weights.slice(-HISTORY),
      stamp: h.stamp,
    };
  }

  get size(): number {
    return this.byUser.size;
  }

  /** Users dropped so far to stay within `maxUsers`. */
  get dropped(): number {
    return this.droppedUsers;
  }
}

/**
 * Apply one committed batch of learning updates to the in-memory model: add the terms to the additive item
 * statistics (with the stored user vectors, so that live learning and log replay add the very same terms) and
 * note each target in its user's history. Folding users in is left to serving (`ModelService.servingUser`),
 * which does it for the users who ask for a slate, against the system built with the snapshot: learning never
 * pays for users who are not being served.
 *
 * Users are covariates of the online item update, fixed between batch trainings: an update uses the user's
 * trained vector, or the population default, never a folded-in one. That makes each event's contribution a
 * function of the event alone, so the statistics do not depend on how events were batched or ordered, and a
 * recovered model equals a clean single pass over the distinct events.
 */
export function applyLearningUpdates(
  model: FactorModel,
  histories: UserHistories,
  updates: readonly LearningUpdate[],
): void {
  if (updates.length === 0) return;
  const x64 = new Float64Array(model.dim);
  for (const u of updates) {
    const i = model.addItem(u.itemId);
    for (let k = 0; k < x64.length; k++) x64[k] = u.x[k];
    model.stats.add(i, x64, 0, u.target, u.weight);
    model.markDirty(i);
    histories.push(u.userId, i, u.target, u.weight);
  }
  model.generation++;
}

/**
 * The user vectors updates use, rounded to f32: the user's estimate, else the population default. One per
 * user and batch (a batch's updates of one user share it; the vectors only change with a batch training).
 */
export class UserVectors {
  private readonly byUser = new Map<string, Float32Array>();
  private fallback?: Float32Array;

  constructor(private readonly model: FactorModel) {}

  get(userId: string): Float32Array {
    let x = this.byUser.get(userId);
    if (x) return x;
    const u = this.model.userIndex.get(userId);
    if (u === undefined) x = this.fallback ??= Float32Array.from(this.model.defaultUser);
    else x = Float32Array.from(this.model.userVector(u));
    this.byUser.set(userId, x);
    return x;
  }
}
