// Small helpers shared by the stack components: paths, logging, processes, ports, locking.
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const STACK_DIR = join(ROOT, '.stack');

/** An error whose message is meant for the user as it is (no stack trace needed). */
export class StackError extends Error {
  constructor(message) {
    super(message);
    this.name = 'StackError';
  }
}

export const defaultLog = (message) => process.stdout.write(`[stack] ${message}\n`);

/** Path relative to the repository root, for messages. */
export const rel = (path) => relative(ROOT, path) || '.';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function ensureDir(path) {
  mkdirSync(path, { recursive: true });
  return path;
}

/** Loads a package from the repository's node_modules with a helpful message when it is missing. */
const requireFromRoot = createRequire(join(ROOT, 'package.json'));
export function requireDependency(name) {
  try {
    return requireFromRoot(name);
  } catch (error) {
    if (error.code === 'MODULE_NOT_FOUND') {
      throw new StackError(`the '${name}' package is missing from node_modules: run \`npm ci\` first`);
    }
    throw error;
  }
}

/** Hides the password of a URL for messages. */
export function redact(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** Finds an executable on PATH (and in extra folders). Returns its path or null. */
export function which(command, extraDirs = []) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...extraDirs].filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** Reads a pid from the first line of a file; null when absent or unreadable. */
export function readPid(file) {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').split('\n')[0].trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Whether a process is alive (a zombie counts as dead: stack processes are re-parented to whatever PID 1 is,
 * which does not always reap). When `commandIncludes` is given and /proc is available, the command line
 * must contain it too, which guards against a recycled pid.
 */
export function isAlive(pid, commandIncludes) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (error.code !== 'EPERM') return false;
  }
  if (existsSync('/proc/self/stat')) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') return false;
      if (commandIncludes) {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
        if (!cmdline.includes(commandIncludes)) return false;
      }
    } catch {
      return false;
    }
  }
  return true;
}

/** Sends SIGTERM, waits for the exit, then SIGKILL after `timeoutMs`. Returns true when it had to kill. */
export async function stopProcess(pid, { timeoutMs = 30_000, commandIncludes } = {}) {
  if (!isAlive(pid, commandIncludes)) return false;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return false;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return false;
    await sleep(200);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
  while (isAlive(pid)) await sleep(100);
  return true;
}

/** Polls `check` (async, truthy = done) until it succeeds or the deadline passes. Returns the last value. */
export async function waitFor(check, { timeoutMs, intervalMs = 500, abort } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (abort?.()) return value;
    if (Date.now() >= deadline) return value;
    await sleep(intervalMs);
  }
}

/** True when nothing listens on host:port. */
export function portFree(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Runs a command to completion and captures its output. Resolves on exit (not on close): daemons that the
 * command leaves behind (pg_ctl, redis-server --daemonize) must not keep the promise pending.
 */
export function run(command, args, { cwd = ROOT, env = process.env, timeoutMs } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk) => {
      output += chunk;
      if (output.length > 200_000) output = output.slice(-100_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = timeoutMs ? setTimeout(() => child.kill('SIGKILL'), timeoutMs) : null;
    child.once('error', (error) => {
      if (timer) clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      // give the pipes a moment to drain, but do not wait for grandchildren holding them
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        resolve({ code: code ?? (signal ? 128 : 1), signal, output: stripVTControlCharacters(output) });
      };
      child.once('close', finish);
      setTimeout(finish, 300).unref();
    });
  });
}

/** The last `lines` lines of a file ('' when missing). */
export function tail(file, lines = 30) {
  try {
    const size = statSync(file).size;
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buffer, 0, length, size - length);
    } finally {
      closeSync(fd);
    }
    return buffer.toString('utf8').split('\n').filter((l) => l.trim()).slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export const indent = (text, prefix = '    ') => text.split('\n').map((l) => prefix + l).join('\n');

export const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

export function removeFile(path) {
  rmSync(path, { force: true });
}

/**
 * Serialises stack operations across processes (two terminals running `npm test` and `npm start`) with a
 * pid lock file, and within one process with a promise chain.
 */
let chain = Promise.resolve();
export function withLock(fn, log = defaultLog) {
  const next = chain.then(() => withFileLock(fn, log));
  chain = next.catch(() => {});
  return next;
}

async function withFileLock(fn, log) {
  ensureDir(STACK_DIR);
  const lockFile = join(STACK_DIR, 'stack.lock');
  const deadline = Date.now() + 15 * 60_000;
  let announced = false;
  for (;;) {
    try {
      writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      const holder = readPid(lockFile);
      if (!holder || holder === process.pid || !isAlive(holder)) {
        removeFile(lockFile);
        continue;
      }
      if (Date.now() > deadline) throw new StackError(`another stack command (pid ${holder}) holds ${rel(lockFile)}`);
      if (!announced) {
        log(`waiting for another stack command (pid ${holder}) to finish...`);
        announced = true;
      }
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    if (readPid(lockFile) === process.pid) removeFile(lockFile);
  }
}
