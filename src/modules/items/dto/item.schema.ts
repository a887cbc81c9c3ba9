import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import {
  isStorableJson,
  isStorableString,
  NOT_STORABLE_MESSAGE,
} from '../../../common/validation/storable-text';

export const ItemIdSchema = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(256, { error: 'must be at most 256 characters' })
  // eslint-disable-next-line no-control-regex -- control characters are exactly what the rule forbids
  .regex(/^[^\s/\\\x00-\x1f\x7f]*$/, { error: 'must not contain whitespace, slashes or control characters' })
  .describe('Item id: 1-256 characters, no whitespace, slashes or control characters.');

const ItemGroupSchema = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(128, { error: 'must be at most 128 characters' })
  .refine(isStorableString, { error: NOT_STORABLE_MESSAGE })
  .nullable()
  .describe('Group (e.g. category); new items of a group start from the group prior. null: no group.');

const AttributesSchema = z
  .record(z.string(), z.unknown())
  // stored as jsonb: strings PostgreSQL cannot store (keys included) would fail the write with a 500
  .refine(isStorableJson, { error: `strings in attributes ${NOT_STORABLE_MESSAGE}` })
  .describe('Free-form attributes (a JSON object).');

/** Body of PUT /v1/items/:id. */
export const PutItemSchema = z
  .strictObject({
    group: ItemGroupSchema.default(null),
    attributes: AttributesSchema.default({}),
    active: z.boolean().default(true).describe('false hides the item from slates.'),
  })
  .describe('An item of the catalogue.');

/** One line of POST /v1/items:import (NDJSON). */
export const ImportItemSchema = PutItemSchema.extend({ id: ItemIdSchema });

export const ItemSchema = z.object({
  id: z.string(),
  group: z.string().nullable(),
  attributes: z.record(z.string(), z.unknown()),
  active: z.boolean(),
  createdAt: z.string().describe('ISO 8601 time'),
  updatedAt: z.string().describe('ISO 8601 time'),
});

export const ImportResultSchema = z.object({
  lines: z.number().int().describe('Non-empty lines read.'),
  imported: z.number().int().describe('Distinct valid items (created + updated + unchanged).'),
  created: z.number().int(),
  updated: z.number().int(),
  unchanged: z.number().int().describe('Items already stored with the same content.'),
  duplicates: z.number().int().describe('Valid lines superseded by a later line with the same id.'),
  rejected: z
    .array(
      z.object({
        line: z.number().int().describe('1-based line number in the body'),
        issues: z.array(z.object({ path: z.string(), message: z.string() })),
      }),
    )
    .describe('Bad lines, each with its problems; the good lines are kept.'),
});

export class PutItemDto extends createZodDto(PutItemSchema) {}
export class ItemDto extends createZodDto(ItemSchema) {}
export class ImportResultDto extends createZodDto(ImportResultSchema) {}
