// The LDAP target server: the UnboundID LDAP SDK's in-memory directory server (com.unboundid:unboundid-ldapsdk
// from Maven Central, fetched once into .stack/ldap/<version>/libs) run with Java through ldap/TargetDirectory.java
// (compiled once per change into .stack/ldap/<version>/classes):
// plain LDAP with StartTLS and LDAPS over one data set seeded from ldap/seed.ldif. Its key store (self-signed,
// 127.0.0.1/localhost) and the admin's password are generated at every start into .stack/ldap, never committed.
// LDAP_TARGET_URL + LDAP_TARGET_BIND_DN + LDAP_TARGET_PASSWORD name an external directory to use instead.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDir, indent, isAlive, portFree, readPid, rel, removeFile, requireDependency, run, sleep, STACK_DIR, StackError, stopProcess, tail, waitFor, which } from './util.mjs';

export const DEFAULT_VERSION = '7.0.3';
export const DEFAULT_PORT = 10389;
export const DEFAULT_LDAPS_PORT = 10636;
export const BASE_DN = 'dc=provisio,dc=test';
export const ADMIN_DN = `cn=admin,${BASE_DN}`;
const SOURCE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'ldap');
const LDAP_DIR = join(STACK_DIR, 'ldap');
const PID_FILE = join(LDAP_DIR, 'ldap.pid');
const STATE_FILE = join(LDAP_DIR, 'ldap.json');
const LOG_FILE = join(LDAP_DIR, 'ldap.log');
const KEY_STORE = join(LDAP_DIR, 'keystore.p12');
const CA_FILE = join(LDAP_DIR, 'ldap-ca.pem');
const PASSWORD_FILE = join(LDAP_DIR, 'admin.password');
const MAIN_CLASS = 'TargetDirectory';
const START_TIMEOUT_MS = 60_000;
const INSTALL_HINT = '`apt-get install openjdk-17-jdk-headless maven`';

/** Binds as `bindDn`: the server is there and the credentials work. */
export async function probe(url, bindDn, password, caFile, timeoutMs = 3000) {
  const { Client } = requireDependency('ldapts');
  const tlsOptions = url.startsWith('ldaps:') && caFile && existsSync(caFile) ? { ca: [readFileSync(caFile)] } : undefined;
  const client = new Client({ url, timeout: timeoutMs, connectTimeout: timeoutMs, tlsOptions });
  try {
    await client.bind(bindDn, password);
    return { answers: true };
  } catch (error) {
    return { answers: false, error };
  } finally {
    await client.unbind().catch(() => {});
  }
}

function tcpAnswers(port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    const finish = (answers) => {
      socket.destroy();
      resolve(answers);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => finish(true));
  });
}

function managedState() {
  const pid = readPid(PID_FILE);
  if (!isAlive(pid, MAIN_CLASS)) return null;
  try {
    const state = JSON.parse(readFileSync(STATE_FILE, 'utf8'));
    if (state.pid === pid) return { ...state, password: readFileSync(PASSWORD_FILE, 'utf8').trim() };
  } catch {
    // unreadable state: the server is replaced
  }
  return { pid, unknown: true };
}

const envOf = (state) => ({
  url: `ldap://127.0.0.1:${state.port}`,
  ldapsUrl: `ldaps://127.0.0.1:${state.ldapsPort}`,
  bindDn: ADMIN_DN,
  password: state.password,
  baseDn: BASE_DN,
  caFile: CA_FILE,
});

async function findJava() {
  const home = process.env.JAVA_HOME && join(process.env.JAVA_HOME, 'bin', 'java');
  const java = home && existsSync(home) ? home : which('java');
  const javac = java && existsSync(join(dirname(java), 'javac')) ? join(dirname(java), 'javac') : which('javac');
  if (!java || !javac) throw new StackError(`a JDK 11+ (\`java\` and \`javac\`: the server's launcher is compiled from source) is needed to run the LDAP target server: install it (${INSTALL_HINT})`);
  return { java, javac };
}

/** Compiles the launcher once per change of its source, into .stack/ldap/<version>/classes. */
async function ensureLauncher(javac, jar, version) {
  const source = join(SOURCE_DIR, `${MAIN_CLASS}.java`);
  const classes = join(LDAP_DIR, version, 'classes');
  const digest = createHash('sha256').update(readFileSync(source)).digest('hex');
  const marker = join(classes, '.source-sha256');
  if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === digest) return classes;
  rmSync(classes, { recursive: true, force: true });
  ensureDir(classes);
  const result = await run(javac, ['-d', classes, '-cp', jar, source], { timeoutMs: 120_000 });
  if (result.code !== 0) throw new StackError(`compiling ${rel(source)} failed:\n${indent(result.output.trim().split('\n').slice(-15).join('\n'))}`);
  writeFileSync(marker, `${digest}\n`);
  return classes;
}

