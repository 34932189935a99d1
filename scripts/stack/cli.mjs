#!/usr/bin/env node
// npm run stack:up | stack:down | stack:status  →  node scripts/stack/cli.mjs up|down|status
import { down, formatStatus, StackError, status, up } from './index.mjs';

const USAGE = `usage: node scripts/stack/cli.mjs up|down|status

  up      make PostgreSQL, Redis and Kafka available: use DATABASE_URL / REDIS_URL / KAFKA_BROKERS
          (or their defaults) when they answer, otherwise start private ones under .stack/
          (KAFKA_VERSION picks the Kafka release, default 3.9.2); writes .stack/stack.env
  down    stop what the stack started (never external servers)
  status  one line per component: URL, up/down, managed by stack or external`;

async function main(command) {
  switch (command) {
    case 'up':
      await up();
      return 0;
    case 'down':
      await down();
      return 0;
    case 'status':
      for (const line of formatStatus(await status())) process.stdout.write(`${line}\n`);
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

main(process.argv[2]).then(
  (code) => process.exit(code),
  (error) => {
    const message = error instanceof StackError ? error.message : (error?.stack ?? String(error));
    process.stderr.write(`[stack] error: ${message}\n`);
    process.exit(1);
  },
);
