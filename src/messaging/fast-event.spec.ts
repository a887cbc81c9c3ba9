import { isDeepStrictEqual } from 'node:util';
import {
  ClickEventSchema,
  EVENT_ID_MAX_LENGTH,
  ImpressionEventSchema,
  ID_MAX_LENGTH,
  MAX_IMPRESSION_ITEMS,
  MAX_POSITION,
  MODEL_VERSION_MAX_LENGTH,
  RecoEventSchema,
} from './event.schema';
import { fastParseEvent } from './fast-event';

/*
 * Differential test of fastParseEvent against RecoEventSchema.safeParse on generated inputs (seeded, so a
 * failure reproduces). Every input is tried twice: as JSON.parse(JSON.stringify(input)) (what Kafka and HTTP
 * hand over) and as the raw object (which may hold undefined, NaN, -0, null prototypes, symbols...).
 *
 * For every input: if fast returns an event, zod succeeds and its data is deep-equal to fast's: node's
 * isDeepStrictEqual on every one (stricter than jest's toEqual: same prototypes, keys holding undefined
 * count, -0 is not 0), jest's toEqual on a sample (it costs 10 s over all of them). For the JSON form, zod succeeding means fast must succeed too,
 * except for the one documented fallback (a `__proto__` key in policy). The raw form may fall back; counted.
 *
 * Rules exercised (each mutation is tagged; the last test checks every tag was hit, with the outcome it
 * expects at least once):
 *   obj            top level not an object (null, array, string, number, boolean)
 *   type           type missing, unknown, wrong case, not a string
 *   strict         an extra key at top level (click, impression), in an item, in experiment; __proto__ key
 *   required       each required key missing (click, impression, item, experiment)
 *   id.type        eventId / userId / itemId / items[].itemId not a string
 *   id.empty       empty string
 *   id.max         one code point past EVENT_ID_MAX_LENGTH / ID_MAX_LENGTH (ASCII, and surrogate pairs)
 *   id.max.ok      exactly at the limit (ASCII, surrogate pairs: more UTF-16 units than the limit)
 *   id.nul         U+0000 anywhere
 *   id.surrogate   a lone high / low surrogate, at the start, middle or end; a reversed pair
 *   id.pair.ok     well-formed surrogate pairs (emoji) inside ids
 *   slate.uuid     slateId not a UUID (bad version / variant nibble, length, braces, newline, type)
 *   slate.ok       nil and max UUIDs, upper case
 *   click.slate.missing.ok  click without slateId
 *   position       not a number, not an integer, 0, negative, -0, past MAX_POSITION, huge, NaN, Infinity
 *   position.ok    1 and MAX_POSITION (click and item)
 *   ts.num         negative, fractional, past MAX_SAFE_INTEGER, NaN, Infinity, numeric string
 *   ts.num.ok      0, -0, MAX_SAFE_INTEGER
 *   ts.iso         date only, no seconds, no zone, lower case t / z, space, +24:00, +0100, 24:00, :60,
 *                  Feb 29 of a common year, month 13, day 31 of a 30-day month, leading space, trailing newline
 *   ts.iso.ok      offsets, fractions of any length, Feb 29 of leap years (2000, 2400), years 0000 and 9999
 *   items          not an array, empty, MAX_IMPRESSION_ITEMS + 1, an element not an object (null, array, string)
 *   items.ok       exactly MAX_IMPRESSION_ITEMS items (distinct)
 *   items.unique   an itemId or a position repeated
 *   propensity     0, -0, negative, > 1, NaN, Infinity, a string, null
 *   propensity.ok  1, Number.MIN_VALUE, 1e-9
 *   policy         not a record: array, null, string, number
 *   policy.ok      nested JSON, keys like constructor / toString / "" / unicode, U+0000 in values
 *   modelVersion   not a string, one code point past MODEL_VERSION_MAX_LENGTH
 *   modelVersion.ok  empty, exactly at the limit (ASCII and pairs), with U+0000 or a lone surrogate (not checked)
 *   experiment     not an object, key / variant not strings, missing, extra key
 *   experiment.ok  any strings (empty, U+0000)
 *   nonjson        undefined values, null-prototype objects, class instances, symbol keys, sparse arrays
 *   text           inputs written as JSON text: 1e400 (Infinity), -0, 1.0, duplicate keys, __proto__ keys
 */

