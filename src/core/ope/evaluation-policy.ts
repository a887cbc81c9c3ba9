import type { Rng } from '../random';
import type { ActionDistribution } from './action-distribution';

/**
 * What an estimator needs from the policy being evaluated. Any serving policy can be wrapped in this:
 * the per-position estimators read only `actionDistribution`, the slate estimators also
 * `jointProbability`, replay only `sampleSlate` (and `learner` for policies that learn as they go).
 *
 * `C` is the caller's context type (OBD: the user-feature tuple; reco: user id and features); the log
 * stores a context id per slate and the caller passes the table of distinct contexts.
 */
export interface EvaluationPolicy<C = unknown> {
  readonly name: string;
  readonly nItems: number;
  readonly slateSize: number;
  /** π(item at position | context) for each distinct context (nContexts = 1 if context-free). */
  actionDistribution(contexts: readonly C[]): ActionDistribution;
  /** Probability that the policy shows items[j] at positions[j] for every j (other positions free). */
  jointProbability(context: C, positions: ArrayLike<number>, items: ArrayLike<number>): number;
  /** Draw one full slate into `out` (length slateSize). */
  sampleSlate(context: C, rng: Rng, out: Int32Array): void;
  /** A fresh mutable copy that learns from the rewards replay feeds it (Li et al. 2011); absent = static. */
  learner?(): ReplayLearner<C>;
}

/** Mutable policy state for replay: choose, then learn from accepted slots only. */
export interface ReplayLearner<C = unknown> {
  sampleSlate(context: C, rng: Rng, out: Int32Array): void;
  update(context: C, item: number, position: number, reward: number): void;
}
