import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeModel } from '../core/model';
import { probAt } from '../core/ope/action-distribution';
import { ServingPolicyAdapter } from '../core/ope/eval-policies/serving.policy';
import { dcgExamination, splitByTime, trainOnLog } from '../core/ope/eval-policies/train-on-log';
import { parsePolicyConfig, type PolicyConfigInput } from '../core/policies/policy-config.schema';
import { Rng } from '../core/random';
import { loadRecoJsonl } from './reco-jsonl.loader';
import { runReplay, servingPolicyOf, type ReplayRunOptions } from './run-replay';

// A log where the answer is known. Uniform random logger over 8 items, 3 positions (propensity 1/8 at every
// position); position-based clicks P(click | item a at position j) = θ_j γ_a with the service's dcg θ. The users
// are alike, so the best policy is the same for all: items 0, 1, 2 in that order, worth
// (γ0 θ0 + γ1 θ1 + γ2 θ2) / 3 per slot.
const gamma = [0.6, 0.45, 0.3, 0.2, 0.1, 0.05, 0.05, 0.02];
const theta = [1, 1 / Math.log2(3), 0.5];
const M = gamma.length;
const K = 3;
const bestValue = (gamma[0] * theta[0] + gamma[1] * theta[1] + gamma[2] * theta[2]) / K;
const randomValue = (gamma.reduce((a, b) => a + b) / M) * (theta.reduce((a, b) => a + b) / K);

function writeLog(path: string, slates: number, seed: number): void {
  const rng = new Rng(seed);
  const lines: string[] = [];
  const t0 = Date.parse('2026-11-20T00:00:00Z');
  for (let s = 0; s < slates; s++) {
    const perm = Array.from({ length: M }, (_, i) => i);
    rng.shuffle(perm);
    const shown = perm.slice(0, K);
    const clicks = shown.filter((a, j) => rng.next() < gamma[a] * theta[j]).map((a) => `sku-${a}`);
    lines.push(
      JSON.stringify({
        slateId: `s-${s}`,
        user: `user-${s % 40}`,
        ts: new Date(t0 + s * 60_000).toISOString(),
        policy: 'random',
        items: shown.map((a, j) => ({ item: `sku-${a}`, position: j + 1, propensity: 1 / M })),
        clicks,
      }),
    );
  }
  writeFileSync(path, lines.join('\n') + '\n');
}

const dir = mkdtempSync(join(tmpdir(), 'reco-serving-replay-'));
const log = join(dir, 'week.jsonl');
writeLog(log, 6000, 11);

const base: ReplayRunOptions = {
  format: 'reco',
  log,
  policy: 'random',
  estimators: ['ipw', 'snipw', 'dr', 'sips', 'rips'],
  bootstrap: 200,
  seed: 1,
  nSim: 1000,
  clipMax: 100,
  replayLearn: false,
};

