import { apAtK, argsortDesc, dcgAtK, gradedMetricsAtK, recallAtK } from './ranking-metrics';

describe('ranking metrics', () => {
  it('compute DCG, recall and AP by their definitions', () => {
    const rels = [1, 0, 1, 0, 0, 1];
    expect(dcgAtK(rels, 3)).toBeCloseTo(1 + 1 / 2, 12); // 1/log2(2) + 1/log2(4)
    expect(recallAtK(rels, 3)).toBeCloseTo(2 / 3, 12);
    expect(apAtK(rels, 3)).toBeCloseTo((1 + 2 / 3) / 3, 12);
    expect(apAtK([0, 1], 5)).toBeCloseTo(0.5, 12);
    expect(recallAtK([0, 0], 2)).toBeNaN();
  });

  it('graded metrics are normalised by the total relevance and reach 1 only for a perfect top-K', () => {
    const g = gradedMetricsAtK([1, 0.2, 0, 0], 2);
    expect(g.recall).toBeCloseTo(1, 12);
    expect(g.dcg).toBeCloseTo((1 + 0.2 / Math.log2(3)) / 1.2, 12);
    expect(g.map).toBeCloseTo((1 + 1.2 / 2) / 1.2, 12);
    expect(gradedMetricsAtK([0, 1], 1).recall).toBe(0);
  });

  it('ranks by descending score, ties by index', () => {
    expect(argsortDesc([0.1, 0.5, 0.5, -1])).toEqual([1, 2, 0, 3]);
  });
});