// --- seeded randomness -------------------------------------------------------------------------------
// mulberry32, its state in a typed array.
// Math cached: a global looked up in jest's vm context costs more than the generator itself.
const { imul, floor } = Math;
const state = new Int32Array([0x5eed1234]);
function rand(): number {
  state[0] = (state[0] + 0x6d2b79f5) | 0;
  let t = state[0];
  t = imul(t ^ (t >>> 15), t | 1);
  t ^= t + imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo: number, hi: number) => lo + floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[floor(rand() * xs.length)];
const chance = (p: number) => rand() < p;

// --- valid values ------------------------------------------------------------------------------------
const ASCII = ['a', 'b', 'z'];
const CHARS = [
  'a',
  'b',
  'z',
  '0',
  '9',
  '-',
  '_',
  ':',
  ' ',
  'é',
  'ß',
  '漢',
  '€',
  '😀',
  '𝄞',
  '"',
  '\\',
  '\n',
  '\u007f',
];
function text(codePoints: number): string {
  // Long strings repeat a random piece (cheaper; their length is what matters).
  if (codePoints > 16) return text(16).repeat(floor(codePoints / 16)) + text(codePoints % 16);
  let s = '';
  for (let k = 0; k < codePoints; k++) s += chance(0.7) ? pick(ASCII) : pick(CHARS);
  return s;
}
function id(max: number): string {
  const r = rand();
  if (r < 0.7) return text(int(1, 12));
  if (r < 0.8) return text(max);
  if (r < 0.85) return '😀'.repeat(max);
  return text(int(1, max));
}
const HEX = '0123456789abcdef';
function hex(n: number): string {
  let s = '';
  for (let k = 0; k < n; k++) s += HEX[int(0, 15)];
  return s;
}
function uuid(): string {
  const r = rand();
  if (r < 0.05) return '00000000-0000-0000-0000-000000000000';
  if (r < 0.1) return 'ffffffff-ffff-ffff-ffff-ffffffffffff';
  const u = `${hex(8)}-${hex(4)}-${int(1, 8)}${hex(3)}-${pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`;
  return chance(0.2) ? u.toUpperCase() : u;
}
const pad = (n: number, w: number) => String(n).padStart(w, '0');
function isoTs(): string {
  const r = rand();
  if (r < 0.03)
    return pick(['2000-02-29T12:00:00Z', '2400-02-29T00:00:00Z', '2024-02-29T23:59:59.999+05:30']);
  if (r < 0.05)
    return pick(['0000-01-01T00:00:00Z', '9999-12-31T23:59:59.999999999-23:59', '1970-01-01T00:00:00+00:00']);
  const y = int(1970, 2100);
  const m = int(1, 12);
  const d = int(1, 28);
  const frac = chance(0.5) ? `.${hex(int(1, 9)).replace(/[a-f]/g, '7')}` : '';
  const zone = chance(0.5) ? 'Z' : `${pick(['+', '-'])}${pad(int(0, 23), 2)}:${pad(int(0, 59), 2)}`;
  return `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}T${pad(int(0, 23), 2)}:${pad(int(0, 59), 2)}:${pad(int(0, 59), 2)}${frac}${zone}`;
}
function ts(): number | string {
  const r = rand();
  if (r < 0.4) return isoTs();
  if (r < 0.45) return pick([0, Number.MAX_SAFE_INTEGER, 1]);
  return int(1_500_000_000_000, 1_900_000_000_000);
}
function position(): number {
  return chance(0.1) ? pick([1, MAX_POSITION]) : int(1, MAX_POSITION);
}
function propensity(): number {
  const r = rand();
  if (r < 0.1) return 1;
  if (r < 0.12) return pick([Number.MIN_VALUE, 1e-9]);
  return 1 - rand(); // (0, 1]
}
function jsonValue(depth: number): unknown {
  const r = rand();
  if (depth > 2 || r < 0.5)
    return pick([0, 1.5, -3, true, false, null, 'x', '', 'a\u0000b', text(int(0, 5))]);
  if (r < 0.75) return Array.from({ length: int(0, 3) }, () => jsonValue(depth + 1));
  return policy(depth + 1);
}
function policy(depth = 0): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let k = int(0, 4); k > 0; k--)
    o[pick(['name', 'k', '', 'constructor', 'toString', 'ключ', '😀', text(3)])] = jsonValue(depth);
  return o;
}

