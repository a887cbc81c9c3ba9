import { availableParallelism } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import type { PolicyConfig } from '../core/policies/policy-config.schema';
import { envSchema, type Env } from './config.schema';

/** The typed, validated configuration, nested by concern. */
export interface AppConfig {
  readonly http: { port: number; host: string; bodyLimit: string; importBodyLimit: string };
  readonly database:
    | { mode: 'external'; url: string; poolSize: number; runMigrations: boolean }
    | { mode: 'embedded'; dataDir: string; runMigrations: boolean };
  readonly kafka:
    | {
        mode: 'kafka';
        brokers: string[];
        clientId: string;
        groupId: string;
        sessionTimeoutMs: number;
        /** `KAFKA_PRODUCE_MAX_BYTES`: a send is cut into produce requests of at most this (`chunkMessages`). */
        produceMaxBytes: number;
        topics: KafkaTopics;
      }
    | { mode: 'http' };
  readonly log: { level: Env['LOG_LEVEL'] };
  readonly serving: {
    defaultPolicy: PolicyConfig;
    impressionFlushMs: number;
    /** `IMPRESSION_REDELIVER_MS`: a stored slate not delivered to the learner this long after is delivered again. */
    redeliverMs: number;
    /** Heap the unwritten impressions may take, in bytes (`IMPRESSION_BUFFER_MB`, resolved). */
    impressionBufferBytes: number;
    threads: number;
    /** A slate worker's longest time to answer before it is stopped (`SLATE_TIMEOUT_MS`). */
    timeoutMs: number;
    /** How long a request may wait for its slate worker before it is answered 503 (`SLATE_QUEUE_MS`; 0: no limit). */
    queueMs: number;
  };
  readonly model: { dim: number; refreshMs: number; solveThread: 'worker' | 'main' };
  readonly learning: {
    joinWindowMs: number;
    /** Heap the open joins may take, in bytes (`JOIN_MEMORY_MB`, resolved). */
    joinMemoryBytes: number;
    dedupeHorizonHours: number;
    recentTombstonesMax: number;
    foldInUsers: number;
    checkpointIntervalMs: number;
    examination: readonly number[];
  };
  /** Days of slates and clicks kept (`LOG_RETENTION_DAYS`); 0: everything. */
  readonly retention: { logDays: number };
}

export interface KafkaTopics {
  impressions: string;
  clicks: string;
  dlq: string;
}

/** A configuration that failed validation: one line per bad key, naming the key, the problem and the form. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined>): AppConfig {
  // Empty strings mean "unset", as in most deployment tools.
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') cleaned[key] = v;
  }
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '(root)');
      const value = cleaned[key];
      // Inner paths name a field of a JSON value (DEFAULT_POLICY.epsilon); list indices add nothing to the message.
      const inner = issue.path
        .slice(1)
        .filter((p) => typeof p === 'string')
        .join('.');
      return `${key}=${JSON.stringify(value ?? '')}: ${inner ? `${inner} ` : ''}${issue.message}`;
    });
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  const auto = autoMemorySettings(
    memoryBudget(getHeapStatistics().heap_size_limit, process.constrainedMemory?.()),
  );
  return {
    http: { port: e.PORT, host: e.HOST, bodyLimit: e.HTTP_BODY_LIMIT, importBodyLimit: e.IMPORT_BODY_LIMIT },
    database: e.DATABASE_URL
      ? {
          mode: 'external',
          url: e.DATABASE_URL,
          poolSize: e.DATABASE_POOL_SIZE,
          runMigrations: e.MIGRATIONS_RUN,
        }
      : { mode: 'embedded', dataDir: e.RECO_DATA_DIR, runMigrations: e.MIGRATIONS_RUN },
    kafka: e.KAFKA_BROKERS
      ? {
          mode: 'kafka',
          brokers: e.KAFKA_BROKERS,
          clientId: e.KAFKA_CLIENT_ID,
          groupId: e.KAFKA_GROUP_ID,
          sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS,
          produceMaxBytes: e.KAFKA_PRODUCE_MAX_BYTES,
          topics: {
            impressions: e.KAFKA_TOPIC_IMPRESSIONS,
            clicks: e.KAFKA_TOPIC_CLICKS,
            dlq: e.KAFKA_TOPIC_DLQ,
          },
        }
      : { mode: 'http' },
    log: { level: e.LOG_LEVEL },
    serving: {
      defaultPolicy: Object.freeze(e.DEFAULT_POLICY),
      impressionFlushMs: e.IMPRESSION_FLUSH_MS,
      redeliverMs: e.IMPRESSION_REDELIVER_MS,
      impressionBufferBytes:
        e.IMPRESSION_BUFFER_MB === 'auto' ? auto.impressionBufferBytes : e.IMPRESSION_BUFFER_MB * 1024 * 1024,
      threads: e.SERVING_THREADS === 'auto' ? (availableParallelism() >= 2 ? 1 : 0) : e.SERVING_THREADS,
      timeoutMs: e.SLATE_TIMEOUT_MS,
      queueMs: e.SLATE_QUEUE_MS,
    },
    model: { dim: e.MODEL_DIM, refreshMs: e.MODEL_REFRESH_MS, solveThread: e.MODEL_SOLVE_THREAD },
    learning: {
      joinWindowMs: e.JOIN_WINDOW_MS,
      joinMemoryBytes: e.JOIN_MEMORY_MB === 'auto' ? auto.joinMemoryBytes : e.JOIN_MEMORY_MB * 1024 * 1024,
      dedupeHorizonHours: e.DEDUPE_HORIZON_HOURS,
      recentTombstonesMax:
        e.RECENT_TOMBSTONES_MAX === 'auto' ? auto.recentTombstonesMax : e.RECENT_TOMBSTONES_MAX,
      foldInUsers: e.FOLD_IN_USERS === 'auto' ? auto.foldInUsers : e.FOLD_IN_USERS,
      checkpointIntervalMs: e.CHECKPOINT_INTERVAL_MS,
      examination: Object.freeze(e.POSITION_EXAMINATION),
    },
    retention: { logDays: e.LOG_RETENTION_DAYS },
  };
}

/**
 * The memory the learner's in-memory state may grow into: V8's heap limit, or the memory the process may use (its
 * cgroup's limit, `process.constrainedMemory()`) when that is lower: a container's limit kills the process before a
 * heap sized from the machine's memory fills.
 */
