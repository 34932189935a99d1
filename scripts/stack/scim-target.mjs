// The SCIM target server: Provisio's own SCIM 2.0 server (test/targets/scim-server, scimmy + express) run with
// Node. Its bearer token and basic credentials are generated at every start into .stack/scim-target (never
// committed) and handed to it through its environment. SCIM_TARGET_URL + SCIM_TARGET_TOKEN name an external
// SCIM service to use instead (when it answers /ServiceProviderConfig with that token).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir, indent, isAlive, portFree, readPid, rel, removeFile, ROOT, sleep, STACK_DIR, StackError, stopProcess, tail, waitFor } from './util.mjs';

export const DEFAULT_PORT = 10880;
const SERVER_DIR = join(ROOT, 'test', 'targets', 'scim-server');
const MAIN = join(SERVER_DIR, 'main.js');
const SCIM_DIR = join(STACK_DIR, 'scim-target');
const PID_FILE = join(SCIM_DIR, 'scim-target.pid');
const STATE_FILE = join(SCIM_DIR, 'scim-target.json');
const LOG_FILE = join(SCIM_DIR, 'scim-target.log');
const START_TIMEOUT_MS = 20_000;

/** An authenticated GET /ServiceProviderConfig: the service is there and the token works. */
export async function probe(url, { token, username, password }, timeoutMs = 2000) {
  const authorization = token ? `Bearer ${token}` : `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  try {
    const response = await fetch(`${url.replace(/\/$/, '')}/ServiceProviderConfig`, { headers: { authorization }, signal: controller.signal });
    await response.arrayBuffer();
    return response.ok ? { answers: true } : { answers: false, error: new Error(`HTTP ${response.status}`) };
  } catch (error) {
    return { answers: false, error };
  } finally {
    clearTimeout(timer);
  }
}

function managedState() {
  const pid = readPid(PID_FILE);
  if (!isAlive(pid, MAIN)) return null;
  try {
    const state = JSON.parse(readFileSync(STATE_FILE, 'utf8'));
    if (state.pid === pid) return state;
  } catch {
    // unreadable state: the server is replaced
  }
  return { pid, unknown: true };
}

const envOf = (state) => ({ url: `http://127.0.0.1:${state.port}/scim`, token: state.token, username: state.username, password: state.password });

async function start(port, log) {
  if (!(await portFree(port))) throw new StackError(`port ${port} is taken by a program that is not the stack's SCIM server: free it, or set SCIM_TARGET_PORT`);
  ensureDir(SCIM_DIR);
  const credentials = { token: randomBytes(24).toString('base64url'), username: 'provisio', password: randomBytes(18).toString('base64url') };
  if (existsSync(LOG_FILE)) renameSync(LOG_FILE, `${LOG_FILE}.1`);
  log(`starting the SCIM target server on 127.0.0.1:${port} (log ${rel(LOG_FILE)})...`);
  const out = openSync(LOG_FILE, 'a');
  let exited = null;
  let child;
  try {
    child = spawn(process.execPath, [MAIN, '--port', String(port)], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', out, out],
      env: { ...process.env, SCIM_TARGET_TOKEN: credentials.token, SCIM_TARGET_USERNAME: credentials.username, SCIM_TARGET_PASSWORD: credentials.password },
    });
  } finally {
    closeSync(out);
  }
  child.once('error', (error) => (exited = { error }));
  child.once('exit', (code) => (exited = { code }));
  child.unref();
  await sleep(50);
  if (!child.pid || exited?.error) throw new StackError(`could not start node for the SCIM target server: ${exited?.error?.message ?? 'no pid'}`);
  const spawnedAt = Date.now();
  writeFileSync(PID_FILE, `${child.pid}\n`);
  const state = { pid: child.pid, port, ...credentials, startedAt: new Date().toISOString() };
  writeFileSync(STATE_FILE, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  const died = () => Boolean(exited) || !isAlive(child.pid);
  const url = envOf(state).url;
  const ready = await waitFor(async () => (await probe(url, credentials)).answers, { timeoutMs: START_TIMEOUT_MS, intervalMs: 150, abort: died });
  if (!ready) {
    if (!died()) await stopProcess(child.pid, { timeoutMs: 10_000 });
    removeFile(PID_FILE);
    throw new StackError(`the SCIM target server did not start; last lines of ${rel(LOG_FILE)}:\n${indent(tail(LOG_FILE, 20))}`);
  }
  log(`SCIM target server ready ${((Date.now() - spawnedAt) / 1000).toFixed(1)} s after launch`);
  return state;
}

/** Brings the SCIM target server up. Returns { url, token, username, password, managed, started }. */
export async function up({ env, log }) {
  if (env.SCIM_TARGET_URL && env.SCIM_TARGET_TOKEN) {
    const external = { url: env.SCIM_TARGET_URL, token: env.SCIM_TARGET_TOKEN, username: env.SCIM_TARGET_USERNAME ?? '', password: env.SCIM_TARGET_PASSWORD ?? '' };
    const answer = await probe(external.url, { token: external.token });
    if (answer.answers) return { ...external, managed: false, started: false };
    log(`SCIM_TARGET_URL (${external.url}) does not answer with SCIM_TARGET_TOKEN (${answer.error?.message}); starting the stack's SCIM server`);
  }
  const port = Number(env.SCIM_TARGET_PORT || DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new StackError(`SCIM_TARGET_PORT must be a port number, got '${env.SCIM_TARGET_PORT}'`);
  const state = managedState();
  if (state && !state.unknown && state.port === port && (await probe(envOf(state).url, state)).answers) return { ...envOf(state), managed: true, started: false };
  if (state) await stopProcess(state.pid, { timeoutMs: 10_000, commandIncludes: MAIN });
  const started = await start(port, log);
  return { ...envOf(started), managed: true, started: true };
}

export async function down() {
  const state = managedState();
  if (!state) {
    removeFile(PID_FILE);
    removeFile(STATE_FILE);
    return null;
  }
  const killed = await stopProcess(state.pid, { timeoutMs: 10_000, commandIncludes: MAIN });
  for (const file of [PID_FILE, STATE_FILE]) removeFile(file);
  return `stopped the SCIM target server (pid ${state.pid})${killed ? ' (had to kill it)' : ''}`;
}

export async function status({ env }) {
  const state = managedState();
  if (state && !state.unknown) {
    const { url } = envOf(state);
    return { name: 'scim', url, up: (await probe(url, state)).answers, managed: true, detail: `pid ${state.pid}` };
  }
  const url = env.SCIM_TARGET_URL || `http://127.0.0.1:${DEFAULT_PORT}/scim`;
  const up = env.SCIM_TARGET_TOKEN ? (await probe(url, { token: env.SCIM_TARGET_TOKEN })).answers : false;
  return { name: 'scim', url, up, managed: false };
}
