// `npm test`: unit tests, then integration tests against the real local stack (started when needed), on a
// database of their own (`<name>_test`), so a developer's data is never touched.
//   --unit   unit tests only (no stack)      --int   integration tests only
//   anything else is passed to jest (for example a path pattern)
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build, ensureDependencies, log, ROOT, run } from './lib.mjs';

const args = process.argv.slice(2);
const only = args.includes('--unit') ? 'unit' : args.includes('--int') ? 'int' : null;
const jestArgs = args.filter((a) => a !== '--unit' && a !== '--int');

function testDatabaseUrl(url) {
  const parsed = new URL(url);
  const name = parsed.pathname.replace(/^\//, '') || 'provisio';
  parsed.pathname = `/${name.endsWith('_test') ? name : `${name}_test`}`;
  return parsed.toString();
}

async function main() {
  const startedAt = Date.now();
  ensureDependencies();
  const summaryFile = join(ROOT, '.stack', 'test-summary.json');
  rmSync(summaryFile, { force: true });

  let env = {};
  let stack;
  if (only !== 'unit') {
    // Some integration tests run the built services and relay as real processes (kill -9, SIGTERM).
    build();
    stack = await import('./stack/index.mjs');
    const up = await stack.up();
    const databaseUrl = testDatabaseUrl(up.DATABASE_URL);
    await stack.ensureDatabase(databaseUrl);
    env = { DATABASE_URL: databaseUrl, REDIS_URL: up.REDIS_URL, KAFKA_BROKERS: up.KAFKA_BROKERS, startedNow: up.startedNow, started: up.started };
    log(`integration tests use ${databaseUrl.replace(/\/\/[^@]*@/, '//')}, ${up.REDIS_URL}, kafka ${up.KAFKA_BROKERS}`);
  }

  const projects = only ? ['--selectProjects', only] : [];
  let failed = false;
  try {
    run(join(ROOT, 'node_modules', '.bin', 'jest'), [...projects, '--forceExit', ...jestArgs], {
      env: {
        ...process.env,
        DATABASE_URL: env.DATABASE_URL ?? '',
        REDIS_URL: env.REDIS_URL ?? '',
        KAFKA_BROKERS: env.KAFKA_BROKERS ?? '',
        PROVISIO_TEST_SUMMARY: summaryFile,
        KAFKAJS_NO_PARTITIONER_WARNING: '1',
      },
    });
  } catch {
    failed = true;
  } finally {
    if (stack && env.startedNow && !process.env.PROVISIO_KEEP_STACK) await stack.down({ only: env.started });
  }
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  log(`npm test took ${seconds} s`);
  // The closing line CI reads: counts from the jest reporter, printed last.
  if (existsSync(summaryFile)) {
    const s = JSON.parse(readFileSync(summaryFile, 'utf8'));
    process.stdout.write(`tests: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped\n`);
  }
  process.exit(failed ? 1 : 0);
}

main().catch((error) => {
  process.stderr.write(`[provisio] npm test failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
