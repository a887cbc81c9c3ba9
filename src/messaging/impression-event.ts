import type { ImpressionEvent } from './event.schema';

/** A served slate (as logged) in the impression event schema, the form the learner and the topic carry. */
export function impressionEvent(slate: {
  slateId: string;
  userId: string;
  servedAt: Date;
  modelVersion: string;
  policy: object;
  experiment: { key: string; variant: string } | null;
  items: readonly { itemId: string; position: number; propensity: number }[];
}): ImpressionEvent {
  return {
    eventId: `impression:${slate.slateId}`,
    type: 'impression',
    slateId: slate.slateId,
    userId: slate.userId,
    ts: slate.servedAt.getTime(),
    // A Monte Carlo propensity can round to 0 for an item that was served; the schema needs (0, 1].
    items: slate.items.map((i) => ({
      itemId: i.itemId,
      position: i.position,
      propensity: Math.max(i.propensity, 1e-9),
    })),
    policy: { ...slate.policy },
    modelVersion: slate.modelVersion,
    ...(slate.experiment ? { experiment: slate.experiment } : {}),
  };
}