type Obj = Record<string, unknown>;
function click(): Obj {
  const c: Obj = { eventId: id(EVENT_ID_MAX_LENGTH), type: 'click' };
  if (chance(0.6)) c.slateId = uuid();
  c.userId = id(ID_MAX_LENGTH);
  c.itemId = id(ID_MAX_LENGTH);
  if (chance(0.5)) c.position = position();
  c.ts = ts();
  return c;
}
function item(): Obj {
  return { itemId: id(ID_MAX_LENGTH), position: position(), propensity: propensity() };
}
/** A slate's items, made distinct (schema rule): a repeated itemId gets a suffix, positions a permutation. */
function distinct(items: Obj[]): Obj[] {
  const ids = new Set<unknown>();
  const free = Array.from({ length: MAX_POSITION }, (_, k) => k + 1);
  const used = new Set<unknown>();
  return items.map((it, k) => {
    let itemId = it.itemId as string;
    if (ids.has(itemId)) itemId = `${[...itemId].slice(0, ID_MAX_LENGTH - 4).join('')}~${k}`;
    ids.add(itemId);
    let position = it.position as number;
    if (used.has(position)) position = free.find((p) => !used.has(p))!;
    used.add(position);
    return { ...it, itemId, position };
  });
}
function impression(): Obj {
  const n = chance(0.05) ? MAX_IMPRESSION_ITEMS : int(1, 6);
  const e: Obj = {
    eventId: id(EVENT_ID_MAX_LENGTH),
    type: 'impression',
    slateId: uuid(),
    userId: id(ID_MAX_LENGTH),
    ts: ts(),
    items: distinct(Array.from({ length: n }, item)),
  };
  if (chance(0.5)) e.policy = policy();
  if (chance(0.5)) e.modelVersion = chance(0.1) ? '' : text(int(1, 20));
  if (chance(0.4)) e.experiment = { key: text(int(0, 6)), variant: text(int(0, 6)) };
  return e;
}

// --- mutations ----------------------------------------------------------------------------------------
const WRONG = [null, true, false, 0, 1, -1, 1.5, '', 'x', [], [1], {}, { a: 1 }];
const NONJSON = [undefined, NaN, Infinity, -Infinity, -0, Object.create(null) as object, new (class X {})()];

interface Case {
  input: unknown;
  tag: string;
  /** The JSON form may legitimately fall back to zod. */
  mayFallBack?: boolean;
}

