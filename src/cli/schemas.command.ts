import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { ClickEventSchema, ImpressionEventSchema, RecoEventSchema } from '../messaging/event.schema';

/** JSON Schema (draft 2020-12) of every event reco accepts, for producers written in other languages. */
export function eventJsonSchemas(): Record<string, unknown> {
  const opts = { io: 'input', unrepresentable: 'any' } as const;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'reco events',
    description:
      'Events accepted on the Kafka topics (KAFKA_TOPIC_IMPRESSIONS, KAFKA_TOPIC_CLICKS) and by POST /v1/events. ' +
      'One JSON object per message.',
    oneOf: [{ $ref: '#/$defs/click' }, { $ref: '#/$defs/impression' }],
    $defs: {
      click: z.toJSONSchema(ClickEventSchema, opts),
      impression: z.toJSONSchema(ImpressionEventSchema, opts),
      event: z.toJSONSchema(RecoEventSchema, opts),
    },
  };
}

export function registerSchemasCommand(program: Command): void {
  program
    .command('schemas')
    .description('Print the JSON Schema of the click and impression events (or write it to a file).')
    .option('-o, --out <file>', 'write to this file instead of standard output')
    .action((opts: { out?: string }) => {
      const text = `${JSON.stringify(eventJsonSchemas(), null, 2)}\n`;
      if (opts.out) writeFileSync(opts.out, text);
      else process.stdout.write(text);
    });
}
