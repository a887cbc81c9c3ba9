import { isStorableString } from '../common/validation/storable-text';
import {
  ClickEventSchema,
  EVENT_ID_MAX_LENGTH,
  ID_MAX_LENGTH,
  ImpressionEventSchema,
  IsoTimestampSchema,
  MAX_IMPRESSION_ITEMS,
  MAX_POSITION,
  MODEL_VERSION_MAX_LENGTH,
  type ClickEvent,
  type ImpressionEvent,
  type RecoEvent,
} from './event.schema';

/*
 * A hand-written validator for the happy path of `RecoEventSchema` (event.schema.ts), rule by rule:
 *
 *   top level   an object (plain: prototype Object.prototype); `type` picks the schema (click | impression);
 *               strict: no key outside the schema's, every required key present;
 *   eventId     string, 1..EVENT_ID_MAX_LENGTH code points, storable (no U+0000, no unpaired surrogate);
 *   userId, itemId (click and impression items)
 *               string, 1..ID_MAX_LENGTH code points, storable;
 *   slateId     click: optional; impression: required; a string matching the schema's own UUID pattern;
 *   position    click: optional; items: required; a number, an integer, 1..MAX_POSITION;
 *   ts          a safe integer >= 0 (kept), or a string matching the schema's own ISO date-time pattern
 *               (turned into Date.parse of it, as the schema's transform does);
 *   items       an array of 1..MAX_IMPRESSION_ITEMS strict objects { itemId, position, propensity }, no two
 *               with the same itemId or the same position;
 *   propensity  a finite number in (0, 1];
 *   policy      optional; a plain object (any values, as z.unknown());
 *   modelVersion optional; a string of at most MODEL_VERSION_MAX_LENGTH code points (any content);
 *   experiment  optional; a strict object { key: string, variant: string }.
 *
 * zod measures a string's length in Unicode code points (a surrogate pair counts once), and so does this.
 * Anything else, and anything this is not sure of (a key holding `undefined`, an object with another
 * prototype, a symbol key, a `__proto__` key in `policy`), answers undefined: the caller then asks zod, which
 * names what is wrong. fast-event.spec.ts checks the two agree on many thousands of generated inputs.
 */

/** The pattern of a zod string format, read off the schema itself so the two cannot drift apart. */
function patternOf(schema: { _zod: { def: unknown } }, what: string): RegExp {
  const p = (schema._zod.def as { pattern?: unknown }).pattern;
  if (!(p instanceof RegExp) || p.global || p.sticky)
    throw new Error(`fast-event: no usable pattern for ${what}`);
  return p;
}

const ISO_DATETIME = patternOf(IsoTimestampSchema, 'ts');
const CLICK_SLATE_ID = patternOf(ClickEventSchema.shape.slateId.unwrap(), 'click slateId');
const IMPRESSION_SLATE_ID = patternOf(ImpressionEventSchema.shape.slateId, 'impression slateId');

const OBJECT_PROTOTYPE = Object.prototype;
const ARRAY_PROTOTYPE = Array.prototype;
const hasOwn = Object.prototype.hasOwnProperty;

/**
 * The event `RecoEventSchema.safeParse(json)` would return, or undefined when this fast path cannot vouch
 * for it (then ask zod). Meant for what JSON.parse returns: it does not copy, so the event it returns may be
 * `json` itself, or share its items, policy and experiment (a copy with `ts` converted when `ts` is an ISO
 * string). Callers must own `json` and not change it afterwards; nothing on the learning path changes events.
 */
export function fastParseEvent(json: unknown): RecoEvent | undefined {
  if (!isPlainObject(json)) return undefined;
  const type = json.type;
  if (type === 'click') return fastClick(json);
  if (type === 'impression') return fastImpression(json);
  return undefined;
}

function fastClick(o: Record<string, unknown>): ClickEvent | undefined {
  let keys = 0;
  for (const k in o) {
    switch (k) {
      case 'eventId':
      case 'type':
      case 'slateId':
      case 'userId':
      case 'itemId':
      case 'position':
      case 'ts':
        keys++;
        break;
      default:
        return undefined; // strict: an unknown key (zod names it)
    }
  }
  if (
    !isId(o.eventId, EVENT_ID_MAX_LENGTH) ||
    !isId(o.userId, ID_MAX_LENGTH) ||
    !isId(o.itemId, ID_MAX_LENGTH)
  ) {
    return undefined;
  }
  let present = 5; // eventId, type, userId, itemId, ts
  const slateId = o.slateId;
  if (slateId !== undefined) {
    if (typeof slateId !== 'string' || !CLICK_SLATE_ID.test(slateId)) return undefined;
    present++;
  }
  const position = o.position;
  if (position !== undefined) {
    if (!isPosition(position)) return undefined;
    present++;
  }
  // More keys than defined values: an optional key holding undefined (not JSON; zod keeps such a key).
  if (keys !== present) return undefined;
  return withTs(o) as ClickEvent | undefined;
}