function stringMutations(max: number): { value: unknown; tag: string }[] {
  return [
    { value: '', tag: 'id.empty' },
    { value: 'a'.repeat(max), tag: 'id.max.ok' },
    { value: '😀'.repeat(max), tag: 'id.max.ok' },
    { value: `${'a'.repeat(max - 1)}😀`, tag: 'id.max.ok' },
    { value: 'a'.repeat(max + 1), tag: 'id.max' },
    { value: '😀'.repeat(max + 1), tag: 'id.max' },
    { value: `${'a'.repeat(max)}😀`, tag: 'id.max' },
    { value: 'x😀y𝄞', tag: 'id.pair.ok' },
    { value: '\u0000', tag: 'id.nul' },
    { value: 'a\u0000', tag: 'id.nul' },
    { value: 'a\u0000b😀', tag: 'id.nul' },
    { value: '\ud800', tag: 'id.surrogate' },
    { value: '\udc00', tag: 'id.surrogate' },
    { value: 'a\ud83d', tag: 'id.surrogate' },
    { value: '\ude00a', tag: 'id.surrogate' },
    { value: 'a\ud83db', tag: 'id.surrogate' },
    { value: '\ude00\ud83d', tag: 'id.surrogate' },
    { value: '😀\ud83d', tag: 'id.surrogate' },
    { value: `${'😀'.repeat(max - 1)}\ud800`, tag: 'id.surrogate' },
    ...WRONG.filter((w) => typeof w !== 'string').map((value) => ({ value, tag: 'id.type' })),
  ];
}
const UUID_BAD = [
  '',
  'x',
  '00000000-0000-0000-0000-00000000000',
  '8c1f4a52-5bde-0bd7-9d3b-1f0a5f3e2c11',
  '8c1f4a52-5bde-9bd7-9d3b-1f0a5f3e2c11',
  '8c1f4a52-5bde-4bd7-cd3b-1f0a5f3e2c11',
  '8c1f4a52-5bde-4bd7-9d3b-1f0a5f3e2c111',
  '8c1f4a525bde4bd79d3b1f0a5f3e2c11',
  '{8c1f4a52-5bde-4bd7-9d3b-1f0a5f3e2c11}',
  '8c1f4a52-5bde-4bd7-9d3b-1f0a5f3e2c11\n',
  ' 8c1f4a52-5bde-4bd7-9d3b-1f0a5f3e2c11',
  '8c1f4a52-5bde-4bd7-9d3b-1f0a5f3e2g11',
  ...WRONG.filter((w) => typeof w !== 'string'),
];
const TS_BAD = [
  -1,
  1.5,
  -0.5,
  Number.MAX_SAFE_INTEGER + 1,
  2 ** 60,
  1e21,
  '1700000000000',
  '2024-01-01',
  '2024-01-01T00:00Z',
  '2024-01-01T00:00:00',
  '2024-01-01t00:00:00Z',
  '2024-01-01T00:00:00z',
  '2024-01-01 00:00:00Z',
  '2024-01-01T00:00:00+24:00',
  '2024-01-01T00:00:00+0100',
  '2024-01-01T00:00:00+01',
  '2024-01-01T24:00:00Z',
  '2024-01-01T23:60:00Z',
  '2024-01-01T23:59:60Z',
  '2024-01-01T00:00:00.Z',
  '2023-02-29T00:00:00Z',
  '1900-02-29T00:00:00Z',
  '2024-13-01T00:00:00Z',
  '2024-04-31T00:00:00Z',
  ' 2024-01-01T00:00:00Z',
  '2024-01-01T00:00:00Z\n',
  '+002024-01-01T00:00:00Z',
  '',
  null,
  true,
  [],
  {},
];
const TS_OK = [0, Number.MAX_SAFE_INTEGER, '2000-02-29T00:00:00.123456789Z', '2024-06-30T12:34:56-07:00'];

function withField(base: Obj, key: string, value: unknown): Obj {
  return { ...base, [key]: value };
}
function without(base: Obj, key: string): Obj {
  const o = { ...base };
  delete o[key];
  return o;
}
function withItem(base: Obj, f: (it: Obj) => unknown): Obj {
  const items = [...(base.items as Obj[])];
  const k = int(0, items.length - 1);
  const changed = f({ ...items[k] }) as Obj;
  items[k] = changed;
  // The other items step aside (ids and positions of their own), so only the mutated rule is at stake.
  const taken = (changed as { position?: unknown } | null)?.position;
  let next = 1;
  for (let j = 0; j < items.length; j++) {
    if (j === k) continue;
    if (next === taken) next++;
    items[j] = { ...items[j], itemId: `other-${j}`, position: next++ };
  }
  return { ...base, items };
}

