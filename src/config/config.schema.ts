import { z } from 'zod';
import { policyConfigSchema } from '../core/policies/policy-config.schema';

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

/** A whole number in [min, max] (one message names the range); `unit` says what it counts. */
const wholeNumber = (min: number, max: number, def: number, unit = 'a whole number') =>
  z.coerce
    .number({ error: `must be ${unit}` })
    .int({ error: `must be ${unit}` })
    .min(min, { error: `must be between ${min} and ${max}` })
    .max(max, { error: `must be between ${min} and ${max}` })
    .default(def);

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
  PORT: wholeNumber(0, 65535, 3000).describe('HTTP port (0 picks a free one).'),
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
  DATABASE_POOL_SIZE: wholeNumber(1, 200, 10).describe(
    'Connections in the pool (external database; the embedded one always uses 1).',
  ),
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
    .describe(
      'Log level of the JSON logs. At info and below every request is logged (not probes and scrapes; Authorization, Proxy-Authorization and cookies redacted); above info no request log is installed at all, which took 17–20% of the CPU a slate and 29–37% of a ping in bench:http.',
    ),
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
  DEFAULT_POLICY: z
    .string()
    .default('{"name":"in_slate_ts"}')
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON object like {"name":"in_slate_ts"}' });
        return z.NEVER;
      }
    })
    .pipe(policyConfigSchema)
    .describe(
      'Serving policy as JSON: {"name": in_slate_ts|slate_ts|greedy|eps_greedy|ucb|random, ...parameters}, e.g. {"name":"eps_greedy","epsilon":0.05}.',
    ),
  MODEL_DIM: wholeNumber(1, 512, 32).describe('Latent dimension d of the factor model.'),
  MODEL_REFRESH_MS: wholeNumber(1, 1000, 200, 'a whole number of milliseconds').describe(
    'Delay between a model or catalogue change and its visibility to serving; stretched (never past 1 s) to three times the last rebuild when rebuilds are slow, so they take at most about a quarter of the CPU.',
  ),
  MODEL_SOLVE_THREAD: z
    .enum(['worker', 'main'], { error: 'must be one of worker, main' })
    .default('worker')
    .describe(
      'Where item posteriors are re-solved for a snapshot rebuild: a worker thread (learning and serving keep the event loop) or the main thread, in slices between turns of the event loop.',
    ),
  SERVING_THREADS: z
    .union([z.literal('auto'), wholeNumber(0, 64, 0, "a whole number of threads or 'auto'")], {
      error: "must be 'auto' or a whole number of threads",
    })
    .default('auto')
    .describe(
      "Worker threads that choose slates (scoring, Thompson draws, Monte Carlo propensities) while the main thread parses, logs and answers; 0 chooses them on the main thread; 'auto' is 1 on a machine with 2 or more cores, else 0. More pay where cores are idle: the main thread alone holds one.",
    ),
  SLATE_TIMEOUT_MS: wholeNumber(100, 600_000, 10_000, 'a whole number of milliseconds').describe(
    'A slate worker that has not answered a request for this long (a new worker: from when it has started) is stopped and replaced: that request is answered 503 (slate_timeout), the requests queued behind it are served on the main thread. A slate takes milliseconds; a worker lays out a new model first (≈ 0.7 s at 10^6 items).',
  ),
  SLATE_QUEUE_MS: wholeNumber(0, 600_000, 0, 'a whole number of milliseconds').describe(
    "How long a slate request may wait for its slate worker before it is answered 503 (overloaded, with Retry-After: 1) instead of being computed; 0 (the default): no limit, first come, first served however long the queue. Under overload the queue then stays short and the slates that are computed are answered in time: set it to about half your clients' timeout (docs/serving.md), and above the time a worker takes to lay out a new model (≈ 0.7 s at 10^6 items), which requests queued behind it wait too. Only with slate workers (SERVING_THREADS > 0); a request its worker has started is always finished.",
  ),
  IMPRESSION_FLUSH_MS: wholeNumber(1, 10000, 50, 'a whole number of milliseconds').describe(
    'Served slates are written to PostgreSQL in batches at least this often.',
  ),
  IMPRESSION_REDELIVER_MS: wholeNumber(100, 86_400_000, 60_000, 'a whole number of milliseconds').describe(
    'A stored slate that has not reached the learner this long after it was written (in-process, or the impressions topic with Kafka: a crash between the two, a failed learner or broker) is delivered again from the outbox table impression_outbox, then retried with backoff (doubling, up to 10 minutes). The learner drops a slate it already has, so a delivery that was only slow costs nothing but the work.',
  ),
  IMPRESSION_BUFFER_MB: z
    .union([z.literal('auto'), wholeNumber(1, 1_000_000, 1, "a whole number of megabytes or 'auto'")], {
      error: "must be 'auto' or a whole number of megabytes",
    })
    .default('auto')
    .describe(
      "Heap the served slates waiting to be written to PostgreSQL may take (estimated at ≈ 950 bytes a slate and 125 an item; the request's context is not counted). It fills only while the database cannot take them: then a slate is still served, but not logged, nor learned from; /metrics counts it in reco_impressions_lost_total and the log warns. 'auto': a tenth of the memory (as for JOIN_MEMORY_MB: ≈ 414 MiB with V8's default heap here, ≈ 200,000 slates of 10 items).",
    ),
  JOIN_WINDOW_MS: wholeNumber(1000, 604_800_000, 1_800_000, 'a whole number of milliseconds').describe(
    'How long a served slate waits for clicks before its unclicked items are learned as negatives. The learner holds every slate served within the window in memory (≈ 0.5 KB of heap each for 10 items, measured by bench:joins): slates per second × window, e.g. 720k (≈ 350 MB) at 400/s and 30 minutes. Past JOIN_MEMORY_MB the oldest windows close early.',
  ),
  JOIN_MEMORY_MB: z
    .union([z.literal('auto'), wholeNumber(1, 1_000_000, 1, "a whole number of megabytes or 'auto'")], {
      error: "must be 'auto' or a whole number of megabytes",
    })
    .default('auto')
    .describe(
      "Heap the learner's open join windows may take (estimated at ≈ 300 bytes a slate and 16 an item, by bench:joins). Past it the oldest windows close early, their unclicked items learned as negatives and a click that comes later learned as a late one; /metrics counts them in reco_joins_closed_early_total and the log warns. Without it, slates per second × JOIN_WINDOW_MS can outgrow V8's heap and crash the service. 'auto': a quarter of the memory, which is V8's heap limit (about 4.3 GB by default on 64-bit machines with enough memory; raise it with NODE_OPTIONS=--max-old-space-size=MB), or the container's memory limit (cgroup) when that is lower. With FOLD_IN_USERS, RECENT_TOMBSTONES_MAX and IMPRESSION_BUFFER_MB at 'auto' too, the four take at most 65% of it.",
    ),
  DEDUPE_HORIZON_HOURS: z.coerce
    .number({ error: 'must be a number of hours' })
    .positive({ error: 'must be more than 0' })
    .default(168)
    .describe(
      'How long a closed slate is remembered: its impression redelivered within this horizon is not learned twice, and late clicks still find their positions. (Clicks are remembered as long as they are kept.)',
    ),
  LOG_RETENTION_DAYS: z.coerce
    .number({ error: 'must be a number of days' })
    .min(0, { error: 'must be 0 (keep everything) or more' })
    .default(0)
    .describe(
      'Days of the logs kept in PostgreSQL: served slates (slates, by served_at) and clicks; older rows are deleted in the background, in chunks, every minute. 0 (the default) keeps everything: served slates take ≈ 2.2 KB each with their indexes (10 items), ≈ 19 GB a day at 100 slates/s. A click is also the record that deduplicates its event id, so it is kept at least DEDUPE_HORIZON_HOURS after it was learned. Replays, exports and retraining read only what is kept.',
    ),
  RECENT_TOMBSTONES_MAX: z
    .union([z.literal('auto'), wholeNumber(1000, 100_000_000, 1000, "a whole number of slates or 'auto'")], {
      error: "must be 'auto' or a whole number of slates",
    })
    .default('auto')
    .describe(
      "Closed slates the learner keeps in memory at most (those of the last hour, newest first; ≈ 460 bytes each for 10 items): a redelivered impression or a late click on an older one is looked up in PostgreSQL. More memory means a larger heap to collect: at 400k the learning latency tail grew from 0.2 s to 1.7 s in bench:ingest. 'auto': 200,000, or fewer where a twentieth of the memory (as for JOIN_MEMORY_MB) would not hold them.",
    ),
  FOLD_IN_USERS: z
    .union([z.literal('auto'), wholeNumber(1000, 100_000_000, 1000, "a whole number of users or 'auto'")], {
      error: "must be 'auto' or a whole number of users",
    })
    .default('auto')
    .describe(
      "Users whose recent learning targets (their newest 100 to 200) are kept in memory to fold them in at serving time, the least recently updated dropped first: ≈ 5.7 KB of heap each at a full history, so 10^6 users (5.7 GB) would not fit V8's default heap. A dropped user is served from their trained vector, or the population prior, until new events come. 'auto': as many as a quarter of the memory holds at a full history (as for JOIN_MEMORY_MB: ≈ 190,000 with V8's default heap on a 64-bit machine with enough memory).",
    ),
  CHECKPOINT_INTERVAL_MS: z.coerce
    .number({ error: 'must be a whole number of milliseconds' })
    .int({ error: 'must be a whole number of milliseconds' })
    .min(1000, { error: 'must be at least 1000' })
    .default(60_000)
    .describe(
      'How often the model is checkpointed to PostgreSQL (recovery replays the log after it): the items changed since the last checkpoint, 4.5 KB each at d = 32; stretched to nine times the duration of the last checkpoint when checkpoints are slow, so that they take at most a tenth of the time.',
    ),
  POSITION_EXAMINATION: z
    .string()
    .default('dcg')
    .transform((s, ctx) => {
      if (s === 'dcg') return Array.from({ length: 100 }, (_, p) => 1 / Math.log2(p + 2));
      if (s === 'none') return Array.from({ length: 100 }, () => 1);
      try {
        const v = JSON.parse(s) as unknown;
        if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && x > 0 && x <= 1))
          return v as number[];
      } catch {
        // fall through to the issue below
      }
      ctx.addIssue({
        code: 'custom',
        message: 'must be dcg, none, or a JSON list of examination probabilities in (0, 1] by position',
      });
      return z.NEVER;
    })
    .describe(
      'Examination probability by slate position for the position-based propensity: dcg (the default: 1/log2(p+1)), none (all 1), or a JSON list.',
    ),
  KAFKA_TOPIC_IMPRESSIONS: z.string().min(1).default('reco.impressions').describe('Topic of served slates.'),
  KAFKA_TOPIC_CLICKS: z
    .string()
    .min(1)
    .default('reco.clicks')
    .describe('Topic of click events from clients.'),
  KAFKA_TOPIC_DLQ: z
    .string()
    .min(1)
    .default('reco.dlq')
    .describe('Dead-letter topic for messages that cannot be learned.'),
  KAFKA_GROUP_ID: z.string().min(1).default('reco-learner').describe('Consumer group of the learner.'),
  KAFKA_PRODUCE_MAX_BYTES: wholeNumber(1024, 100_000_000, 900_000, 'a whole number of bytes').describe(
    "Most bytes of messages one produce request puts on a partition (impressions, dead letters): a send is cut into requests of at most this. Keep it below the broker's message.max.bytes and the topics' max.message.bytes (1 MB by default), which refuse a larger batch as MESSAGE_TOO_LARGE.",
  ),
  KAFKA_SESSION_TIMEOUT_MS: wholeNumber(6000, 300_000, 30_000, 'a whole number of milliseconds').describe(
    'Consumer session timeout: how long a dead learner keeps its partitions before the group moves them.',
  ),
});

export type Env = z.infer<typeof envSchema>;
