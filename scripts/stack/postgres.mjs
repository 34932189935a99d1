// PostgreSQL: use the server in DATABASE_URL when it answers, otherwise a private instance in .stack/postgres.
import { appendFileSync, chownSync, existsSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { ensureDir, indent, isAlive, isRoot, readPid, redact, rel, requireDependency, run, STACK_DIR, StackError, tail, which, portFree } from './util.mjs';

export const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/provisio';
export const PRIVATE_PORT = 55432;
const PG_DIR = join(STACK_DIR, 'postgres');
const DATA_DIR = join(PG_DIR, 'data');
const LOG_FILE = join(PG_DIR, 'postgres.log');

const databaseName = (url) => decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres';

function withDatabase(url, name) {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(name)}`;
  return parsed.toString();
}

const isSqlState = (code) => typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);

/** Connects to a database of the server in `url`; the caller must end() the client. */
async function connect(url, timeoutMs = 3000) {
  const { Client } = requireDependency('pg');
  const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
}

/** Connects to the maintenance database (postgres, else template1) of the server in `url`. */
async function connectMaintenance(url, timeoutMs) {
  try {
    return await connect(withDatabase(url, 'postgres'), timeoutMs);
  } catch (error) {
    if (error.code === '3D000') return connect(withDatabase(url, 'template1'), timeoutMs);
    throw error;
  }
}

/**
 * Whether a PostgreSQL server answers at the host/port of `url`. A server that answers with an error
 * (wrong password, starting up) still counts as answering: its error is returned for the message.
 */
export async function probe(url, timeoutMs = 2000) {
  try {
    const client = await connectMaintenance(url, timeoutMs);
    await client.end().catch(() => {});
    return { answers: true };
  } catch (error) {
    return { answers: isSqlState(error.code), error };
  }
}

/** CREATE DATABASE for the database named in `databaseUrl` when it does not exist yet. */
export async function ensureDatabase(databaseUrl) {
  const name = databaseName(databaseUrl);
  let client;
  try {
    client = await connectMaintenance(databaseUrl, 5000);
  } catch (error) {
    const where = new URL(databaseUrl).host;
    throw new StackError(`cannot connect to PostgreSQL at ${where} to create database '${name}': ${error.message}`);
  }
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount > 0) return { created: false };
    try {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      return { created: true };
    } catch (error) {
      // another process created it in between
      if (error.code === '42P04' || error.code === '23505') return { created: false };
      throw new StackError(`CREATE DATABASE "${name}" failed on ${new URL(databaseUrl).host}: ${error.message}`);
    }
  } finally {
    await client.end().catch(() => {});
  }
}

// ---- the private instance -------------------------------------------------------------------------------

function privateUrl(requestedUrl) {
  return `postgres://postgres@127.0.0.1:${PRIVATE_PORT}/${encodeURIComponent(databaseName(requestedUrl))}`;
}

function privatePid() {
  const pid = readPid(join(DATA_DIR, 'postmaster.pid'));
  return isAlive(pid, 'postgres') ? pid : null;
}

function versionOf(binDir) {
  try {
    const out = execFileSync(join(binDir, 'pg_ctl'), ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.match(/(\d+)(?:\.\d+)?/)?.[1] ?? null;
  } catch {
    return null;
  }
}

/** Folders holding initdb + pg_ctl + postgres: PATH first, then /usr/lib/postgresql/<newest>/bin. */
function findBinDirs() {
  const dirs = [];
  const initdb = which('initdb');
  if (initdb) dirs.push(dirname(realpathSync(initdb)));
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    const versions = readdirSync(debianRoot).filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a));
    dirs.push(...versions.map((v) => join(debianRoot, v, 'bin')));
  }
  return [...new Set(dirs)].filter((dir) => ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(dir, b))));
}

function pickBinDir() {
  const dirs = findBinDirs();
  if (dirs.length === 0) {
    throw new StackError(
      'PostgreSQL does not answer at DATABASE_URL and no PostgreSQL server binaries (initdb, pg_ctl, postgres) were found ' +
        'on PATH or in /usr/lib/postgresql/*/bin to start a private one. Either set DATABASE_URL to a running server, ' +
        'or install them (`apt-get install postgresql`).',
    );
  }
  // an existing data folder must be run by the same major version
  const dataVersion = existsSync(join(DATA_DIR, 'PG_VERSION')) ? readFileSync(join(DATA_DIR, 'PG_VERSION'), 'utf8').trim() : null;
  if (!dataVersion) return dirs[0];
  const match = dirs.find((dir) => versionOf(dir) === dataVersion);
  if (match) return match;
  throw new StackError(
    `${rel(DATA_DIR)} was made by PostgreSQL ${dataVersion} but only ${dirs.map(versionOf).join(', ')} is installed: ` +
      `delete ${rel(PG_DIR)} (its data is lost) or install PostgreSQL ${dataVersion}.`,
  );
}

