// jest globalTeardown of the `integration` project: releases the broker global-setup.js got.
// For the script's broker that drops this run's lease, and stops the broker only if no other
// test run still uses it and no one started it by hand (docker/kafka/stop.sh --release).
module.exports = async () => {
  const kafka = globalThis.__recoKafka;
  globalThis.__recoKafka = undefined;
  if (kafka) await kafka.stop();
};
