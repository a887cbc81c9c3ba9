import { z } from 'zod';
import { isStorableString, NOT_STORABLE_MESSAGE } from '../common/validation/storable-text';

/*
 * The limits below are exported for the hand-written fast path (fast-event.ts), which mirrors this schema rule
 * by rule; its differential spec checks the two agree. Change a rule here and that spec must change with it.
 */
/** Longest eventId (Unicode code points, as zod counts a string's length). */
export const EVENT_ID_MAX_LENGTH = 200;
/** Longest userId / itemId (code points). */
export const ID_MAX_LENGTH = 256;
/** Positions are 1-based, at most this. */
export const MAX_POSITION = 100;
/** An impression lists at least one and at most this many items. */
export const MAX_IMPRESSION_ITEMS = 100;
/** Longest modelVersion (code points). */
export const MODEL_VERSION_MAX_LENGTH = 200;

/**
 * The events reco learns from, one schema for every way in (Kafka topics, POST /v1/events, replayed files).
 * `reco schemas` (and docs/events.schema.json) exports them as JSON Schema for producers in other languages.
 */
const EventIdSchema = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(EVENT_ID_MAX_LENGTH, { error: `must be at most ${EVENT_ID_MAX_LENGTH} characters` })
  // Stored in the click log: a value PostgreSQL refuses would hold up every click after it.
  .refine(isStorableString, { error: NOT_STORABLE_MESSAGE })
  .describe('Unique id of the event: a redelivered or retried event with the same id is learned once.');

const IdSchema = (what: string) =>
  z
    .string()
    .min(1, { error: 'must not be empty' })
    .max(ID_MAX_LENGTH, { error: `must be at most ${ID_MAX_LENGTH} characters` })
    .refine(isStorableString, { error: NOT_STORABLE_MESSAGE })
    .describe(what);

/** The ISO form of `ts` (exported so the fast path tests strings with this very schema's pattern). */
export const IsoTimestampSchema = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' });

const TimestampSchema = z
  .union([IsoTimestampSchema, z.number().int().nonnegative()], {
    error: 'must be an ISO 8601 date-time string or epoch milliseconds',
  })
  .transform((v) => (typeof v === 'number' ? v : Date.parse(v)))
  .describe('When it happened: ISO 8601 date-time, or epoch milliseconds.');

export const ClickEventSchema = z.strictObject({
  eventId: EventIdSchema,
  type: z.literal('click'),
  slateId: z.uuid({ error: 'must be the slateId of a served slate (a UUID)' }).optional(),
  userId: IdSchema('The user who clicked.'),
  itemId: IdSchema('The item clicked.'),
  position: z
    .number()
    .int({ error: 'must be a whole number' })
    .min(1, { error: `must be between 1 and ${MAX_POSITION}` })
    .max(MAX_POSITION, { error: `must be between 1 and ${MAX_POSITION}` })
    .optional()
    .describe('1-based position in the slate, if known (the served slate is the reference).'),
  ts: TimestampSchema,
});

export const ImpressionEventSchema = z.strictObject({
  eventId: EventIdSchema,
  type: z.literal('impression'),
  slateId: z.uuid({ error: 'must be a UUID' }),
  userId: IdSchema('The user the slate was served to.'),
  ts: TimestampSchema,
  items: z
    .array(
      z.strictObject({
        itemId: IdSchema('An item of the slate.'),
        position: z.number().int().min(1).max(MAX_POSITION),
        propensity: z
          .number()
          .gt(0, { error: 'must be in (0, 1]' })
          .max(1, { error: 'must be in (0, 1]' })
          .describe('P(serving policy put this item at this position)'),
      }),
    )
    .min(1, { error: 'must list at least one item' })
    .max(MAX_IMPRESSION_ITEMS, { error: `must list at most ${MAX_IMPRESSION_ITEMS} items` })
    // A slate shows an item once, and one item per position: a repeat would be learned twice or at two positions.
    .superRefine((items, ctx) => {
      const byId = new Map<string, number>();
      const byPosition = new Map<number, number>();
      items.forEach((it, k) => {
        const sameId = byId.get(it.itemId);
        if (sameId !== undefined)
          ctx.addIssue({ code: 'custom', path: [k, 'itemId'], message: `repeats items[${sameId}].itemId` });
        else byId.set(it.itemId, k);
        const samePosition = byPosition.get(it.position);
        if (samePosition !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [k, 'position'],
            message: `repeats items[${samePosition}].position`,
          });
        else byPosition.set(it.position, k);
      });
    }),
  policy: z.record(z.string(), z.unknown()).optional(),
  modelVersion: z.string().max(MODEL_VERSION_MAX_LENGTH).optional(),
  experiment: z.strictObject({ key: z.string(), variant: z.string() }).optional(),
});

export const RecoEventSchema = z.discriminatedUnion('type', [ClickEventSchema, ImpressionEventSchema], {
  error: (issue) => (issue.code === 'invalid_union' ? 'type must be one of click, impression' : undefined),
});

export type ClickEvent = z.output<typeof ClickEventSchema>;
export type ImpressionEvent = z.output<typeof ImpressionEventSchema>;
export type RecoEvent = z.output<typeof RecoEventSchema>;

/** Largest event accepted (bytes of its JSON); larger ones are rejected (HTTP) or dead-lettered (Kafka). */
export const MAX_EVENT_BYTES = 64 * 1024;