function mutate(base: Obj): Case {
  const isClick = base.type === 'click';
  const r = int(0, isClick ? 9 : 16);
  const idKey = pick(isClick ? ['eventId', 'userId', 'itemId'] : ['eventId', 'userId']);
  switch (r) {
    case 0: {
      const k = pick(Object.keys(base));
      return { input: without(base, k), tag: k === 'type' ? 'type' : 'required' };
    }
    case 1:
      return {
        input: withField(
          base,
          pick(['extra', 'Type', 'eventid', 'items', 'policy', 'slateId', 'position']),
          1,
        ),
        tag: 'strict',
      };
    case 2: {
      const m = pick(stringMutations(idKey === 'eventId' ? EVENT_ID_MAX_LENGTH : ID_MAX_LENGTH));
      return { input: withField(base, idKey, m.value), tag: m.tag };
    }
    case 3:
      return { input: withField(base, 'slateId', pick(UUID_BAD)), tag: 'slate.uuid' };
    case 4: {
      const bad = chance(0.8);
      return {
        input: withField(base, 'ts', bad ? pick(TS_BAD) : pick(TS_OK)),
        tag: bad ? 'ts.num' : 'ts.num.ok',
      };
    }
    case 5:
      return {
        input: withField(base, 'type', pick(['hover', 'Click', 'IMPRESSION', '', ...WRONG])),
        tag: 'type',
      };
    case 6:
      return { input: pick([null, [], [base], 'click', 1, true, JSON.stringify(base)]), tag: 'obj' };
    case 7: {
      const k = pick(Object.keys(base));
      return { input: withField(base, k, pick(NONJSON)), tag: 'nonjson', mayFallBack: true };
    }
    case 8: {
      if (!isClick) return { input: withField(base, 'slateId', uuid()), tag: 'slate.ok' };
      const bad = chance(0.7);
      const v = bad
        ? pick([0, -1, -0, 101, MAX_POSITION + 1, 1.5, 2 ** 53, 1e300, '1', null, true, []])
        : pick([1, MAX_POSITION]);
      return { input: withField(base, 'position', v), tag: bad ? 'position' : 'position.ok' };
    }
    case 9:
      return isClick
        ? { input: without(base, 'slateId'), tag: 'click.slate.missing.ok' }
        : { input: base, tag: 'valid' };
    case 10: {
      const m = pick(stringMutations(ID_MAX_LENGTH));
      return { input: withItem(base, (it) => ({ ...it, itemId: m.value })), tag: m.tag };
    }
    case 11: {
      const bad = chance(0.7);
      const v = bad
        ? pick([0, -1, -0, MAX_POSITION + 1, 1.5, NaN, Infinity, '2', null])
        : pick([1, MAX_POSITION]);
      return {
        input: withItem(base, (it) => ({ ...it, position: v })),
        tag: bad ? 'position' : 'position.ok',
      };
    }
    case 12: {
      const bad = chance(0.7);
      const v = bad
        ? pick([0, -0, -1e-9, -0.5, 1 + Number.EPSILON, 1.5, 2, NaN, Infinity, '0.5', null, []])
        : pick([1, Number.MIN_VALUE, 1e-9]);
      return {
        input: withItem(base, (it) => ({ ...it, propensity: v })),
        tag: bad ? 'propensity' : 'propensity.ok',
      };
    }
    case 13: {
      const s = rand();
      if (s < 0.3)
        return { input: withItem(base, (it) => without(it, pick(Object.keys(it)))), tag: 'required' };
      if (s < 0.5)
        return {
          input: withItem(base, (it) => ({ ...it, [pick(['extra', 'item', 'Position'])]: 1 })),
          tag: 'strict',
        };
      if (s < 0.7) return { input: withItem(base, () => pick([null, [], 'i', 1, true])), tag: 'items' };
      const items = base.items as Obj[];
      if (s < 0.8)
        return { input: withField(base, 'items', pick([[], null, {}, 'x', items[0]])), tag: 'items' };
      if (s < 0.9 && items.length > 1) {
        // a repeat: the second item takes the first one's itemId or position
        const key = pick(['itemId', 'position']);
        const twice = items.map((it, k) => (k === 1 ? { ...it, [key]: items[0][key] } : it));
        return { input: withField(base, 'items', twice), tag: 'items.unique' };
      }
      const n = chance(0.5) ? MAX_IMPRESSION_ITEMS : MAX_IMPRESSION_ITEMS + 1;
      const full = Array.from({ length: n }, (_, k) => ({
        ...items[k % items.length],
        itemId: `slot-${k}`,
        position: (k % MAX_POSITION) + 1,
      }));
      return { input: withField(base, 'items', full), tag: n > MAX_IMPRESSION_ITEMS ? 'items' : 'items.ok' };
    }
    case 14: {
      const bad = chance(0.5);
      const v = bad ? pick([[], [1], null, 'p', 0, true]) : policy();
      return { input: withField(base, 'policy', v), tag: bad ? 'policy' : 'policy.ok' };
    }
    case 15: {
      const s = rand();
      const max = MODEL_VERSION_MAX_LENGTH;
      if (s < 0.5) {
        const v = pick(['', 'a'.repeat(max), '😀'.repeat(max), 'v\u0000', '\ud800', 'v1\udc00']);
        return { input: withField(base, 'modelVersion', v), tag: 'modelVersion.ok' };
      }
      const v = pick([
        'a'.repeat(max + 1),
        '😀'.repeat(max + 1),
        `${'\ud800'.repeat(max)}a`,
        1,
        null,
        [],
        {},
      ]);
      return { input: withField(base, 'modelVersion', v), tag: 'modelVersion' };
    }
    default: {
      const s = rand();
      if (s < 0.3) {
        const v = { key: pick(['', 'k', 'a\u0000', '\ud800']), variant: pick(['', 'control', 'b']) };
        return { input: withField(base, 'experiment', v), tag: 'experiment.ok' };
      }
      const v = pick<unknown>([
        null,
        [],
        'exp',
        { key: 'k' },
        { variant: 'v' },
        { key: 1, variant: 'v' },
        { key: 'k', variant: null },
        { key: 'k', variant: 'v', extra: 1 },
        { key: 'k', variant: 'v', weight: 0.5 },
      ]);
      return { input: withField(base, 'experiment', v), tag: 'experiment' };
    }
  }
}

