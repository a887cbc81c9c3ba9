// A real Kafka broker for integration tests, from the first source that works:
//   1. KAFKA_BROKERS, when set (a broker you run yourself);
//   2. docker/kafka/start.sh, when java and mvn are on PATH (the broker's jars from Maven Central);
//   3. testcontainers, when a Docker engine answers (apache/kafka, same version as the pom).
// With none of them, Kafka tests fail under CI=true and are skipped elsewhere, saying why.
//
// jest's globalSetup (global-setup.js) calls ensureKafka() once per run and passes the result to
// the test files through RECO_TEST_KAFKA_* variables; test files use describeKafka() or
// kafkaTestContext() and never start a broker of their own unless run outside that setup.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export type KafkaSource = 'env' | 'script' | 'testcontainers';

export interface KafkaHandle {
  brokers: string[];
  source: KafkaSource;
  /** Releases what this handle started; a no-op for a broker someone else runs. */
  stop(): Promise<void>;
}

/** No broker could be had; the message says what was tried and why each failed. */
export class KafkaUnavailableError extends Error {
  override name = 'KafkaUnavailableError';
}

// What global-setup.js hands to the test files (workers inherit its process.env).
export const KAFKA_TEST_ENV = {
  brokers: 'RECO_TEST_KAFKA_BROKERS',
  source: 'RECO_TEST_KAFKA_SOURCE',
  unavailable: 'RECO_TEST_KAFKA_UNAVAILABLE',
} as const;

const repoDir = join(__dirname, '..', '..');
const kafkaDir = join(repoDir, 'docker', 'kafka');
const isCi = (): boolean => process.env.CI === 'true' || process.env.CI === '1';

/** The Kafka version pinned in docker/kafka/pom.xml, so the container matches the script's broker. */
export function pinnedKafkaVersion(): string {
  const pom = readFileSync(join(kafkaDir, 'pom.xml'), 'utf8');
  const version = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)?.[1];
  if (!version) throw new Error(`no <kafka.version> in ${join(kafkaDir, 'pom.xml')}`);
  return version;
}

const splitBrokers = (list: string): string[] =>
  list
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0);

const onPath = (command: string): boolean =>
  spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;

const noop = async (): Promise<void> => {};

function runScript(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // stderr (progress, the Maven fetch, errors) goes straight to the terminal.
    const child = spawn('bash', [join(kafkaDir, args[0]!), ...args.slice(1)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out.trim());
      else reject(new Error(`docker/kafka/${args[0]} exited with ${code}`));
    });
  });
}

