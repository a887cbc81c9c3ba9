import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';

export const MAX_EVENTS_PER_REQUEST = 1000;

/** The envelope is checked here; each event is checked on its own so one bad event rejects only itself. */
export const EventsRequestSchema = z.strictObject({
  events: z
    .array(z.unknown())
    .min(1, { error: 'must hold at least one event' })
    .max(MAX_EVENTS_PER_REQUEST, { error: `must hold at most ${MAX_EVENTS_PER_REQUEST} events` })
    .describe('Click and impression events (see the event schemas: `reco schemas`).'),
});

export const EventResultSchema = z.object({
  index: z.number().int(),
  eventId: z.string().optional(),
  status: z.enum(['accepted', 'duplicate', 'rejected']),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

export const EventsResponseSchema = z.object({
  accepted: z.number().int(),
  duplicates: z.number().int(),
  rejected: z.number().int(),
  results: z.array(EventResultSchema),
});

export class EventsRequestDto extends createZodDto(EventsRequestSchema) {}
export class EventsResponseDto extends createZodDto(EventsResponseSchema) {}
export type EventsResponse = z.infer<typeof EventsResponseSchema>;
