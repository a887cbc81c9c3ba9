import { MAX_EVENT_BYTES, RecoEventSchema, type RecoEvent } from '../../messaging/event.schema';
import { zodIssues } from '../../common/validation/zod-issues';
import { fastParseEvent } from '../../messaging/fast-event';

export type Decoded = { ok: true; event: RecoEvent } | { ok: false; reason: string };

/**
 * A Kafka message's value to an event, or the reason it is poison (empty, oversized, not JSON, not an event).
 * Pure: the consumer dead-letters what this rejects.
 */
export function decodeEventMessage(value: Buffer | null, expectedType?: RecoEvent['type']): Decoded {
  if (value === null || value.length === 0) return { ok: false, reason: 'empty message (no value)' };
  if (value.length > MAX_EVENT_BYTES) {
    return { ok: false, reason: `message of ${value.length} bytes is larger than ${MAX_EVENT_BYTES}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (e) {
    return { ok: false, reason: `not valid JSON: ${(e as Error).message}` };
  }
  // The hand-written happy path first (no copy, a fraction of zod's time); zod decides, and explains, the rest.
  let event = fastParseEvent(json);
  if (!event) {
    const parsed = RecoEventSchema.safeParse(json);
    if (!parsed.success) {
      return {
        ok: false,
        reason: `schema: ${zodIssues(parsed.error)
          .map((i) => `${i.path}: ${i.message}`)
          .join('; ')}`,
      };
    }
    event = parsed.data;
  }
  if (expectedType && event.type !== expectedType) {
    return {
      ok: false,
      reason: `type "${event.type}" does not belong on this topic (expected ${expectedType})`,
    };
  }
  return { ok: true, event };
}
