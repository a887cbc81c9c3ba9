import { expectShape, parseAsciiMatrix } from './ascii-matrix';

describe('parseAsciiMatrix', () => {
  it('reads CRLF and LF rows, ignoring trailing blank lines', () => {
    const m = parseAsciiMatrix('1 0 5\r\n0 2 0\r\n\r\n', 'train');
    expect(m.rows).toBe(2);
    expect(m.cols).toBe(3);
    expect(Array.from(m.data)).toEqual([1, 0, 5, 0, 2, 0]);
    expect(parseAsciiMatrix('0.25 1e-3\n0.5 0.75').data[1]).toBeCloseTo(0.001, 12);
    expect(() => expectShape(m, 2, 3, 'train')).not.toThrow();
    expect(() => expectShape(m, 290, 300, 'train')).toThrow(/train: shape 2×3, expected 290×300/);
  });

  it('names the line and column of a bad cell or a ragged row', () => {
    expect(() => parseAsciiMatrix('1 2\n3 x', 'test')).toThrow(/test: line 2, column 2: "x" is not a finite number/);
    expect(() => parseAsciiMatrix('1 2\n3', 'test')).toThrow(/test: line 2 has 1 columns, expected 2/);
    expect(() => parseAsciiMatrix('\n\n')).toThrow(/no rows/);
  });
});