async function fromScript(): Promise<KafkaHandle> {
  // The lease keeps the broker up while any test run in this checkout still uses it.
  const lease = String(process.pid);
  const out = await runScript(['start.sh', '--lease', lease]);
  const address = out.split('\n').pop() ?? '';
  if (!/^[\w.-]+:\d+$/.test(address)) throw new Error(`start.sh printed no address (got "${out}")`);
  return {
    brokers: [address],
    source: 'script',
    stop: async () => {
      await runScript(['stop.sh', '--release', lease]);
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function fromTestcontainers(): Promise<KafkaHandle> {
  let testcontainers: typeof import('testcontainers');
  try {
    testcontainers = await import('testcontainers');
  } catch (error) {
    // testcontainers 12 pulls undici 8, which needs Node >= 22 and fails to load on Node 20.
    throw new Error(`the testcontainers package failed to load: ${(error as Error).message}`);
  }
  const { GenericContainer, Wait, getContainerRuntimeClient } = testcontainers;
  let runtime: Awaited<ReturnType<typeof getContainerRuntimeClient>>;
  try {
    runtime = await getContainerRuntimeClient();
  } catch (error) {
    throw new Error(`no Docker engine answers: ${(error as Error).message}`);
  }
  const host = runtime.info.containerRuntime.host;
  // Kafka tells clients to reconnect to its advertised address, so that address must be the one
  // reachable from here: the same port number inside and outside, picked free beforehand.
  const port = await freePort();
  const container = await new GenericContainer(`apache/kafka:${pinnedKafkaVersion()}`)
    .withExposedPorts({ container: port, host: port })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_LISTENERS: `PLAINTEXT://:${port},CONTROLLER://localhost:9093`,
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${host}:${port}`,
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_INTER_BROKER_LISTENER_NAME: 'PLAINTEXT',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    })
    .withWaitStrategy(Wait.forLogMessage('Kafka Server started'))
    .withStartupTimeout(120_000)
    .start();
  return {
    brokers: [`${host}:${port}`],
    source: 'testcontainers',
    stop: async () => {
      await container.stop();
    },
  };
}

/**
 * A broker for tests: see the order at the top of this file. Throws KafkaUnavailableError when no
 * source works, listing why each failed; callers decide whether that fails (CI) or skips.
 */
export async function ensureKafka(): Promise<KafkaHandle> {
  const fromEnv = process.env.KAFKA_BROKERS?.trim();
  if (fromEnv) return { brokers: splitBrokers(fromEnv), source: 'env', stop: noop };

  // Already resolved by global-setup.js for this run: reuse it; its teardown stops it.
  const shared = process.env[KAFKA_TEST_ENV.brokers];
  if (shared) {
    const source = (process.env[KAFKA_TEST_ENV.source] ?? 'script') as KafkaSource;
    return { brokers: splitBrokers(shared), source, stop: noop };
  }
  const known = process.env[KAFKA_TEST_ENV.unavailable];
  if (known) throw new KafkaUnavailableError(known);

  const reasons = ['KAFKA_BROKERS is not set'];
  if (onPath('java') && onPath('mvn')) {
    try {
      return await fromScript();
    } catch (error) {
      reasons.push(`docker/kafka/start.sh failed: ${(error as Error).message}`);
    }
  } else {
    reasons.push('java or mvn is not on PATH (docker/kafka/start.sh needs both)');
  }
  try {
    return await fromTestcontainers();
  } catch (error) {
    reasons.push(`testcontainers: ${(error as Error).message.split('\n')[0]}`);
  }
  throw new KafkaUnavailableError(`no Kafka broker for the tests: ${reasons.join('; ')}`);
}

/**
 * Why Kafka tests cannot run in this process, or undefined when they can (or may: a broker
 * that fails to start then fails the suite, which is what should happen). Synchronous, so that
 * describeKafka can choose describe or describe.skip while jest collects the tests.
 */
export function kafkaSkipReason(): string | undefined {
  if (process.env.KAFKA_BROKERS?.trim() || process.env[KAFKA_TEST_ENV.brokers]) return undefined;
  const known = process.env[KAFKA_TEST_ENV.unavailable];
  if (known) return known;
  // Not resolved by global-setup.js (the file runs under another config): guess from the tools.
  if (onPath('java') && onPath('mvn')) return undefined;
  if (process.env.DOCKER_HOST || existsSync('/var/run/docker.sock')) return undefined;
  return 'no Kafka broker for the tests: KAFKA_BROKERS is not set, java or mvn is not on PATH, and no Docker engine';
}

export interface KafkaTestContext {
  /** Bootstrap addresses; available inside tests and hooks, after the suite's beforeAll. */
  readonly brokers: string[];
  readonly source: KafkaSource;
}

/**
 * Registers beforeAll/afterAll hooks in the current describe block that get a broker (shared with
 * the whole run when global-setup.js started one) and returns its details for the tests.
 */
export function kafkaTestContext(): KafkaTestContext {
  let handle: KafkaHandle | undefined;
  beforeAll(async () => {
    handle = await ensureKafka();
  }, 180_000);
  afterAll(async () => {
    await handle?.stop();
  }, 60_000);
  const get = (): KafkaHandle => {
    if (!handle) throw new Error('the Kafka test context is read before its beforeAll ran');
    return handle;
  };
  return {
    get brokers() {
      return get().brokers;
    },
    get source() {
      return get().source;
    },
  };
}

/**
 * describe() for tests that need Kafka. Without a broker it throws under CI=true and otherwise
 * skips the block, naming the reason in the block's title and on stderr.
 */
export function describeKafka(name: string, body: (kafka: KafkaTestContext) => void): void {
  const reason = kafkaSkipReason();
  if (reason === undefined) {
    describe(name, () => body(kafkaTestContext()));
    return;
  }
  if (isCi()) throw new KafkaUnavailableError(`${name}: ${reason} (CI=true: Kafka tests may not be skipped)`);
  process.stderr.write(`[kafka] skipping "${name}": ${reason}\n`);
  describe.skip(`${name} [skipped: ${reason}]`, () => body(kafkaTestContext()));
}

/** A topic or group name no other test or run will use on a shared broker. */
export function uniqueKafkaName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
