import type { Impression } from './impression';

/** A served slate of one item, for specs of what handles impressions (the log, the publisher). */
export function testImpression(slateId: string, userId = 'u'): Impression {
  return {
    slateId,
    userId,
    servedAt: new Date(0),
    policy: { name: 'random' } as Impression['policy'],
    seed: 1,
    modelVersion: 'm1',
    experiment: null,
    context: null,
    requestedSize: 1,
    propensityKind: 'exact',
    simulatedSlates: 0,
    items: [{ itemId: 'a', position: 1, score: 0, propensity: 1, inSlateProbability: 1 }],
  };
}