function fastImpression(o: Record<string, unknown>): ImpressionEvent | undefined {
  let keys = 0;
  for (const k in o) {
    switch (k) {
      case 'eventId':
      case 'type':
      case 'slateId':
      case 'userId':
      case 'ts':
      case 'items':
      case 'policy':
      case 'modelVersion':
      case 'experiment':
        keys++;
        break;
      default:
        return undefined;
    }
  }
  if (!isId(o.eventId, EVENT_ID_MAX_LENGTH) || !isId(o.userId, ID_MAX_LENGTH)) return undefined;
  const slateId = o.slateId;
  if (typeof slateId !== 'string' || !IMPRESSION_SLATE_ID.test(slateId)) return undefined;
  if (!areItems(o.items)) return undefined;
  let present = 6; // eventId, type, slateId, userId, ts, items
  const policy = o.policy;
  if (policy !== undefined) {
    if (!isPolicy(policy)) return undefined;
    present++;
  }
  const modelVersion = o.modelVersion;
  if (modelVersion !== undefined) {
    if (typeof modelVersion !== 'string' || !fitsLength(modelVersion, MODEL_VERSION_MAX_LENGTH))
      return undefined;
    present++;
  }
  const experiment = o.experiment;
  if (experiment !== undefined) {
    if (!isExperiment(experiment)) return undefined;
    present++;
  }
  if (keys !== present) return undefined;
  return withTs(o) as ImpressionEvent | undefined;
}

/**
 * The event with its `ts` as the schema outputs it: the object itself for epoch milliseconds, a copy with
 * Date.parse of it for an ISO string; undefined when `ts` is neither.
 */
function withTs(o: Record<string, unknown>): RecoEvent | undefined {
  const ts = o.ts;
  if (isEpochMs(ts)) return o as unknown as RecoEvent;
  if (typeof ts === 'string' && ISO_DATETIME.test(ts))
    return { ...o, ts: Date.parse(ts) } as unknown as RecoEvent;
  return undefined;
}

function areItems(items: unknown): boolean {
  if (!Array.isArray(items) || Object.getPrototypeOf(items) !== ARRAY_PROTOTYPE) return false;
  const n = items.length;
  if (n < 1 || n > MAX_IMPRESSION_ITEMS) return false;
  for (let i = 0; i < n; i++) {
    const it: unknown = items[i];
    if (!isPlainObject(it)) return false; // also a hole of a sparse array
    let keys = 0;
    for (const k in it) {
      if (k !== 'itemId' && k !== 'position' && k !== 'propensity') return false;
      keys++;
    }
    // Three known keys and three valid values: exactly { itemId, position, propensity }.
    if (keys !== 3 || !isId(it.itemId, ID_MAX_LENGTH) || !isPosition(it.position)) return false;
    const p = it.propensity;
    // A number in (0, 1]: NaN fails both comparisons, infinities the bounds.
    if (typeof p !== 'number' || !(p > 0 && p <= 1)) return false;
    // No repeated itemId or position (a slate is short: pairwise beats building sets).
    for (let j = 0; j < i; j++) {
      const other = items[j] as { itemId: string; position: number };
      if (other.itemId === it.itemId || other.position === it.position) return false;
    }
  }
  return true;
}

/** z.record(z.string(), z.unknown()) of a JSON object (zod would drop an own `__proto__` key: ask it). */
function isPolicy(p: unknown): boolean {
  return isPlainObject(p) && !hasOwn.call(p, '__proto__') && Object.getOwnPropertySymbols(p).length === 0;
}

function isExperiment(e: unknown): boolean {
  if (!isPlainObject(e)) return false;
  let keys = 0;
  for (const k in e) {
    if (k !== 'key' && k !== 'variant') return false;
    keys++;
  }
  return keys === 2 && typeof e.key === 'string' && typeof e.variant === 'string';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === OBJECT_PROTOTYPE;
}

/** An id: a non-empty storable string of at most `max` code points. */
function isId(v: unknown, max: number): boolean {
  return typeof v === 'string' && v.length > 0 && isStorableString(v) && fitsLength(v, max);
}

/** At most `max` code points, counted as zod counts them (a well-formed surrogate pair is one). */
function fitsLength(s: string, max: number): boolean {
  const units = s.length;
  if (units <= max) return true;
  let count = units;
  for (let i = 0; i < units - 1; i++) {
    if ((s.charCodeAt(i) & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      count--;
      i++;
    }
  }
  return count <= max;
}

/** z.number().int().min(1).max(MAX_POSITION). */
function isPosition(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_POSITION;
}

/** z.number().int().nonnegative(): a safe integer >= 0 (-0 included, as zod has it). */
function isEpochMs(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
