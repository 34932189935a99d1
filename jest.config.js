// One jest config for the whole monorepo. `*.spec.ts` are unit tests (pure logic, fakes allowed);
// `*.int-spec.ts` run against the real local stack (PostgreSQL, Redis, Kafka) that scripts/test.mjs brings up.
const fs = require('node:fs');
const path = require('node:path');

const swcrc = JSON.parse(fs.readFileSync(path.join(__dirname, '.swcrc'), 'utf8'));
delete swcrc.$schema;

const moduleNameMapper = {
  '^@provisio/(contracts|persistence|platform|sandbox|script-execution|connectors|mapping-scripts)$': '<rootDir>/libs/$1/src',
  '^@provisio/(persistence|platform|connectors)/testing$': '<rootDir>/libs/$1/src/testing',
  '^@provisio/migrations$': '<rootDir>/migrations/src',
};

const shared = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', { ...swcrc, swcrc: false }] },
  moduleNameMapper,
  modulePathIgnorePatterns: ['<rootDir>/.*/dist/', '<rootDir>/.stack/'],
};

module.exports = {
  reporters: ['default', '<rootDir>/scripts/jest-summary-reporter.js'],
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,migrations,test}/**/*.spec.ts'] },
    {
      ...shared,
      displayName: 'int',
      testMatch: ['<rootDir>/{apps,libs,migrations,test}/**/*.int-spec.ts'],
      setupFiles: ['<rootDir>/scripts/jest-int-env.js'],
      setupFilesAfterEnv: ['<rootDir>/scripts/jest-int-timeout.js'],
    },
    {
      // Real processes killed and a broker restarted, and timing claims (an ETA within ±10%) that suites
      // running beside them would falsify: npm test runs these last, one at a time.
      ...shared,
      displayName: 'chaos',
      testMatch: ['<rootDir>/{apps,libs,test}/**/*.{chaos,timing}-spec.ts'],
      setupFiles: ['<rootDir>/scripts/jest-int-env.js'],
      setupFilesAfterEnv: ['<rootDir>/scripts/jest-int-timeout.js'],
    },
  ],
};
