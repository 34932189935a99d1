// Helpers shared by start.mjs and test.mjs: dependency install, build, and child processes.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export function log(message) {
  process.stdout.write(`[provisio] ${message}\n`);
}

/** `npm ci` when node_modules is missing or older than the lockfile. */
export function ensureDependencies() {
  const marker = join(ROOT, 'node_modules', '.package-lock.json');
  const lock = join(ROOT, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  log('installing dependencies (npm ci)...');
  // The registry sometimes drops a connection mid-body (EIDLETIMEOUT), which npm does not retry
  // itself: try up to three times, from the local cache first.
  for (let attempt = 1; ; attempt++) {
    try {
      run('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline']);
      return;
    } catch (error) {
      if (attempt === 3) throw error;
      log(`npm ci failed (attempt ${attempt}), retrying in ${attempt * 15}s`);
      spawnSync('sleep', [String(attempt * 15)]);
    }
  }
}

export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', ...options });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed with ${result.status ?? result.signal}`);
  }
}

/** Builds every lib and app with SWC, through Nx (cached). */
export function build() {
  log('building (nx run-many -t build)...');
  run(join(ROOT, 'node_modules', '.bin', 'nx'), ['run-many', '-t', 'build', '--output-style=static', '--skip-nx-cache=false'], {
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export function migrate(env) {
  log('running migrations...');
  run(process.execPath, [join(ROOT, 'migrations', 'dist', 'cli.js'), 'run'], { env: { ...process.env, ...env } });
}

/** Spawns a long-running child whose lines are prefixed with its name. */
export function spawnPrefixed(name, command, args, env) {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = `${name.padEnd(18)} | `;
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop();
      for (const line of lines) process.stdout.write(prefix + line + '\n');
    });
  }
  return child;
}

/**
 * Deletes the topics whose names `match` accepts (test and bench runs clean up after themselves; a
 * long-lived broker otherwise collects thousands of partitions). Returns how many went. kafkajs is
 * loaded here, not at the top: this file also runs before `npm ci`.
 */
export async function deleteTopics(brokers, match) {
  const { Kafka, logLevel } = createRequire(join(ROOT, 'package.json'))('kafkajs');
  const admin = new Kafka({ clientId: 'provisio-topic-cleanup', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter(match);
    for (let i = 0; i < topics.length; i += 100) await admin.deleteTopics({ topics: topics.slice(i, i + 100), timeout: 60_000 });
    return topics.length;
  } finally {
    await admin.disconnect();
  }
}
