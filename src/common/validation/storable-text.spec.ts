import { isStorableJson, isStorableString } from './storable-text';

describe('storable text', () => {
  it('accepts ordinary text, emoji (a surrogate pair) and escapes written out', () => {
    for (const s of ['', 'user-1', 'Zoë', '😀 ok', 'a\\u0000b', '\t\n'])
      expect(isStorableString(s)).toBe(true);
  });
  it('rejects U+0000 and unpaired surrogates', () => {
    for (const s of ['a\u0000b', '\ud800', 'x\udc00', '\ud83d', 'ok\ud83d\ud83d\ude00\ud800']) {
      expect({ s, ok: isStorableString(s) }).toEqual({ s, ok: false });
    }
  });
  it('checks every string of a JSON value, keys included', () => {
    expect(isStorableJson({ page: 'home', tags: ['a', { n: 1, b: true, z: null }] })).toBe(true);
    expect(isStorableJson({ page: 'a\u0000' })).toBe(false);
    expect(isStorableJson({ ['k\u0000']: 1 })).toBe(false);
    expect(isStorableJson({ deep: [[{ x: '\udfff' }]] })).toBe(false);
  });
});
