/**
 * Parser for whitespace-separated numeric matrices such as Coat's `train.ascii`, `test.ascii` and
 * `propensities.ascii` (Schnabel et al. 2016): one row per line, CRLF or LF, single spaces. Pure: the caller
 * reads the file. Checks that every row has the same width and that every cell is a finite number, naming the
 * line and column of the first problem.
 */
export interface DenseMatrix {
  rows: number;
  cols: number;
  /** Row-major values, rows × cols. */
  data: Float64Array;
}

export function parseAsciiMatrix(text: string, name = 'matrix'): DenseMatrix {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  if (lines.length === 0) throw new RangeError(`${name}: no rows`);
  let cols = -1;
  const values: number[] = [];
  for (let r = 0; r < lines.length; r++) {
    const cells = lines[r].trim().split(/\s+/);
    if (cols < 0) cols = cells.length;
    else if (cells.length !== cols)
      throw new RangeError(`${name}: line ${r + 1} has ${cells.length} columns, expected ${cols} like line 1`);
    for (let c = 0; c < cells.length; c++) {
      const v = Number(cells[c]);
      if (cells[c] === '' || !Number.isFinite(v))
        throw new RangeError(`${name}: line ${r + 1}, column ${c + 1}: "${cells[c]}" is not a finite number`);
      values.push(v);
    }
  }
  return { rows: lines.length, cols, data: Float64Array.from(values) };
}

/** Check a matrix's shape, with a message naming it. */
export function expectShape(m: DenseMatrix, rows: number, cols: number, name: string): void {
  if (m.rows !== rows || m.cols !== cols)
    throw new RangeError(`${name}: shape ${m.rows}×${m.cols}, expected ${rows}×${cols}`);
}