/** Runs a command; as root through the postgres user (initdb and postgres refuse to run as root). */
async function asPostgres(path, args) {
  if (!isRoot()) return run(path, args);
  const runuser = which('runuser', ['/usr/sbin', '/sbin']);
  if (runuser) return run(runuser, ['-u', 'postgres', '--', path, ...args]);
  const quoted = [path, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return run(which('su', ['/bin', '/usr/bin']) ?? 'su', ['postgres', '-s', '/bin/sh', '-c', quoted]);
}

const runPg = (binDir, program, args) => asPostgres(join(binDir, program), args);

function postgresUser() {
  try {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
    if (!line) return null;
    const [, , uid, gid] = line.split(':');
    return { uid: Number(uid), gid: Number(gid) };
  } catch {
    return null;
  }
}

function chownTree(path, uid, gid) {
  chownSync(path, uid, gid);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) chownTree(child, uid, gid);
    else chownSync(child, uid, gid);
  }
}

async function startPrivate(log) {
  const binDir = pickBinDir();
  ensureDir(PG_DIR);
  if (isRoot()) {
    const user = postgresUser();
    if (!user) {
      throw new StackError(
        'running as root, and PostgreSQL refuses to run as root: there is no `postgres` user to run the private instance. ' +
          'Create one (`useradd -r postgres`) or set DATABASE_URL to a running server.',
      );
    }
    chownTree(PG_DIR, user.uid, user.gid);
    const reach = await asPostgres(which('test', ['/usr/bin', '/bin']) ?? 'test', ['-w', PG_DIR]).catch(() => ({ code: 1 }));
    if (reach.code !== 0) {
      throw new StackError(
        `the postgres user cannot write ${PG_DIR} (a parent folder is probably not searchable by others): ` +
          'chmod o+x the parent folders, or set DATABASE_URL to a running server.',
      );
    }
  }

  if (!existsSync(join(DATA_DIR, 'PG_VERSION'))) {
    log(`initialising a private PostgreSQL ${versionOf(binDir) ?? ''} in ${rel(DATA_DIR)}...`);
    const result = await runPg(binDir, 'initdb', ['-D', DATA_DIR, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C']);
    if (result.code !== 0) throw new StackError(`initdb failed:\n${indent(result.output.trim().split('\n').slice(-15).join('\n'))}`);
    appendFileSync(join(DATA_DIR, 'postgresql.conf'), "\n# added by scripts/stack\ninclude_if_exists = 'stack.conf'\n");
  }
  // A unix socket path is limited to ~107 bytes; without room the server listens on TCP only.
  const socketDir = join(PG_DIR, '.s.PGSQL.00000').length < 100 ? PG_DIR : '';
  writeFileSync(
    join(DATA_DIR, 'stack.conf'),
    [
      '# written by scripts/stack on every start: a disposable development/test server',
      `port = ${PRIVATE_PORT}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${socketDir.replace(/'/g, "''")}'`,
      'max_connections = 200',
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      '',
    ].join('\n'),
  );
  if (isRoot()) {
    const user = postgresUser();
    chownTree(PG_DIR, user.uid, user.gid);
  }
  if (!(await portFree(PRIVATE_PORT))) {
    throw new StackError(`port ${PRIVATE_PORT} (private PostgreSQL) is taken by another program; free it or set DATABASE_URL`);
  }
  log(`starting a private PostgreSQL on 127.0.0.1:${PRIVATE_PORT}...`);
  const result = await runPg(binDir, 'pg_ctl', ['-D', DATA_DIR, '-l', LOG_FILE, '-w', '-t', '60', 'start']);
  if (result.code !== 0) {
    throw new StackError(`pg_ctl start failed:\n${indent(result.output.trim())}\n  ${rel(LOG_FILE)}:\n${indent(tail(LOG_FILE, 20))}`);
  }
}

/** Brings PostgreSQL up. Returns { url, managed, started }. */
export async function up({ env, log }) {
  const requested = env.DATABASE_URL || DEFAULT_URL;
  const external = await probe(requested);
  if (external.answers) {
    await ensureDatabase(requested);
    const ownsIt = privatePid() && new URL(requested).port === String(PRIVATE_PORT);
    return { url: requested, managed: Boolean(ownsIt), started: false };
  }
  const url = privateUrl(requested);
  let started = false;
  if (!privatePid()) {
    if (env.DATABASE_URL) log(`DATABASE_URL (${redact(requested)}) does not answer (${external.error?.message}); using a private PostgreSQL`);
    await startPrivate(log);
    started = true;
  }
  const check = await probe(url, 5000);
  if (!check.answers) throw new StackError(`the private PostgreSQL does not answer at ${url}: ${check.error?.message}\n${indent(tail(LOG_FILE, 20))}`);
  await ensureDatabase(url);
  return { url, managed: true, started };
}

/** Stops the private instance if it runs. Returns a message or null. */
export async function down() {
  const pid = privatePid();
  if (!pid) return null;
  const binDir = pickBinDir();
  const result = await runPg(binDir, 'pg_ctl', ['-D', DATA_DIR, '-m', 'fast', '-w', '-t', '60', 'stop']);
  if (result.code !== 0 && isAlive(pid)) throw new StackError(`pg_ctl stop failed:\n${indent(result.output.trim())}`);
  return `stopped the private PostgreSQL (pid ${pid})`;
}

export async function status({ env }) {
  const requested = env.DATABASE_URL || DEFAULT_URL;
  const pid = privatePid();
  if (pid) {
    const url = privateUrl(requested);
    return { name: 'postgres', url, up: (await probe(url)).answers, managed: true, detail: `pid ${pid}, data ${rel(DATA_DIR)}` };
  }
  return { name: 'postgres', url: redact(requested), up: (await probe(requested)).answers, managed: false };
}
