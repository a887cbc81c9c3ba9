import { getHeapStatistics } from 'node:v8';
import { availableParallelism } from 'node:os';
import {
  autoMemorySettings,
  ConfigError,
  configMarkdownTable,
  loadConfig,
  memoryBudget,
  requestLogOff,
} from './config';

describe('loadConfig', () => {
  it('defaults to the embedded database and HTTP events', () => {
    const c = loadConfig({});
    expect(c.http.port).toBe(3000);
    expect(c.database).toEqual({ mode: 'embedded', dataDir: './data', runMigrations: true });
    expect(c.kafka).toEqual({ mode: 'http' });
    expect(c.log.level).toBe('info');
  });

  it('reads an external database and Kafka brokers', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgres://u:p@db:5432/reco',
      KAFKA_BROKERS: 'k1:9092, k2:9093',
      MIGRATIONS_RUN: 'false',
      PORT: '8080',
    });
    expect(c.database).toEqual({
      mode: 'external',
      url: 'postgres://u:p@db:5432/reco',
      poolSize: 10,
      runMigrations: false,
    });
    expect(c.kafka).toEqual({
      mode: 'kafka',
      brokers: ['k1:9092', 'k2:9093'],
      clientId: 'reco',
      groupId: 'reco-learner',
      sessionTimeoutMs: 30000,
      produceMaxBytes: 900000,
      topics: { impressions: 'reco.impressions', clicks: 'reco.clicks', dlq: 'reco.dlq' },
    });
    expect(c.http.port).toBe(8080);
  });

  it('lists every bad key with its value, problem and expected form', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'abc', DATABASE_URL: 'mysql://x', KAFKA_BROKERS: 'nohost', LOG_LEVEL: 'loud' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems).toHaveLength(4);
    expect(problems.find((p) => p.startsWith('PORT="abc"'))).toMatch(/whole number/);
    expect(problems.find((p) => p.startsWith('DATABASE_URL='))).toMatch(/postgres:\/\//);
    expect(problems.find((p) => p.startsWith('KAFKA_BROKERS='))).toMatch(/host:port/);
    expect(problems.find((p) => p.startsWith('LOG_LEVEL='))).toMatch(/one of fatal/);
  });

  it('validates the default policy with the core policy schema', () => {
    expect(
      loadConfig({ DEFAULT_POLICY: '{"name":"eps_greedy","epsilon":0.2}' }).serving.defaultPolicy,
    ).toEqual({
      name: 'eps_greedy',
      epsilon: 0.2,
    });
    expect(loadConfig({}).serving.defaultPolicy.name).toBe('in_slate_ts');
    expect(() => loadConfig({ DEFAULT_POLICY: '{"name":"eps_greedy","epsilon":2}' })).toThrow(
      /DEFAULT_POLICY=.*: epsilon must be in \[0, 1\]/,
    );
    expect(() => loadConfig({ DEFAULT_POLICY: 'greedy' })).toThrow(
      /DEFAULT_POLICY="greedy": must be a JSON object/,
    );
  });

  it("takes SERVING_THREADS as a count or 'auto' (1 with 2 or more cores, else 0)", () => {
    expect(loadConfig({ SERVING_THREADS: '3' }).serving.threads).toBe(3);
    expect(loadConfig({ SERVING_THREADS: '0' }).serving.threads).toBe(0);
    expect(loadConfig({}).serving.threads).toBe(availableParallelism() >= 2 ? 1 : 0);
    expect(() => loadConfig({ SERVING_THREADS: 'many' })).toThrow(
      /SERVING_THREADS="many": must be 'auto' or a whole number of threads/,
    );
    expect(() => loadConfig({ SERVING_THREADS: '65' })).toThrow(
      /SERVING_THREADS="65": must be between 0 and 64/,
    );
  });

  it("takes JOIN_MEMORY_MB in megabytes or 'auto' (a quarter of V8's heap limit)", () => {
    expect(loadConfig({ JOIN_MEMORY_MB: '64' }).learning.joinMemoryBytes).toBe(64 * 1024 * 1024);
    expect(loadConfig({}).learning.joinMemoryBytes).toBe(Math.floor(getHeapStatistics().heap_size_limit / 4));
    // Under a cgroup limit below the heap's (a container), that limit.
    expect(memoryBudget(4e9, 1e9)).toBe(1e9);
    expect(memoryBudget(4e9, 2 ** 64)).toBe(4e9); // no limit: cgroup v2 "max"
    expect(memoryBudget(4e9, undefined)).toBe(4e9);
    expect(memoryBudget(4e9, 0)).toBe(4e9);
    expect(() => loadConfig({ JOIN_MEMORY_MB: 'lots' })).toThrow(
      /JOIN_MEMORY_MB="lots": must be 'auto' or a whole number of megabytes/,
    );
    expect(() => loadConfig({ JOIN_MEMORY_MB: '0' })).toThrow(
      /JOIN_MEMORY_MB="0": must be between 1 and 1000000/,
    );
  });

  it("takes FOLD_IN_USERS and RECENT_TOMBSTONES_MAX as counts or 'auto' (shares of the same memory)", () => {
    const budget = memoryBudget(getHeapStatistics().heap_size_limit, process.constrainedMemory());
    const auto = loadConfig({}).learning;
    expect(auto.foldInUsers).toBe(autoMemorySettings(budget).foldInUsers);
    expect(auto.recentTombstonesMax).toBe(autoMemorySettings(budget).recentTombstonesMax);
    expect(loadConfig({ FOLD_IN_USERS: '5000', RECENT_TOMBSTONES_MAX: '7000' }).learning).toMatchObject({
      foldInUsers: 5000,
      recentTombstonesMax: 7000,
    });
    // V8's default heap on a 64-bit machine with enough memory (4.35 GB here): the old fixed defaults, or close.
    expect(autoMemorySettings(4_345_298_944)).toEqual({
      joinMemoryBytes: 1_086_324_736,
      impressionBufferBytes: 434_529_894,
      foldInUsers: 190_583,
      recentTombstonesMax: 200_000,
    });
    // A 512 MB container: all four shrink with it, and take 65% of it at most.
    const small = autoMemorySettings(512 * 2 ** 20);
    expect(small.foldInUsers).toBe(23_546);
    expect(small.recentTombstonesMax).toBe(58_355);
    expect(
      small.joinMemoryBytes +
        small.foldInUsers * 5700 +
        small.recentTombstonesMax * 460 +
        small.impressionBufferBytes,
    ).toBeLessThanOrEqual(0.65 * 512 * 2 ** 20);
    expect(loadConfig({ IMPRESSION_BUFFER_MB: '64' }).serving.impressionBufferBytes).toBe(64 * 2 ** 20);
    expect(() => loadConfig({ IMPRESSION_BUFFER_MB: '0' })).toThrow(
      /IMPRESSION_BUFFER_MB="0": must be between 1 and 1000000/,
    );
    expect(autoMemorySettings(1e6)).toMatchObject({ foldInUsers: 1000, recentTombstonesMax: 1000 });
    expect(() => loadConfig({ FOLD_IN_USERS: 'many' })).toThrow(
      /FOLD_IN_USERS="many": must be 'auto' or a whole number of users/,
    );
    expect(() => loadConfig({ RECENT_TOMBSTONES_MAX: '10' })).toThrow(
      /RECENT_TOMBSTONES_MAX="10": must be between 1000 and 100000000/,
    );
  });

  it('takes LOG_RETENTION_DAYS as days (fractions too), 0 keeping everything', () => {
    expect(loadConfig({}).retention.logDays).toBe(0);
    expect(loadConfig({ LOG_RETENTION_DAYS: '0.5' }).retention.logDays).toBe(0.5);
    expect(() => loadConfig({ LOG_RETENTION_DAYS: '-1' })).toThrow(
      /LOG_RETENTION_DAYS="-1": must be 0 \(keep everything\) or more/,
    );
    expect(() => loadConfig({ LOG_RETENTION_DAYS: 'month' })).toThrow(
      /LOG_RETENTION_DAYS="month": must be a number of days/,
    );
  });

  it('turns the request log (and its per-request logger) off above info only', () => {
    const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
    expect(levels.filter((l) => requestLogOff(loadConfig({ LOG_LEVEL: l }).log.level))).toEqual([
      'fatal',
      'error',
      'warn',
      'silent',
    ]);
  });

  it('rejects out-of-range ports', () => {
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT="70000": must be between 0 and 65535/);
  });

  it('documents every key', () => {
    const table = configMarkdownTable();
    for (const key of ['PORT', 'DATABASE_URL', 'KAFKA_BROKERS', 'LOG_LEVEL', 'RECO_DATA_DIR'])
      expect(table).toContain(key);
    expect(table).toContain('`3000`');
  });
});
