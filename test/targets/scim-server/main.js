#!/usr/bin/env node
// Runs the fixture SCIM server alone:
//   node test/targets/scim-server/main.js [--port 8089] [--host 127.0.0.1] [--token T] [--basic user:pass] [--no-bulk]
// Credentials may come from SCIM_TARGET_TOKEN / SCIM_TARGET_USERNAME + SCIM_TARGET_PASSWORD instead of
// arguments (so they do not show in `ps`). Prints one line, `listening <url>`, once it accepts requests.
'use strict';
const { createScimServer } = require('./scim-server');

function parseArgs(argv) {
  const args = { port: 8089, host: '127.0.0.1', bulk: true };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${name} needs a value`);
      return argv[++i];
    };
    if (name === '--port') args.port = Number(value());
    else if (name === '--host') args.host = value();
    else if (name === '--token') args.token = value();
    else if (name === '--basic') args.basic = value();
    else if (name === '--no-bulk') args.bulk = false;
    else if (name === '--help' || name === '-h') args.help = true;
    else throw new Error(`unknown argument ${name} (try --help)`);
  }
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write('usage: node test/targets/scim-server/main.js [--port 8089] [--host 127.0.0.1] [--token T] [--basic user:pass] [--no-bulk]\n');
    return;
  }
  if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) throw new Error('--port must be 0-65535');
  const token = args.token ?? process.env.SCIM_TARGET_TOKEN;
  let basic;
  const pair = args.basic ?? (process.env.SCIM_TARGET_USERNAME ? `${process.env.SCIM_TARGET_USERNAME}:${process.env.SCIM_TARGET_PASSWORD ?? ''}` : undefined);
  if (pair !== undefined) {
    const colon = pair.indexOf(':');
    if (colon < 1) throw new Error('--basic must be user:password');
    basic = { username: pair.slice(0, colon), password: pair.slice(colon + 1) };
  }
  if (!token && !basic) throw new Error('give a bearer token (--token or SCIM_TARGET_TOKEN) and/or basic credentials (--basic user:pass)');
  const server = createScimServer({ token, basic, bulk: args.bulk });
  const { url } = await server.listen(args.port, args.host);
  process.stdout.write(`listening ${url}\n`);
  const stop = () => server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error) => {
  process.stderr.write(`scim-server: ${error.message}\n`);
  process.exit(1);
});
