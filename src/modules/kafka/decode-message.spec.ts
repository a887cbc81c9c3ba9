import { MAX_EVENT_BYTES } from '../../messaging/event.schema';
import { decodeEventMessage } from './decode-message';

describe('decodeEventMessage', () => {
  const click = { eventId: 'e', type: 'click', userId: 'u', itemId: 'i', ts: 1 };
  it('decodes a valid event', () => {
    const d = decodeEventMessage(Buffer.from(JSON.stringify(click)));
    expect(d).toEqual({ ok: true, event: { ...click } });
  });
  it('decodes through the fast path and through zod alike', () => {
    // ISO ts (fast path, converted in a copy) and an impression with every optional field.
    const iso = { ...click, ts: '2026-11-27T10:00:00.5+01:00' };
    expect(decodeEventMessage(Buffer.from(JSON.stringify(iso)), 'click')).toEqual({
      ok: true,
      event: { ...click, ts: Date.parse('2026-11-27T10:00:00.5+01:00') },
    });
    const imp = {
      eventId: 'e',
      type: 'impression',
      slateId: '8c1f4a52-5bde-4bd7-9d3b-1f0a5f3e2c11',
      userId: 'u',
      ts: 2,
      items: [{ itemId: 'i', position: 1, propensity: 0.5 }],
      policy: { name: 'ts' },
      modelVersion: 'v1',
      experiment: { key: 'k', variant: 'b' },
    };
    expect(decodeEventMessage(Buffer.from(JSON.stringify(imp)), 'impression')).toEqual({
      ok: true,
      event: imp,
    });
    // A `__proto__` key in policy is left to zod, which drops it.
    const proto = JSON.stringify({ ...imp, policy: { a: 1 } }).replace('"a":1', '"__proto__":{"x":1},"a":1');
    expect(decodeEventMessage(Buffer.from(proto))).toEqual({ ok: true, event: { ...imp, policy: { a: 1 } } });
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