describe('our serving policies on a reco log (time split, trained model)', () => {
  it('tells a serving-policy JSON from a slate table by content', () => {
    expect(servingPolicyOf('{"name":"greedy"}')).toEqual({ name: 'greedy' });
    expect(servingPolicyOf('{"name":"in_slate_ts","propensitySlates":1000}')).toEqual({
      name: 'in_slate_ts',
      propensitySlates: 1000,
    });
    expect(servingPolicyOf('{"kind":"fixed","name":"top3","slate":["a","b","c"]}')).toBeNull();
    expect(servingPolicyOf('random')).toBeNull();
    expect(() => servingPolicyOf('{"name":"eps_greedy","epsilon":3}')).toThrow(/policy.epsilon/);
    expect(() => servingPolicyOf('{"name":"thompson"}')).toThrow(/in_slate_ts, slate_ts/);
  });

  /**
   * The exact value of a serving policy on the evaluated half, from its own action distribution: under the
   * position-based model a slot's expected reward depends only on π(a at j | user), so
   * V = (1/K) Σ_slates Σ_{a,j} π(a at j | user of the slate) γ_a θ_j / #slates. The model is retrained here
   * exactly as runReplay trains it (same split, dim 8, seed 1, 10 epochs: deterministic).
   */
  async function truthOf(config: PolicyConfigInput): Promise<number> {
    const loaded = await loadRecoJsonl(log);
    const parts = splitByTime(loaded.log, 0.5);
    const { snapshot } = trainOnLog(parts.train, {
      itemIds: loaded.itemIds,
      contexts: loaded.contexts,
      examination: dcgExamination(K),
      model: { dim: 8 },
      seed: 1,
    });
    const policy = new ServingPolicyAdapter(snapshot, parsePolicyConfig(config), {
      itemIds: loaded.itemIds,
      slateSize: K,
      seed: 1,
    });
    const d = policy.actionDistribution(loaded.contexts);
    const gammaOf = loaded.itemIds.map((id) => gamma[Number(id.slice(4))]);
    let v = 0;
    for (let s = 0; s < parts.evaluate.nSlates; s++) {
      const c = parts.evaluate.context[s];
      for (let a = 0; a < M; a++) for (let j = 0; j < K; j++) v += probAt(d, c, a, j) * gammaOf[a] * theta[j];
    }
    return v / (K * parts.evaluate.nSlates);
  }

  it.each([
    // Slate estimators of in-slate TS need Monte Carlo joints per user (slow): its per-position ones only.
    ['greedy', { name: 'greedy' }, ['ipw', 'snipw', 'dr', 'sips', 'rips']],
    ['in_slate_ts', { name: 'in_slate_ts', propensitySlates: 1000 }, ['ipw', 'snipw', 'dr']],
  ] as const)(
    '%s trained on the first half is estimated on the second half at its known value',
    async (_n, config, estimators) => {
      const run = await runReplay({
        ...base,
        policy: JSON.stringify(config),
        trainFraction: 0.5,
        estimators,
      });
      const s = run.summary;
      expect(s.split).toMatchObject({ trainFraction: 0.5, trainSlates: 3000, evaluatedSlates: 3000 });
      expect(s.split!.cutoff).toBe(
        new Date(Date.parse('2026-11-20T00:00:00Z') + 3000 * 60_000).toISOString(),
      );
      expect(s.slates).toBe(3000);
      expect(s.model).toMatchObject({ items: M, users: 40 });
      const truth = await truthOf(config);
      // The model learned the relevance order from the Y/θ targets: the policy is worth much more than the
      // logger, and not more than the best slate.
      expect(truth).toBeGreaterThan(randomValue + 0.5 * (bestValue - randomValue));
      expect(truth).toBeLessThanOrEqual(bestValue + 1e-12);
      const e = s.estimates;
      for (const name of estimators) {
        const est = e[name];
        // Within 3.5 bootstrap standard errors of the truth (5 estimators: a loose family-wise bound).
        expect(Math.abs(est.value! - truth)).toBeLessThan(3.5 * est.se!);
      }
      // And far from what the logger earned: the test has the power to tell them apart.
      expect(Math.abs(s.onPolicyMeanReward - randomValue)).toBeLessThan(0.02);
      expect(e.ipw.value! - s.onPolicyMeanReward).toBeGreaterThan(6 * e.ipw.se!);
    },
    30_000,
  );

  it('evaluates every policy on the same evaluated part: random there is the on-policy mean', async () => {
    const run = await runReplay({ ...base, policy: '{"name":"random"}', trainFraction: 0.5 });
    const { estimates, onPolicyMeanReward } = run.summary;
    expect(estimates.ipw.value).toBeCloseTo(onPolicyMeanReward, 12);
    expect(estimates.sips.value).toBeCloseTo(onPolicyMeanReward, 12);
    const builtin = await runReplay({ ...base, policy: 'random', trainFraction: 0.5 });
    expect(builtin.summary.estimates.ipw.value).toBeCloseTo(onPolicyMeanReward, 12);
    expect(builtin.summary.model).toBeUndefined();
  });

  it('takes a model file (--model) and evaluates the whole log with it; without a model it says what to give', async () => {
    const loaded = await loadRecoJsonl(log);
    const { model } = trainOnLog(loaded.log, {
      itemIds: loaded.itemIds,
      contexts: loaded.contexts,
      examination: theta,
      model: { dim: 4 },
      seed: 2,
    });
    const file = join(dir, 'model.bin');
    writeFileSync(file, encodeModel(model));
    const { loadModelFile } = await import('./run-replay');
    const run = await runReplay({
      ...base,
      policy: '{"name":"eps_greedy","epsilon":0.1}',
      model: { snapshot: loadModelFile(file), source: file },
      estimators: ['ipw', 'snipw'],
    });
    // ε-greedy: each slot is the greedy item with probability 0.9 (less the chance it was taken earlier) — its
    // value is between random's and greedy's, nearer greedy's.
    const v = run.summary.estimates.ipw.value!;
    expect(run.summary.slates).toBe(6000);
    expect(v).toBeGreaterThan(randomValue + 0.5 * (bestValue - randomValue));
    expect(v).toBeLessThan(bestValue + 3 * run.summary.estimates.ipw.se!);
    await expect(runReplay({ ...base, policy: '{"name":"greedy"}' })).rejects.toThrow(
      /needs a model: --model FILE, --model-from-db, or --train-fraction/,
    );
  });
});
