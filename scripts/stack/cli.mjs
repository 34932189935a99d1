#!/usr/bin/env node
// npm run stack:up | stack:down | stack:status  →  node scripts/stack/cli.mjs up|down|status
import { down, formatStatus, StackError, status, up } from './index.mjs';

const USAGE = `usage: node scripts/stack/cli.mjs up | down [postgres|redis|kafka|ldap|scim ...] | status [--json]

  up      make PostgreSQL, Redis and Kafka available: use DATABASE_URL / REDIS_URL / KAFKA_BROKERS
          (or their defaults) when they answer, otherwise start private ones under .stack/
          (KAFKA_VERSION picks the Kafka release, default 3.9.2); writes .stack/stack.env
  down    stop what the stack started (never external servers); name components to stop only those
  status  one line per component: URL, up/down, managed by stack or external (--json: the rows as JSON)`;

const COMPONENTS = ['postgres', 'redis', 'kafka', 'ldap', 'scim'];

async function main(command, rest) {
  switch (command) {
    case 'up':
      await up();
      return 0;
    case 'down': {
      const unknown = rest.filter((c) => !COMPONENTS.includes(c));
      if (unknown.length) throw new StackError(`unknown component(s) ${unknown.join(', ')}; expected ${COMPONENTS.join(', ')}`);
      await down(rest.length ? { only: rest } : {});
      return 0;
    }
    case 'status':
      if (rest.includes('--json')) process.stdout.write(`${JSON.stringify(await status({ quiet: true }))}\n`);
      else for (const line of formatStatus(await status())) process.stdout.write(`${line}\n`);
      return 0;
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      process.stderr.write(`${command ? `unknown command '${command}'\n` : ''}${USAGE}\n`);
      return 1;
  }
}

main(process.argv[2], process.argv.slice(3)).then(
  (code) => process.exit(code),
  (error) => {
    const message = error instanceof StackError ? error.message : (error?.stack ?? String(error));
    process.stderr.write(`[stack] error: ${message}\n`);
    process.exit(1);
  },
);