async function ensureJar(version, log) {
  const dir = ensureDir(join(LDAP_DIR, version));
  const libs = join(dir, 'libs');
  const jar = join(libs, `unboundid-ldapsdk-${version}.jar`);
  if (existsSync(join(libs, '.complete')) && existsSync(jar)) return jar;
  const mvn = which('mvn');
  if (!mvn) throw new StackError(`Maven (\`mvn\`) is needed once to fetch the UnboundID LDAP SDK ${version}: install it (${INSTALL_HINT})`);
  log(`fetching the UnboundID LDAP SDK ${version} from Maven Central (once, into ${rel(libs)})...`);
  rmSync(libs, { recursive: true, force: true });
  const args = [
    '-B', '-q', '-Dstyle.color=never',
    // More HTTP retries than Maven's default: a dropped registry connection should not fail a clean checkout.
    '-Daether.connector.http.retryHandler.count=6', '-Dmaven.wagon.http.retryHandler.count=6',
    'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy', `-Dartifact=com.unboundid:unboundid-ldapsdk:${version}:jar`, `-DoutputDirectory=${libs}`,
  ];
  let result = await run(mvn, args, { cwd: dir, timeoutMs: 10 * 60_000 });
  if (result.code !== 0 && !/was not found|Could not find artifact/.test(result.output)) result = await run(mvn, args, { cwd: dir, timeoutMs: 10 * 60_000 });
  if (result.code !== 0 || !existsSync(jar)) {
    const output = result.output.trim().split('\n').filter((l) => l.trim() && !/^\[ERROR\]\s*$|re-run Maven|\[Help 1\]/.test(l)).slice(-10).join('\n');
    throw new StackError(`fetching com.unboundid:unboundid-ldapsdk:${version} with Maven failed (mvn exit ${result.code}):\n${indent(output)}`);
  }
  writeFileSync(join(libs, '.complete'), `${JSON.stringify({ version, fetchedAt: new Date().toISOString() })}\n`);
  return jar;
}

/** A fresh self-signed key pair for 127.0.0.1/localhost, and its certificate as PEM for clients to trust. */
async function generateKeyStore(java, password) {
  const keytool = join(dirname(java), 'keytool');
  const tool = existsSync(keytool) ? keytool : which('keytool');
  if (!tool) throw new StackError(`\`keytool\` (part of Java) is needed to make the LDAP server's TLS certificate: install a JDK (${INSTALL_HINT})`);
  removeFile(KEY_STORE);
  const common = ['-keystore', KEY_STORE, '-storetype', 'PKCS12', '-storepass', password, '-alias', 'ldap'];
  const made = await run(tool, ['-genkeypair', ...common, '-keyalg', 'EC', '-groupname', 'secp256r1', '-validity', '825', '-dname', 'CN=127.0.0.1', '-ext', 'san=ip:127.0.0.1,dns:localhost']);
  if (made.code !== 0) throw new StackError(`keytool could not make the LDAP server's key pair:\n${indent(made.output.trim())}`);
  const exported = await run(tool, ['-exportcert', '-rfc', ...common, '-file', CA_FILE]);
  if (exported.code !== 0) throw new StackError(`keytool could not export the LDAP server's certificate:\n${indent(exported.output.trim())}`);
}

async function start(version, port, ldapsPort, log, accessLog) {
  const { java, javac } = await findJava();
  for (const p of [port, ldapsPort]) {
    if (!(await portFree(p))) throw new StackError(`port ${p} is taken by a program that is not the stack's LDAP server: free it, or set LDAP_TARGET_PORT / LDAP_TARGET_LDAPS_PORT`);
  }
  const jar = await ensureJar(version, log);
  const classes = await ensureLauncher(javac, jar, version);
  ensureDir(LDAP_DIR);
  const storePassword = randomBytes(18).toString('base64url');
  const password = randomBytes(18).toString('base64url');
  await generateKeyStore(java, storePassword);
  writeFileSync(PASSWORD_FILE, `${password}\n`, { mode: 0o600 });
  if (existsSync(LOG_FILE)) renameSync(LOG_FILE, `${LOG_FILE}.1`);
  log(`starting the LDAP target server (UnboundID ${version}) on 127.0.0.1:${port}, LDAPS ${ldapsPort} (log ${rel(LOG_FILE)})...`);
  const args = [
    '-Xms64m', '-Xmx768m', '-XX:+UseG1GC', '-cp', `${jar}${delimiter}${classes}`, MAIN_CLASS,
    BASE_DN, join(SOURCE_DIR, 'seed.ldif'), join(SOURCE_DIR, 'schema', 'account-lock.ldif'), String(port), String(ldapsPort), KEY_STORE, storePassword, ADMIN_DN, PASSWORD_FILE,
    // LDAP_TARGET_ACCESS_LOG=1: every request and result into .stack/ldap/access.log (slower)
    ...(accessLog ? [join(LDAP_DIR, 'access.log')] : []),
  ];
  const out = openSync(LOG_FILE, 'a');
  let exited = null;
  let child;
  try {
    child = spawn(java, args, { cwd: LDAP_DIR, detached: true, stdio: ['ignore', out, out] });
  } finally {
    closeSync(out);
  }
  child.once('error', (error) => (exited = { error }));
  child.once('exit', (code) => (exited = { code }));
  child.unref();
  await sleep(50);
  if (!child.pid || exited?.error) throw new StackError(`could not start java: ${exited?.error?.message ?? 'no pid'}`);
  const spawnedAt = Date.now();
  writeFileSync(PID_FILE, `${child.pid}\n`);
  const state = { pid: child.pid, version, port, ldapsPort, startedAt: new Date().toISOString() };
  writeFileSync(STATE_FILE, `${JSON.stringify(state, null, 2)}\n`);
  const died = () => Boolean(exited) || !isAlive(child.pid);
  const ready = await waitFor(async () => /^ready:/m.test(tail(LOG_FILE, 5)) && (await tcpAnswers(port)), { timeoutMs: START_TIMEOUT_MS, intervalMs: 250, abort: died });
  if (!ready) {
    if (!died()) await stopProcess(child.pid, { timeoutMs: 10_000 });
    removeFile(PID_FILE);
    throw new StackError(`the LDAP target server did not start; last lines of ${rel(LOG_FILE)}:\n${indent(tail(LOG_FILE, 20))}`);
  }
  log(`LDAP target server ready ${((Date.now() - spawnedAt) / 1000).toFixed(1)} s after launch`);
  return { ...state, password };
}