/** Inputs that only JSON text (or hand-built objects) can express. */
function fixedCases(): Case[] {
  const c = '"eventId":"e","type":"click","userId":"u","itemId":"i"';
  const imp =
    '"eventId":"e","type":"impression","slateId":"8c1f4a52-5bde-4bd7-9d3b-1f0a5f3e2c11","userId":"u","ts":1';
  const cases: Case[] = [
    ...[
      `{${c},"ts":1e400}`,
      `{${c},"ts":-1e400}`,
      `{${c},"ts":1.0}`,
      `{${c},"ts":-0}`,
      `{${c},"ts":1e3}`,
    ].map((t) => ({ input: JSON.parse(t) as unknown, tag: 'text' })),
    { input: JSON.parse(`{${c},"ts":1,"ts":"2024-01-01T00:00:00Z"}`), tag: 'text' },
    { input: JSON.parse(`{${c},"ts":1,"__proto__":{"x":1}}`), tag: 'strict' },
    {
      input: JSON.parse(`{${imp},"items":[{"itemId":"i","position":1,"propensity":1,"__proto__":1}]}`),
      tag: 'strict',
    },
    {
      input: JSON.parse(`{${imp},"items":[{"itemId":"i","position":1.0,"propensity":1e-400}]}`),
      tag: 'text',
    },
    { input: JSON.parse(`{${imp},"items":[{"itemId":"i","position":1,"propensity":1e400}]}`), tag: 'text' },
    {
      input: JSON.parse(
        `{${imp},"items":[{"itemId":"i","position":1,"propensity":1}],"policy":{"__proto__":{"a":1},"b":2}}`,
      ),
      tag: 'text',
      mayFallBack: true,
    },
    {
      input: JSON.parse(
        `{${imp},"items":[{"itemId":"i","position":1,"propensity":1}],"experiment":{"key":"k","variant":"v","__proto__":{}}}`,
      ),
      tag: 'strict',
    },
  ];
  const base = { eventId: 'e', type: 'click', userId: 'u', itemId: 'i', ts: 1 };
  const nullProto = Object.assign(Object.create(null) as Obj, base);
  const sym = { ...impressionFixed(), policy: { [Symbol('s')]: 1, a: 1 } };
  const sparse = impressionFixed();
  (sparse.items as unknown[]).length = 3; // holes after the first item
  cases.push(
    { input: nullProto, tag: 'nonjson', mayFallBack: true },
    { input: Object.assign(new (class Event {})(), base), tag: 'nonjson', mayFallBack: true },
    { input: { ...base, slateId: undefined }, tag: 'nonjson', mayFallBack: true },
    { input: { ...base, position: undefined }, tag: 'nonjson', mayFallBack: true },
    { input: { ...base, ts: undefined }, tag: 'nonjson', mayFallBack: true },
    {
      input: { ...impressionFixed(), policy: Object.assign(Object.create(null) as Obj, { a: 1 }) },
      tag: 'nonjson',
      mayFallBack: true,
    },
    { input: { ...impressionFixed(), policy: { a: undefined } }, tag: 'nonjson', mayFallBack: true },
    { input: { ...impressionFixed(), modelVersion: undefined }, tag: 'nonjson', mayFallBack: true },
    {
      input: {
        ...impressionFixed(),
        experiment: Object.assign(Object.create(null) as Obj, { key: 'k', variant: 'v' }),
      },
      tag: 'nonjson',
      mayFallBack: true,
    },
    { input: sym, tag: 'nonjson', mayFallBack: true },
    { input: sparse, tag: 'nonjson', mayFallBack: true },
    { input: { ...base, type: new String('click') }, tag: 'nonjson', mayFallBack: true },
    { input: { ...base, position: new Number(1) }, tag: 'nonjson', mayFallBack: true },
  );
  return cases;
}
function impressionFixed(): Obj {
  return {
    eventId: 'e',
    type: 'impression',
    slateId: '8c1f4a52-5bde-4bd7-9d3b-1f0a5f3e2c11',
    userId: 'u',
    ts: 1,
    items: [{ itemId: 'i', position: 1, propensity: 1 }],
  };
}

