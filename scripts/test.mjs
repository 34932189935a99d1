// `npm test`: unit tests, then integration tests against the real local stack (started when needed), on a
// database of their own (`<name>_test`), so a developer's data is never touched.
//   --unit   unit tests only (no stack)      --int   integration (and chaos) tests only
//   --chaos  only the chaos and timing tests (real processes killed, the broker restarted, timing claims;
//            run last, one at a time)
//   anything else is passed to jest (for example a path pattern)
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, deleteTopics, ensureDependencies, log, ROOT, run } from './lib.mjs';

const args = process.argv.slice(2);
const only = args.includes('--unit') ? 'unit' : args.includes('--int') ? 'int' : args.includes('--chaos') ? 'chaos' : null;
const jestArgs = args.filter((a) => !['--unit', '--int', '--chaos'].includes(a));
// Phases in order: the chaos tests restart shared services, so they run after the rest, in band.
const CHAOS = { projects: ['chaos'], flags: ['--runInBand'] };
const PHASES = {
  unit: [{ projects: ['unit'], flags: [] }],
  int: [{ projects: ['int'], flags: [] }, CHAOS],
  chaos: [CHAOS],
  all: [{ projects: ['unit', 'int'], flags: [] }, CHAOS],
}[only ?? 'all'];

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
  const phaseFile = join(ROOT, '.stack', 'test-summary.phase.json');
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
    // The target servers' variables (SCIM_TARGET_*, LDAP_TARGET_*, SQL_TARGET_*) go to the suites as they are.
    const targets = Object.fromEntries(Object.entries(up).filter(([name, value]) => /_TARGET_/.test(name) && typeof value === 'string'));
    env = { DATABASE_URL: databaseUrl, REDIS_URL: up.REDIS_URL, KAFKA_BROKERS: up.KAFKA_BROKERS, targets, startedNow: up.startedNow, started: up.started };
    log(`integration tests use ${databaseUrl.replace(/\/\/[^@]*@/, '//')}, ${up.REDIS_URL}, kafka ${up.KAFKA_BROKERS}`);
  }

  let failed = false;
  const total = { passed: 0, failed: 0, skipped: 0 };
  try {
    for (const phase of PHASES) {
      rmSync(phaseFile, { force: true });
      try {
        run(join(ROOT, 'node_modules', '.bin', 'jest'), ['--selectProjects', ...phase.projects, ...phase.flags, '--forceExit', '--passWithNoTests', ...jestArgs], {
          env: {
            ...process.env,
            DATABASE_URL: env.DATABASE_URL ?? '',
            REDIS_URL: env.REDIS_URL ?? '',
            KAFKA_BROKERS: env.KAFKA_BROKERS ?? '',
            ...env.targets,
            PROVISIO_TEST_SUMMARY: phaseFile,
          },
        });
      } catch {
        failed = true;
      }
      if (existsSync(phaseFile)) {
        const counts = JSON.parse(readFileSync(phaseFile, 'utf8'));
        for (const key of Object.keys(total)) total[key] += counts[key];
      } else {
        failed = true; // jest died before reporting
      }
    }
  } finally {
    // Integration suites create their topics under a prefix of their own (`t<8 hex>.`, uniqueTopicPrefix).
    if (env.KAFKA_BROKERS) {
      await deleteTopics(env.KAFKA_BROKERS, (t) => /^t[0-9a-f]{8}\./.test(t))
        .then((n) => n && log(`deleted ${n} test topics`))
        .catch((error) => log(`test topics not deleted: ${error.message}`));
    }
    if (stack && env.startedNow && !process.env.PROVISIO_KEEP_STACK) await stack.down({ only: env.started });
  }
  writeFileSync(summaryFile, JSON.stringify(total));
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  log(`npm test took ${seconds} s`);
  // The closing line CI reads: counts from the jest reporter over every phase, printed last.
  process.stdout.write(`tests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped\n`);
  process.exit(failed ? 1 : 0);
}

main().catch((error) => {
  process.stderr.write(`[provisio] npm test failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
