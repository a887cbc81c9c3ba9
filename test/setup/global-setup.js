// jest globalSetup of the `integration` project: gets one Kafka broker for the whole run (see
// kafka.ts for where from) and hands it to the test files through process.env, which the
// workers inherit. global-teardown.js releases it.
//
// RECO_TEST_KAFKA=off skips the broker (Kafka tests then skip, or fail under CI=true).
// jest transforms files required from here with the project's transform, so kafka.ts loads as is.
const { ensureKafka, KAFKA_TEST_ENV } = require('./kafka.ts');

const isCi = process.env.CI === 'true' || process.env.CI === '1';

module.exports = async () => {
  for (const key of Object.values(KAFKA_TEST_ENV)) delete process.env[key];
  if (process.env.RECO_TEST_KAFKA === 'off') {
    process.env[KAFKA_TEST_ENV.unavailable] = 'Kafka disabled by RECO_TEST_KAFKA=off';
    return;
  }
  const started = Date.now();
  try {
    const kafka = await ensureKafka();
    globalThis.__recoKafka = kafka;
    process.env[KAFKA_TEST_ENV.brokers] = kafka.brokers.join(',');
    process.env[KAFKA_TEST_ENV.source] = kafka.source;
    process.stderr.write(
      `\n[kafka] ${kafka.brokers.join(',')} (${kafka.source}, ready in ${Date.now() - started} ms)\n`,
    );
  } catch (error) {
    if (isCi) throw error;
    process.env[KAFKA_TEST_ENV.unavailable] = error.message;
    process.stderr.write(`\n[kafka] Kafka tests will be skipped: ${error.message}\n`);
  }
};
