import { Rng } from '../random';
import { parsePolicyConfig } from './policy-config.schema';
import { prepareSnapshotForServing, serveSlate } from './serve-slate';
import { inSlateProbability, makePropensities } from './slate-propensities';
import { syntheticSnapshot } from './testing/synthetic-snapshot';

/**
 * In-slate probabilities are sums of a row's probabilities, and a sum can round a hair above 1 (counts over 257
 * slates: 67/257 + 165/257 + 25/257 = 1.0000000000000002 in doubles). A logged probability above 1 is rejected by
 * the reco log's own schema (`inSlateProbability` ≤ 1), so a replay would drop the slate: they are capped at 1.
 */
describe('in-slate probabilities never exceed 1', () => {
  const row = [67 / 257, 165 / 257, 25 / 257];

  it('the rounding is real: the row sums above 1 in doubles', () => {
    expect(row[0] + row[1] + row[2]).toBeGreaterThan(1);
  });

  it('explicit rows and class rows are capped at 1', () => {
    const m = makePropensities({
      k: 3,
      kind: 'monte_carlo',
      simulatedSlates: 257,
      candidates: Int32Array.from([0, 1, 2, 3]),
      items: Int32Array.from([0]),
      p: Float64Array.from(row),
      otherProbability: new Float64Array(3),
      otherCount: 1,
      classes: {
        start: Int32Array.from([0, 2]),
        members: Int32Array.from([1, 2]),
        p: Float64Array.from(row),
      },
    });
    expect(inSlateProbability(m, 0)).toBe(1);
    expect(inSlateProbability(m, 1)).toBe(1);
    expect(inSlateProbability(m, 3)).toBe(0);
  });

  it('served slates: a counted slate of 33 items on a learned catalogue (where the sum rounded above 1 before)', () => {
    const snap = syntheticSnapshot({ items: 10_000, dim: 32, seed: 2, coldFraction: 0.01 });
    prepareSnapshotForServing(snap);
    const user = Array.from({ length: 32 }, (_, j) => Math.sin(7 + j));
    const s = serveSlate(snap, parsePolicyConfig({ name: 'in_slate_ts' }), { size: 33, user }, new Rng(1));
    expect(s.simulatedSlates).toBe(257);
    let atOne = 0;
    for (const it of s.items) {
      expect(it.inSlateProbability).toBeLessThanOrEqual(1);
      expect(it.inSlateProbability).toBeGreaterThanOrEqual(it.propensity);
      if (it.inSlateProbability === 1) atOne++;
    }
    expect(atOne).toBeGreaterThan(0); // items in every simulated slate: the case that rounded
  });
});