// --- the comparison -----------------------------------------------------------------------------------
interface Tally {
  zodAccepted: number;
  zodRejected: number;
}
interface Stats {
  checked: number;
  fastAccepted: number;
  fallbacks: number;
  validGenerated: number;
  validFellBack: number;
  mismatches: string[];
  tags: Map<string, Tally>;
}

function describeInput(input: unknown): string {
  try {
    return JSON.stringify(input).slice(0, 300);
  } catch {
    return String(input);
  }
}

function compare(
  input: unknown,
  tag: string,
  form: 'json' | 'raw',
  mayFallBack: boolean,
  stats: Stats,
): void {
  const z = RecoEventSchema.safeParse(input);
  const f = fastParseEvent(input);
  stats.checked++;
  const t = stats.tags.get(tag) ?? { zodAccepted: 0, zodRejected: 0 };
  if (z.success) t.zodAccepted++;
  else t.zodRejected++;
  stats.tags.set(tag, t);
  if (f !== undefined) {
    stats.fastAccepted++;
    if (!z.success)
      stats.mismatches.push(`fast accepted what zod rejects [${tag}/${form}]: ${describeInput(input)}`);
    else if (!isDeepStrictEqual(f, z.data)) {
      stats.mismatches.push(
        `fast and zod differ [${tag}/${form}]: ${describeInput(f)} vs ${describeInput(z.data)}`,
      );
    } else if (stats.fastAccepted % 16 === 0) expect(f).toEqual(z.data); // implied by the strict check; sampled
  } else if (z.success) {
    stats.fallbacks++;
    if (form === 'json' && !mayFallBack) {
      stats.mismatches.push(`fast fell back on a valid JSON event [${tag}]: ${describeInput(input)}`);
    }
  }
}

const N = 25_000;

