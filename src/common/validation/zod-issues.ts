import type { z } from 'zod';

/** One problem with an input: where (a dotted path) and which rule it broke. */
export interface InputIssue {
  path: string;
  message: string;
}

/** Flatten zod issues into `{ path, message }`, with `prefix` naming the input (body, query, line 3, ...). */
export function zodIssues(error: z.ZodError, prefix?: string): InputIssue[] {
  return error.issues.map((i) => {
    const inner = i.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
      .join('.')
      .replace(/\.\[/g, '[');
    const path = [prefix, inner].filter((s) => s !== undefined && s !== '').join('.');
    return { path: path || '(root)', message: i.message };
  });
}