/** Brings the LDAP target server up. Returns { url, ldapsUrl, bindDn, password, baseDn, caFile, managed, started }. */
export async function up({ env, log }) {
  if (env.LDAP_TARGET_URL && env.LDAP_TARGET_BIND_DN && env.LDAP_TARGET_PASSWORD) {
    const external = { url: env.LDAP_TARGET_URL, ldapsUrl: env.LDAP_TARGET_LDAPS_URL ?? '', bindDn: env.LDAP_TARGET_BIND_DN, password: env.LDAP_TARGET_PASSWORD };
    const answer = await probe(external.url, external.bindDn, external.password, env.LDAP_TARGET_CA_FILE);
    if (answer.answers) return { ...external, baseDn: env.LDAP_TARGET_BASE_DN ?? '', caFile: env.LDAP_TARGET_CA_FILE ?? '', managed: false, started: false };
    log(`LDAP_TARGET_URL (${external.url}) does not accept the bind (${answer.error?.message}); starting the stack's LDAP server`);
  }
  const version = env.LDAP_TARGET_SDK_VERSION || DEFAULT_VERSION;
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new StackError(`LDAP_TARGET_SDK_VERSION must be a release like ${DEFAULT_VERSION}, got '${version}'`);
  const port = Number(env.LDAP_TARGET_PORT || DEFAULT_PORT);
  const ldapsPort = Number(env.LDAP_TARGET_LDAPS_PORT || DEFAULT_LDAPS_PORT);
  const state = managedState();
  if (state && !state.unknown && state.port === port && state.ldapsPort === ldapsPort) {
    const answer = await probe(`ldap://127.0.0.1:${port}`, ADMIN_DN, state.password);
    if (answer.answers) return { ...envOf(state), managed: true, started: false };
  }
  if (state) await stopProcess(state.pid, { timeoutMs: 10_000, commandIncludes: MAIN_CLASS });
  const started = await start(version, port, ldapsPort, log, env.LDAP_TARGET_ACCESS_LOG === '1');
  return { ...envOf(started), managed: true, started: true };
}

export async function down() {
  const state = managedState();
  if (!state) {
    removeFile(PID_FILE);
    removeFile(STATE_FILE);
    return null;
  }
  const killed = await stopProcess(state.pid, { timeoutMs: 15_000, commandIncludes: MAIN_CLASS });
  for (const file of [PID_FILE, STATE_FILE, PASSWORD_FILE, KEY_STORE]) removeFile(file);
  return `stopped the LDAP target server (pid ${state.pid})${killed ? ' (had to kill it)' : ''}`;
}

export async function status({ env }) {
  const state = managedState();
  if (state && !state.unknown) {
    const url = `ldap://127.0.0.1:${state.port}`;
    return { name: 'ldap', url, up: (await probe(url, ADMIN_DN, state.password)).answers, managed: true, detail: `UnboundID ${state.version}, LDAPS ${state.ldapsPort}, pid ${state.pid}` };
  }
  const url = env.LDAP_TARGET_URL || `ldap://127.0.0.1:${DEFAULT_PORT}`;
  const up = env.LDAP_TARGET_BIND_DN && env.LDAP_TARGET_PASSWORD ? (await probe(url, env.LDAP_TARGET_BIND_DN, env.LDAP_TARGET_PASSWORD)).answers : false;
  return { name: 'ldap', url, up, managed: false };
}