describe('fastParseEvent (differential against RecoEventSchema)', () => {
  const stats: Stats = {
    checked: 0,
    fastAccepted: 0,
    fallbacks: 0,
    validGenerated: 0,
    validFellBack: 0,
    mismatches: [],
    tags: new Map(),
  };

  it(`agrees with zod on ${N} generated inputs (each as JSON and raw) and the fixed cases`, () => {
    for (let k = 0; k < N; k++) {
      const base = chance(0.5) ? click() : impression();
      const c: Case = chance(0.3) ? { input: base, tag: 'valid' } : mutate(base);
      if (c.tag === 'valid') {
        stats.validGenerated++;
        if (fastParseEvent(JSON.parse(JSON.stringify(c.input))) === undefined) stats.validFellBack++;
      }
      const json =
        c.input === undefined ? undefined : (JSON.parse(JSON.stringify(c.input) ?? 'null') as unknown);
      compare(json, c.tag, 'json', c.mayFallBack === true, stats);
      compare(c.input, c.tag, 'raw', true, stats);
    }
    for (const c of fixedCases()) compare(c.input, c.tag, 'raw', c.mayFallBack === true, stats);
    expect(stats.mismatches.slice(0, 10)).toEqual([]);
    expect(stats.checked).toBeGreaterThanOrEqual(2 * N);
  });

  it('accepts every generated valid event (the whole happy path), with no fallback to zod', () => {
    expect(stats.validGenerated).toBeGreaterThan(N / 5);
    expect(stats.validFellBack).toBe(0);
    // Fallbacks (zod accepts, fast does not) come only from non-JSON inputs and the policy __proto__ case.
    expect(stats.fallbacks).toBeLessThan(stats.fastAccepted / 10);
  });

  it('exercises every rule, with the outcome it stands for', () => {
    const rejecting = [
      'obj',
      'type',
      'strict',
      'required',
      'id.type',
      'id.empty',
      'id.max',
      'id.nul',
      'id.surrogate',
    ];
    rejecting.push(
      'slate.uuid',
      'position',
      'ts.num',
      'items',
      'items.unique',
      'propensity',
      'policy',
      'modelVersion',
      'experiment',
    );
    const accepting = [
      'valid',
      'id.max.ok',
      'id.pair.ok',
      'slate.ok',
      'click.slate.missing.ok',
      'position.ok',
    ];
    accepting.push('ts.num.ok', 'items.ok', 'propensity.ok', 'policy.ok', 'modelVersion.ok', 'experiment.ok');
    const seen = (tag: string) => stats.tags.get(tag) ?? { zodAccepted: 0, zodRejected: 0 };
    for (const tag of rejecting)
      expect({ tag, rejected: seen(tag).zodRejected > 0 }).toEqual({ tag, rejected: true });
    for (const tag of accepting)
      expect({ tag, accepted: seen(tag).zodAccepted > 0 }).toEqual({ tag, accepted: true });
    // Each "ok" tag is only ever valid; each rejecting tag mostly invalid (a few mutations are no-ops).
    for (const tag of accepting)
      expect({ tag, rejected: seen(tag).zodRejected }).toEqual({ tag, rejected: 0 });
    for (const tag of ['nonjson', 'text'])
      expect(seen(tag).zodAccepted + seen(tag).zodRejected).toBeGreaterThan(0);
  });
});

describe('fastParseEvent', () => {
  it('knows every field of the schemas (a new field needs its rule in fast-event.ts)', () => {
    expect(Object.keys(ClickEventSchema.shape)).toEqual([
      'eventId',
      'type',
      'slateId',
      'userId',
      'itemId',
      'position',
      'ts',
    ]);
    expect(Object.keys(ImpressionEventSchema.shape)).toEqual([
      'eventId',
      'type',
      'slateId',
      'userId',
      'ts',
      'items',
      'policy',
      'modelVersion',
      'experiment',
    ]);
    const items = ImpressionEventSchema.shape.items.element;
    expect(Object.keys(items.shape)).toEqual(['itemId', 'position', 'propensity']);
    expect(Object.keys(ImpressionEventSchema.shape.experiment.unwrap().shape)).toEqual(['key', 'variant']);
  });
  const click = { eventId: 'e', type: 'click', userId: 'u', itemId: 'i', ts: 1 };
  it('returns the input itself when zod would only copy it (epoch ts)', () => {
    expect(fastParseEvent(click)).toBe(click);
  });
  it('converts an ISO ts in a copy, leaving the input unchanged', () => {
    const input = { ...click, ts: '2026-11-27T10:00:00Z' };
    const ev = fastParseEvent(input);
    expect(ev).toEqual({ ...click, ts: Date.parse('2026-11-27T10:00:00Z') });
    expect(input.ts).toBe('2026-11-27T10:00:00Z');
  });
  it('leaves what it cannot vouch for to zod', () => {
    expect(fastParseEvent({ ...click, extra: 1 })).toBeUndefined();
    expect(fastParseEvent({ ...click, slateId: undefined })).toBeUndefined();
  });
});
