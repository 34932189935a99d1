// Integration suites need the local stack. scripts/test.mjs brings it up and exports its URLs; running jest
// directly needs the same variables (see README "Running one test").
for (const name of ['DATABASE_URL', 'REDIS_URL', 'KAFKA_BROKERS']) {
  if (!process.env[name]) {
    throw new Error(`${name} is not set: run integration tests through \`npm test\` (it starts the local stack), or export ${name}`);
  }
}
