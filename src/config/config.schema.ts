import { z } from 'zod';

/**
 * Every environment variable reco reads, with its type, default and description.
 * Parsed once at start (`loadConfig`); nothing else in the code reads `process.env`.
 * The README's configuration table is generated from the same descriptions (`reco config --markdown`).
 */
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be one of true, false, 1, 0, yes, no' })
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const brokerList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((b) => b.trim())
      .filter((b) => b.length > 0),
  )
  .pipe(
    z
      .array(z.string().regex(/^[A-Za-z0-9._-]+:\d{1,5}$/, { error: 'each broker must look like host:port' }))
      .min(1, { error: 'must list at least one broker as host:port[,host:port...]' }),
  );

export const envSchema = z.object({
  PORT: z.coerce
    .number({ error: 'must be a whole number' })
    .int({ error: 'must be a whole number' })
    .min(0, { error: 'must be between 0 and 65535' })
    .max(65535, { error: 'must be between 0 and 65535' })
    .default(3000)
    .describe('HTTP port (0 picks a free one).'),
  HOST: z.string().min(1).default('0.0.0.0').describe('Address the HTTP server binds to.'),
  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// or postgresql:// URL' })
    .optional()
    .describe(
      'PostgreSQL connection URL. Unset: an embedded PostgreSQL (PGlite) with data under RECO_DATA_DIR.',
    ),
  RECO_DATA_DIR: z
    .string()
    .min(1)
    .default('./data')
    .describe('Where the embedded database keeps its files (only without DATABASE_URL).'),
  DATABASE_POOL_SIZE: z.coerce
    .number({ error: 'must be a whole number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .max(200, { error: 'must be at most 200' })
    .default(10)
    .describe('Connections in the pool (external database; the embedded one always uses 1).'),
  MIGRATIONS_RUN: bool(true).describe('Apply pending migrations at start (under an advisory lock).'),
  KAFKA_BROKERS: brokerList
    .optional()
    .describe('Comma-separated Kafka bootstrap brokers (host:port). Unset: events come over HTTP only.'),
  KAFKA_CLIENT_ID: z.string().min(1).default('reco').describe('Kafka client id.'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info')
    .describe('Log level of the JSON logs.'),
  HTTP_BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i, { error: 'must be a size like 512kb or 1mb' })
    .default('1mb')
    .describe('Largest JSON request body; larger bodies get 413.'),
  IMPORT_BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i, { error: 'must be a size like 512kb or 64mb' })
    .default('64mb')
    .describe('Largest NDJSON body of POST /v1/items:import.'),
});

export type Env = z.infer<typeof envSchema>;
