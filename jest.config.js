// Two tiers, as in immich: `unit` (pure, no I/O, beside the code) and `integration` (real PostgreSQL, Kafka, HTTP).
const fs = require('node:fs');
const swc = JSON.parse(fs.readFileSync(`${__dirname}/.swcrc`, 'utf8'));
delete swc.$schema;
const transform = { '^.+\\.ts$': ['@swc/jest', { ...swc, swcrc: false }] };
module.exports = {
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      roots: ['<rootDir>/src'],
      testMatch: ['**/*.spec.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform,
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.test.ts'],
      globalSetup: `${__dirname}/test/setup/global-setup.js`,
      globalTeardown: `${__dirname}/test/setup/global-teardown.js`,
      setupFilesAfterEnv: [`${__dirname}/test/setup/jest-timeout.ts`],
    },
  ],
};
