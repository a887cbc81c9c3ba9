import { splitIntoParts } from './snapshot-parts';

describe('splitIntoParts', () => {
  it('cuts bytes into views of at most partBytes, in order, covering them exactly', () => {
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
    for (const size of [1, 7, 333, 999, 1000, 1001, 4096]) {
      const parts = splitIntoParts(bytes, size);
      expect(parts.length).toBe(Math.ceil(1000 / size));
      expect(parts.every((p) => p.byteLength <= size && p.buffer === bytes.buffer)).toBe(true);
      expect(Buffer.concat(parts.map((p) => Buffer.from(p)))).toEqual(Buffer.from(bytes));
    }
    expect(splitIntoParts(new Uint8Array(0), 10)).toEqual([new Uint8Array(0)]);
    expect(() => splitIntoParts(bytes, 0)).toThrow('partBytes must be at least 1');
  });
});
