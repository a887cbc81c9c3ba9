import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { MAX_SLATE_SIZE } from '../../../core/policies/slate-request';
import {
  isStorableJson,
  isStorableString,
  NOT_STORABLE_MESSAGE,
} from '../../../common/validation/storable-text';
import { ItemIdSchema } from '../../items/dto/item.schema';

export const UserIdSchema = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(256, { error: 'must be at most 256 characters' })
  // Logged with the slate (write-behind): a string PostgreSQL refuses would block the log, not this request.
  .refine(isStorableString, { error: NOT_STORABLE_MESSAGE })
  .describe('The user the slate is for (any stable id; unknown users get the population prior).');

export const SlateRequestSchema = z.strictObject({
  userId: UserIdSchema,
  size: z
    .number({ error: 'must be a whole number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: `must be between 1 and ${MAX_SLATE_SIZE}` })
    .max(MAX_SLATE_SIZE, { error: `must be between 1 and ${MAX_SLATE_SIZE}` })
    .default(10)
    .describe('Number of items k.'),
  candidates: z
    .array(ItemIdSchema)
    .min(1, { error: 'must list at least one item id (omit it to choose from the whole catalogue)' })
    .max(10_000, { error: 'must list at most 10000 item ids' })
    .optional()
    .describe(
      'Choose only among these items; unknown or inactive ones are skipped and reported in warnings.',
    ),
  exclude: z
    .array(ItemIdSchema)
    .max(10_000, { error: 'must list at most 10000 item ids' })
    .optional()
    .describe('Never serve these items (e.g. already bought).'),
  context: z
    .record(z.string(), z.unknown())
    .refine(isStorableJson, { error: `strings ${NOT_STORABLE_MESSAGE}` })
    .optional()
    .describe(
      'Free-form request context (page, device, ...): logged with the impression, not used by the policy.',
    ),
});

export const SlateItemSchema = z.object({
  itemId: z.string(),
  position: z.number().int().describe('1-based'),
  score: z.number().describe('The score the policy ranked by (a posterior draw for Thompson sampling)'),
  propensity: z.number().describe('P(policy puts this item at this position | what it knew)'),
  inSlateProbability: z.number().describe('P(this item is anywhere in the slate)'),
});

export const SlateWarningSchema = z.object({
  code: z.enum(['unknown_item', 'inactive_item', 'unknown_excluded_item', 'fewer_items_than_requested']),
  message: z.string(),
  itemIds: z.array(z.string()).optional(),
});

export const SlateResponseSchema = z.object({
  slateId: z.string().uuid(),
  items: z.array(SlateItemSchema),
  policy: z.record(z.string(), z.unknown()).describe('The serving policy and its parameters'),
  modelVersion: z.string(),
  propensityKind: z.enum(['exact', 'monte_carlo']),
  experiment: z.object({ key: z.string(), variant: z.string() }).optional(),
  warnings: z.array(SlateWarningSchema).optional(),
});

export const StoredSlateSchema = SlateResponseSchema.extend({
  userId: z.string(),
  servedAt: z.string(),
  seed: z.number().int(),
  requestedSize: z.number().int(),
  simulatedSlates: z.number().int(),
  context: z.record(z.string(), z.unknown()).nullable(),
});

export class SlateRequestDto extends createZodDto(SlateRequestSchema) {}
export class SlateResponseDto extends createZodDto(SlateResponseSchema) {}
export class StoredSlateDto extends createZodDto(StoredSlateSchema) {}
export type SlateWarning = z.infer<typeof SlateWarningSchema>;
export type SlateResponse = z.infer<typeof SlateResponseSchema>;
