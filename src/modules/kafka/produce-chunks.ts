import type { IHeaders, Message } from 'kafkajs';

/**
 * Bytes a record adds to a produce request, estimated from above: key, value and headers, plus 32 for the record's
 * own framing (length, attributes, timestamp and offset deltas, header counts: varints of at most 5 bytes each).
 */
export function messageBytes(m: Message): number {
  return 32 + sizeOf(m.key) + sizeOf(m.value) + headerBytes(m.headers);
}

/**
 * Messages cut into consecutive runs of at most `maxBytes` (`messageBytes`), in order, each run one produce
 * request. kafkajs puts all of a send's messages for one partition into a single record batch, and the broker
 * refuses a batch larger than its `message.max.bytes` (the topic's `max.message.bytes`), 1 MB by default, with
 * MESSAGE_TOO_LARGE: a send of 700 impressions failed so on the pinned broker. A message larger than `maxBytes`
 * alone makes a run of its own (the broker may still take it: `maxBytes` sits below its limit).
 */
export function chunkMessages<M extends Message>(messages: readonly M[], maxBytes: number): M[][] {
  const chunks: M[][] = [];
  let chunk: M[] = [];
  let bytes = 0;
  for (const m of messages) {
    const b = messageBytes(m);
    if (chunk.length > 0 && bytes + b > maxBytes) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(m);
    bytes += b;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** The broker refused a record batch as larger than it takes (kafkajs' protocol error MESSAGE_TOO_LARGE). */
export function isMessageTooLarge(e: unknown): boolean {
  return (e as { type?: unknown } | null)?.type === 'MESSAGE_TOO_LARGE';
}

function sizeOf(v: Buffer | string | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}

function headerBytes(h: IHeaders | undefined): number {
  if (!h) return 0;
  let n = 0;
  for (const [k, v] of Object.entries(h)) {
    const values = Array.isArray(v) ? v : [v];
    for (const x of values) n += 10 + Buffer.byteLength(k) + sizeOf(x as Buffer | string | undefined);
  }
  return n;
}
