import { z } from 'zod';
import { isStorableString, NOT_STORABLE_MESSAGE } from '../common/validation/storable-text';

/**
 * The events reco learns from, one schema for every way in (Kafka topics, POST /v1/events, replayed files).
 * `reco schemas` (and docs/events.schema.json) exports them as JSON Schema for producers in other languages.
 */
const EventIdSchema = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(200, { error: 'must be at most 200 characters' })
  // Stored in the click log: a value PostgreSQL refuses would hold up every click after it.
  .refine(isStorableString, { error: NOT_STORABLE_MESSAGE })
  .describe('Unique id of the event: a redelivered or retried event with the same id is learned once.');

const IdSchema = (what: string) =>
  z
    .string()
    .min(1, { error: 'must not be empty' })
    .max(256, { error: 'must be at most 256 characters' })
    .refine(isStorableString, { error: NOT_STORABLE_MESSAGE })
    .describe(what);

const TimestampSchema = z
  .union(
    [
      z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }),
      z.number().int().nonnegative(),
    ],
    {
      error: 'must be an ISO 8601 date-time string or epoch milliseconds',
    },
  )
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
    .min(1, { error: 'must be between 1 and 100' })
    .max(100, { error: 'must be between 1 and 100' })
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
        position: z.number().int().min(1).max(100),
        propensity: z
          .number()
          .gt(0, { error: 'must be in (0, 1]' })
          .max(1, { error: 'must be in (0, 1]' })
          .describe('P(serving policy put this item at this position)'),
      }),
    )
    .min(1, { error: 'must list at least one item' })
    .max(100, { error: 'must list at most 100 items' }),
  policy: z.record(z.string(), z.unknown()).optional(),
  modelVersion: z.string().max(200).optional(),
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
