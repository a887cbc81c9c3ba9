import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { zodIssues } from '../common/validation/zod-issues';
import { InputFileError } from './input-file.error';

export { InputFileError };

/** prior_bts.yaml: per campaign, Beta(α, β) per item; list index = item id. */
export const btsPriorFileSchema = z.record(
  z.string(),
  z
    .object({ alpha: z.array(z.number().positive()).min(1), beta: z.array(z.number().positive()).min(1) })
    .refine((p) => p.alpha.length === p.beta.length, { message: 'alpha and beta must have the same length' }),
);
export type BtsPriorFile = z.infer<typeof btsPriorFileSchema>;

function describe(error: z.ZodError): string {
  return zodIssues(error)
    .slice(0, 5)
    .map((i) => `${i.path}: ${i.message}`)
    .join('; ');
}

export function loadBtsPrior(path: string, campaign: string): { alpha: number[]; beta: number[] } {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new InputFileError(`${path}: ${(e as Error).message}`);
  }
  const parsed = btsPriorFileSchema.safeParse(raw);
  if (!parsed.success) throw new InputFileError(`${path}: ${describe(parsed.error)}`);
  const prior = parsed.data[campaign];
  if (!prior)
    throw new InputFileError(
      `${path}: no campaign '${campaign}' (has: ${Object.keys(parsed.data).join(', ')})`,
    );
  return prior;
}

/**
 * POLICY.json: a context-free policy as an explicit slate distribution. Items are catalogue ids:
 * numbers (OBD item_id) or strings (reco item ids).
 *   {"kind": "fixed", "slate": [3, 7, 1]}
 *   {"kind": "slates", "slates": [{"items": [3, 7, 1], "p": 0.6}, {"items": [7, 3, 1], "p": 0.4}]}
 */
const itemRef = z.union([z.number().int().nonnegative(), z.string().min(1)]);
export const policyFileSchema = z.discriminatedUnion('kind', [
  z
    .object({ kind: z.literal('fixed'), name: z.string().optional(), slate: z.array(itemRef).min(1) })
    .strict(),
  z
    .object({
      kind: z.literal('slates'),
      name: z.string().optional(),
      slates: z
        .array(z.object({ items: z.array(itemRef).min(1), p: z.number().min(0).max(1) }).strict())
        .min(1),
    })
    .strict(),
]);
export type PolicyFile = z.infer<typeof policyFileSchema>;

export function loadPolicyFile(path: string): PolicyFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new InputFileError(`${path}: ${(e as Error).message}`);
  }
  const parsed = policyFileSchema.safeParse(raw);
  if (!parsed.success) throw new InputFileError(`${path}: ${describe(parsed.error)}`);
  return parsed.data;
}
