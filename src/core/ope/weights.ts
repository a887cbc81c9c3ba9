import { probAt, type ActionDistribution } from './action-distribution';
import { behaviourPrefixJoint, type BehaviourModel } from './behaviour';
import type { EvaluationPolicy } from './evaluation-policy';
import type { SlotLog } from './slot-log';

/** Per slot: w = π(item at position | context) / μ(item at position | context). */
export function marginalWeights(log: SlotLog, dist: ActionDistribution): Float64Array {
  const w = new Float64Array(log.nSlots);
  for (let s = 0; s < log.nSlates; s++) {
    const c = log.context[s];
    for (let i = log.slateStart[s]; i < log.slateStart[s + 1]; i++)
      w[i] = probAt(dist, c, log.item[i], log.position[i]) / log.pscore[i];
  }
  return w;
}

/**
 * Per slot: the cascade weight π(slots ≤ this) / μ(slots ≤ this) over the slate's *observed* slots
 * (RIPS); the last slot of each slate carries the whole-slate weight (SIPS).
 *
 * For a partial slate the earlier unobserved positions are marginalised out, not conditioned on:
 * exact for the observed sub-slate, a cascade only in the order of the positions we saw.
 */
export function cascadeWeights<C>(
  log: SlotLog,
  policy: EvaluationPolicy<C>,
  contexts: readonly C[],
  behaviour: BehaviourModel,
): Float64Array {
  const w = new Float64Array(log.nSlots);
  const positions = new Int32Array(log.slateSize);
  const items = new Int32Array(log.slateSize);
  for (let s = 0; s < log.nSlates; s++) {
    const a = log.slateStart[s];
    const b = log.slateStart[s + 1];
    const ctx = contexts[log.context[s]];
    for (let i = a; i < b; i++) {
      const count = i - a + 1;
      positions[count - 1] = log.position[i];
      items[count - 1] = log.item[i];
      const pi = policy.jointProbability(ctx, positions.subarray(0, count), items.subarray(0, count));
      w[i] = pi / behaviourPrefixJoint(log, behaviour, a, count);
    }
  }
  return w;
}

/** Kish's effective sample size (Σw)² / Σw²: how many unweighted samples the weights are worth. */
export function effectiveSampleSize(w: ArrayLike<number>): number {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < w.length; i++) {
    s += w[i];
    s2 += w[i] * w[i];
  }
  return s2 > 0 ? (s * s) / s2 : 0;
}
