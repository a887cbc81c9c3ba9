/**
 * PostgreSQL cannot store every JavaScript string: `text` and `jsonb` reject U+0000, and `jsonb` rejects an
 * unpaired surrogate (JSON.stringify writes it as `\ud800`, which jsonb refuses; `text` would silently store
 * U+FFFD instead). A value that reaches the database with one of them fails its whole statement, so inputs
 * that are stored later (write-behind, in batches) are checked where they come in.
 */
export const NOT_STORABLE_MESSAGE = 'must not contain U+0000 or unpaired surrogates';

// What String.prototype.isWellFormed (not declared by the project's ES2023 lib) rejects.
const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function isStorableString(s: string): boolean {
  // One pass over the code units (ids are checked per event on the ingestion path): the regex only when a
  // surrogate is present at all.
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c === 0) return false;
    if (c >= 0xd800 && c <= 0xdfff) return !s.includes('\u0000') && !UNPAIRED_SURROGATE.test(s);
  }
  return true;
}

/** True if every string in a JSON-like value (object keys included) is storable. */
export function isStorableJson(value: unknown): boolean {
  if (typeof value === 'string') return isStorableString(value);
  if (Array.isArray(value)) return value.every(isStorableJson);
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) if (!isStorableString(k) || !isStorableJson(v)) return false;
  }
  return true;
}
