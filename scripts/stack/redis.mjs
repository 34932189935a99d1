// Redis: use the server in REDIS_URL when it answers PING, otherwise a private redis-server in .stack/redis.
import { existsSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { ensureDir, indent, isAlive, portFree, readPid, redact, rel, removeFile, run, STACK_DIR, StackError, stopProcess, tail, waitFor, which } from './util.mjs';

export const DEFAULT_URL = 'redis://127.0.0.1:6379';
export const PRIVATE_PORT = 56379;
const REDIS_DIR = join(STACK_DIR, 'redis');
const PID_FILE = join(REDIS_DIR, 'redis.pid');
const LOG_FILE = join(REDIS_DIR, 'redis.log');

/**
 * Sends a raw PING. Any RESP reply counts as answering (+PONG, or -NOAUTH from a server that wants a
 * password: it is there, the application authenticates with the URL's credentials).
 */
export function ping(url, timeoutMs = 1500) {
  return new Promise((resolve) => {
    let parsed;
    try {
      parsed = new URL(url);
    } catch {
      resolve({ answers: false, error: new Error(`not a URL: ${url}`) });
      return;
    }
    const tls = parsed.protocol === 'rediss:';
    const options = { host: parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(parsed.port || 6379) };
    const socket = tls ? tlsConnect({ ...options, servername: options.host }) : netConnect(options);
    let settled = false;
    const finish = (result) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => finish({ answers: false, error: new Error(`no answer within ${timeoutMs} ms`) }));
    socket.once('error', (error) => finish({ answers: false, error }));
    socket.once(tls ? 'secureConnect' : 'connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.once('data', (data) => {
      const reply = data.toString('utf8');
      finish(/^[+-]/.test(reply) ? { answers: true, reply: reply.trim() } : { answers: false, error: new Error(`unexpected reply ${JSON.stringify(reply.slice(0, 40))}`) });
    });
  });
}

function privatePid() {
  const pid = readPid(PID_FILE);
  return isAlive(pid, 'redis-server') ? pid : null;
}

function privateUrl(requestedUrl) {
  const path = new URL(requestedUrl).pathname;
  return `redis://127.0.0.1:${PRIVATE_PORT}${path && path !== '/' ? path : ''}`;
}

async function startPrivate(log) {
  const binary = which('redis-server', ['/usr/sbin', '/usr/local/bin', '/opt/homebrew/bin']);
  if (!binary) {
    throw new StackError(
      'Redis does not answer at REDIS_URL and `redis-server` was not found to start a private one. ' +
        'Either set REDIS_URL to a running server, or install it (`apt-get install redis-server`).',
    );
  }
  if (!(await portFree(PRIVATE_PORT))) {
    throw new StackError(`port ${PRIVATE_PORT} (private Redis) is taken by another program; free it or set REDIS_URL`);
  }
  ensureDir(REDIS_DIR);
  removeFile(PID_FILE);
  log(`starting a private Redis on 127.0.0.1:${PRIVATE_PORT}...`);
  // redis-server writes its own pid file and log, and detaches itself
  const args = ['--port', String(PRIVATE_PORT), '--bind', '127.0.0.1', '--daemonize', 'yes', '--dir', REDIS_DIR, '--save', '', '--appendonly', 'no', '--pidfile', PID_FILE, '--logfile', LOG_FILE];
  const result = await run(binary, args);
  if (result.code !== 0) throw new StackError(`redis-server failed to start:\n${indent(result.output.trim())}\n${indent(tail(LOG_FILE, 15))}`);
}

/** Brings Redis up. Returns { url, managed, started }. */
export async function up({ env, log }) {
  const requested = env.REDIS_URL || DEFAULT_URL;
  const external = await ping(requested);
  if (external.answers) {
    const ownsIt = privatePid() && new URL(requested).port === String(PRIVATE_PORT);
    return { url: requested, managed: Boolean(ownsIt), started: false };
  }
  const url = privateUrl(requested);
  let started = false;
  if (!privatePid() || !(await ping(url)).answers) {
    if (env.REDIS_URL) log(`REDIS_URL (${redact(requested)}) does not answer (${external.error?.message}); using a private Redis`);
    await startPrivate(log);
    started = true;
  }
  const ready = await waitFor(async () => (await ping(url)).answers, { timeoutMs: 15_000, intervalMs: 200 });
  if (!ready) throw new StackError(`the private Redis does not answer at ${url}\n  ${rel(LOG_FILE)}:\n${indent(tail(LOG_FILE, 15))}`);
  return { url, managed: true, started };
}

export async function down() {
  const pid = privatePid();
  if (!pid) {
    if (existsSync(PID_FILE)) removeFile(PID_FILE);
    return null;
  }
  const killed = await stopProcess(pid, { timeoutMs: 15_000, commandIncludes: 'redis-server' });
  removeFile(PID_FILE);
  return `stopped the private Redis (pid ${pid}${killed ? ', killed' : ''})`;
}

export async function status({ env }) {
  const requested = env.REDIS_URL || DEFAULT_URL;
  const pid = privatePid();
  if (pid) {
    const url = privateUrl(requested);
    return { name: 'redis', url, up: (await ping(url)).answers, managed: true, detail: `pid ${pid}` };
  }
  return { name: 'redis', url: redact(requested), up: (await ping(requested)).answers, managed: false };
}
