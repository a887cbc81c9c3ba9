import { chunkMessages, isMessageTooLarge, messageBytes } from './produce-chunks';

describe('chunkMessages', () => {
  const msg = (value: string, key = 'k') => ({ key, value });

  it('counts keys, values (as UTF-8), headers and a framing allowance', () => {
    expect(messageBytes(msg('abc'))).toBe(32 + 1 + 3);
    expect(messageBytes({ key: null, value: 'é' })).toBe(32 + 2);
    expect(messageBytes({ value: Buffer.alloc(10), headers: { h: 'xy', m: ['a', Buffer.alloc(3)] } })).toBe(
      32 + 10 + (10 + 1 + 2) + (10 + 1 + 1) + (10 + 1 + 3),
    );
  });

  it('cuts runs in order, each within the limit, and keeps every message once', () => {
    const messages = Array.from({ length: 1000 }, (_, i) => msg('x'.repeat(100 + (i % 37) * 50), `u${i}`));
    const limit = 20_000;
    const chunks = chunkMessages(messages, limit);
    expect(chunks.flat()).toEqual(messages);
    for (const c of chunks) expect(c.reduce((s, m) => s + messageBytes(m), 0)).toBeLessThanOrEqual(limit);
    // Greedy: a run ends only where the next message would not fit.
    for (let k = 0; k + 1 < chunks.length; k++) {
      const used = chunks[k].reduce((s, m) => s + messageBytes(m), 0);
      expect(used + messageBytes(chunks[k + 1][0])).toBeGreaterThan(limit);
    }
  });

  it('puts a message larger than the limit in a run of its own', () => {
    const big = msg('x'.repeat(500));
    expect(chunkMessages([msg('a'), big, msg('b')], 100)).toEqual([[msg('a')], [big], [msg('b')]]);
    expect(chunkMessages([], 100)).toEqual([]);
  });

  it('recognises the broker refusing a batch as too large', () => {
    expect(isMessageTooLarge({ type: 'MESSAGE_TOO_LARGE', name: 'KafkaJSProtocolError' })).toBe(true);
    expect(isMessageTooLarge(new Error('MESSAGE_TOO_LARGE'))).toBe(false);
    expect(isMessageTooLarge(null)).toBe(false);
  });
});
