import { MAX_EVENT_BYTES } from '../../messaging/event.schema';
import { decodeEventMessage } from './decode-message';

describe('decodeEventMessage', () => {
  const click = { eventId: 'e', type: 'click', userId: 'u', itemId: 'i', ts: 1 };
  it('decodes a valid event', () => {
    const d = decodeEventMessage(Buffer.from(JSON.stringify(click)));
    expect(d).toEqual({ ok: true, event: { ...click } });
  });
  it('names why a message is poison', () => {
    expect(decodeEventMessage(null)).toEqual({ ok: false, reason: 'empty message (no value)' });
    expect(decodeEventMessage(Buffer.from('{oops'))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^not valid JSON/),
    });
    expect(decodeEventMessage(Buffer.from(JSON.stringify({ ...click, userId: 5 })))).toEqual({
      ok: false,
      reason: 'schema: userId: Invalid input: expected string, received number',
    });
    expect(decodeEventMessage(Buffer.from(JSON.stringify({ ...click, type: 'hover' })))).toMatchObject({
      reason: 'schema: type: type must be one of click, impression',
    });
    expect(decodeEventMessage(Buffer.alloc(MAX_EVENT_BYTES + 1, 32))).toMatchObject({
      reason: expect.stringMatching(/larger than/),
    });
    expect(decodeEventMessage(Buffer.from(JSON.stringify(click)), 'impression')).toMatchObject({
      reason: 'type "click" does not belong on this topic (expected impression)',
    });
  });
});
