/**
 * The k best candidates by `value`, descending; ties go to the lower item index (`rows[c]`), so the
 * ranking is a deterministic function of the values whatever the candidate order in the request.
 * O(n + (inserts)·k) with a sorted buffer: k ≤ 100 and, on random-order data, inserts are O(k log n).
 */
export function topKByValue(value: Float64Array, rows: Int32Array, k: number): Int32Array {
  const n = value.length;
  const top = new Int32Array(k);
  const topV = new Float64Array(k);
  let size = 0;
  for (let c = 0; c < n; c++) {
    const v = value[c];
    let j: number;
    if (size < k) j = size++;
    else if (v > topV[k - 1] || (v === topV[k - 1] && rows[c] < rows[top[k - 1]])) j = k - 1;
    else continue;
    while (j > 0 && (topV[j - 1] < v || (topV[j - 1] === v && rows[top[j - 1]] > rows[c]))) {
      topV[j] = topV[j - 1];
      top[j] = top[j - 1];
      j--;
    }
    topV[j] = v;
    top[j] = c;
  }
  return top;
}