export function memoryBudget(heapLimit: number, constrained: number | undefined): number {
  return constrained !== undefined && constrained > 0 && constrained < heapLimit ? constrained : heapLimit;
}

/** Bytes of heap a fold-in history takes at its fullest (README, FOLD_IN_USERS). */
const FOLD_IN_USER_BYTES = 5_700;
/** Bytes a tombstone of 10 items takes (bench:joins: the same stored form as an open join). */
const TOMBSTONE_BYTES = 460;

/**
 * The `auto` values of the settings that bound what grows with traffic, out of `budget` bytes: the open joins a
 * quarter (`JOIN_MEMORY_MB`), the fold-in histories a quarter at their fullest (`FOLD_IN_USERS`), the recent
 * tombstones a twentieth and at most 200,000 (`RECENT_TOMBSTONES_MAX`: more made the learning tail slower), the
 * impressions waiting for the database a tenth (`IMPRESSION_BUFFER_MB`): 65% of it in all.
 */
export function autoMemorySettings(budget: number): {
  joinMemoryBytes: number;
  foldInUsers: number;
  recentTombstonesMax: number;
  impressionBufferBytes: number;
} {
  return {
    joinMemoryBytes: Math.floor(budget / 4),
    impressionBufferBytes: Math.floor(budget / 10),
    foldInUsers: Math.max(1000, Math.floor(budget / 4 / FOLD_IN_USER_BYTES)),
    recentTombstonesMax: Math.max(1000, Math.min(200_000, Math.floor(budget / 20 / TOMBSTONE_BYTES))),
  };
}

/** Markdown table of every key: name, default, description (the README's configuration section). */
export function configMarkdownTable(): string {
  const rows = ['| variable | default | meaning |', '|---|---|---|'];
  for (const [key, schema] of Object.entries(envSchema.shape)) {
    const s = schema as { description?: string; _zod?: { def?: { defaultValue?: unknown } } };
    let def = '';
    try {
      const out = envSchema.shape[key as keyof typeof envSchema.shape].safeParse(undefined);
      if (out.success && out.data !== undefined) {
        def = typeof out.data === 'object' ? JSON.stringify(out.data) : String(out.data);
        if (Array.isArray(out.data) && def.length > 40) def = '';
      }
    } catch {
      def = '';
    }
    const cell = (t: string) => t.replace(/\|/g, '\\|');
    rows.push(`| \`${key}\` | ${def ? `\`${cell(def)}\`` : '(unset)'} | ${cell(s.description ?? '')} |`);
  }
  return rows.join('\n');
}

export const APP_CONFIG = Symbol('APP_CONFIG');

/**
 * Whether `level` is above info, the level of the request log (pino-http's): the service then installs no
 * request log (see common/logging/request-log.ts).
 */
export function requestLogOff(level: AppConfig['log']['level']): boolean {
  return level === 'warn' || level === 'error' || level === 'fatal' || level === 'silent';
}
