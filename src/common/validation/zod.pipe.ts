import { type ArgumentMetadata, Injectable, type PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { AppException } from '../http/app-exception';
import { zodIssues } from './zod-issues';

/**
 * The one validation mechanism of the HTTP API: any argument typed with a `createZodDto` class (or given
 * a schema explicitly) is parsed by its zod schema; a failure is a 400 listing each issue with a path
 * that starts at the input it came from (`body.size`, `query.limit`, `param.id`).
 */
@Injectable()
export class ZodPipe implements PipeTransform {
  constructor(private readonly schema?: z.ZodType) {}

  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    const schema = this.schema ?? schemaOf(metadata.metatype);
    if (!schema) return value;
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    const where =
      metadata.type === 'custom'
        ? undefined
        : metadata.data
          ? `${metadata.type}.${metadata.data}`
          : metadata.type;
    throw new AppException(
      400,
      'validation_failed',
      'The request is not valid.',
      zodIssues(parsed.error, where),
    );
  }
}

/** The schema of a `createZodDto` class (it carries `isZodDto` and `schema` as statics). */
function schemaOf(metatype: unknown): z.ZodType | undefined {
  const m = metatype as { isZodDto?: boolean; schema?: z.ZodType } | undefined;
  return m?.isZodDto ? m.schema : undefined;
}
