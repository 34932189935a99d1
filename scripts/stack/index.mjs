// The local stack (PostgreSQL, Redis, Kafka) for development and tests, usable in-process:
//
//   import { up, down, status, ensureDatabase } from './stack/index.mjs';
//   const env = await up();   // { DATABASE_URL, REDIS_URL, KAFKA_BROKERS, started, startedNow, managed, kafkaVersion }
//
// Each component is used as it is when its URL (DATABASE_URL, REDIS_URL, KAFKA_BROKERS or the defaults) answers;
// otherwise the stack starts a private one whose files live in the git-ignored .stack folder. `down()` stops
// only what the stack started. The resolved values are also written to .stack/stack.env.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as kafka from './kafka.mjs';
import * as ldap from './ldap.mjs';
import * as postgres from './postgres.mjs';
import * as redis from './redis.mjs';
import * as scim from './scim-target.mjs';
import * as sqlTargets from './sql-targets.mjs';
import { defaultLog, ensureDir, redact, rel, STACK_DIR, StackError, withLock } from './util.mjs';

export { ensureDatabase } from './postgres.mjs';
export { ROOT, STACK_DIR, StackError } from './util.mjs';
export const ENV_FILE = join(STACK_DIR, 'stack.env');

const COMPONENTS = ['postgres', 'redis', 'kafka', 'ldap', 'scim'];

function logger(opts) {
  if (opts.quiet) return () => {};
  return opts.log ?? defaultLog;
}

const describe = (managed, started) => (managed ? `managed by stack${started ? ' (started now)' : ''}` : 'external');

/**
 * Makes PostgreSQL, Redis and Kafka available.
 * @param {object} [opts]
 * @param {Record<string, string|undefined>} [opts.env] where DATABASE_URL, REDIS_URL, KAFKA_BROKERS, KAFKA_VERSION are read (process.env)
 * @param {string} [opts.kafkaVersion] overrides KAFKA_VERSION
 * @param {(message: string) => void} [opts.log] progress messages (default: stdout, prefixed "[stack]")
 * @param {boolean} [opts.quiet] no progress messages
 * @returns {Promise<{DATABASE_URL: string, REDIS_URL: string, KAFKA_BROKERS: string,
 *   started: {postgres: boolean, redis: boolean, kafka: boolean}, startedNow: boolean,
 *   managed: {postgres: boolean, redis: boolean, kafka: boolean}, kafkaVersion: string|null}>}
 */
export async function up(opts = {}) {
  const env = opts.env ?? process.env;
  const log = logger(opts);
  return withLock(async () => {
    const startedAt = Date.now();
    const context = { env, log, kafkaVersion: opts.kafkaVersion };
    const settled = await Promise.allSettled([postgres.up(context), redis.up(context), kafka.up(context), ldap.up(context), scim.up(context)]);
    const failures = settled.map((s, i) => (s.status === 'rejected' ? { name: COMPONENTS[i], error: s.reason } : null)).filter(Boolean);
    if (failures.length > 0) {
      const detail = failures.map((f) => `${f.name}: ${f.error instanceof StackError ? f.error.message : (f.error?.stack ?? f.error)}`).join('\n');
      throw new StackError(`the stack is not up.\n${detail}`);
    }
    const [pg, rd, kf, ld, sc] = settled.map((s) => s.value);
    const sql = await sqlTargets.up({ ...context, databaseUrl: pg.url });
    const result = {
      DATABASE_URL: pg.url,
      REDIS_URL: rd.url,
      KAFKA_BROKERS: kf.brokers,
      ...targetEnv(ld, sql, sc),
      started: { postgres: pg.started, redis: rd.started, kafka: kf.started, ldap: ld.started, scim: sc.started },
      startedNow: pg.started || rd.started || kf.started || ld.started || sc.started,
      managed: { postgres: pg.managed, redis: rd.managed, kafka: kf.managed, ldap: ld.managed, scim: sc.managed },
      kafkaVersion: kf.version,
    };
    writeEnvFile(result);
    log(`postgres  ${redact(pg.url).padEnd(48)} ${describe(pg.managed, pg.started)}`);
    log(`redis     ${rd.url.padEnd(48)} ${describe(rd.managed, rd.started)}`);
    log(`kafka     ${kf.brokers.padEnd(48)} ${describe(kf.managed, kf.started)}${kf.version ? ` (Kafka ${kf.version})` : ''}`);
    log(`ldap      ${ld.url.padEnd(48)} ${describe(ld.managed, ld.started)}${ld.ldapsUrl ? ` (LDAPS ${ld.ldapsUrl})` : ''}`);
    log(`scim      ${sc.url.padEnd(48)} ${describe(sc.managed, sc.started)}`);
    log(`up in ${((Date.now() - startedAt) / 1000).toFixed(1)} s; values in ${rel(ENV_FILE)}`);
    return result;
  }, log);
}

/** The target servers' variables (LDAP_TARGET_*, SQL_TARGET_*, SCIM_TARGET_*) for connector tests and benches. */
function targetEnv(ld, sql, sc = {}) {
  return {
    LDAP_TARGET_URL: ld.url ?? '',
    LDAP_TARGET_LDAPS_URL: ld.ldapsUrl ?? '',
    LDAP_TARGET_BIND_DN: ld.bindDn ?? '',
    LDAP_TARGET_PASSWORD: ld.password ?? '',
    LDAP_TARGET_BASE_DN: ld.baseDn ?? '',
    LDAP_TARGET_CA_FILE: ld.caFile ?? '',
    SQL_TARGET_PG_URL: sql.pgUrl ?? '',
    SQL_TARGET_MARIADB_URL: sql.mariadbUrl ?? '',
    SCIM_TARGET_URL: sc.url ?? '',
    SCIM_TARGET_TOKEN: sc.token ?? '',
    SCIM_TARGET_USERNAME: sc.username ?? '',
    SCIM_TARGET_PASSWORD: sc.password ?? '',
  };
}

function writeEnvFile(result) {
  ensureDir(STACK_DIR);
  const lines = [
    `# written by scripts/stack (npm run stack:up) at ${new Date().toISOString()}`,
    `DATABASE_URL=${result.DATABASE_URL}`,
    `REDIS_URL=${result.REDIS_URL}`,
    `KAFKA_BROKERS=${result.KAFKA_BROKERS}`,
    ...Object.keys(targetEnv({}, {})).map((name) => `${name}=${result[name]}`),
    '',
  ];
  writeFileSync(ENV_FILE, lines.join('\n'));
}

/**
 * Stops what the stack started (private PostgreSQL, Redis, Kafka), waiting for each to exit. External servers
 * are never touched.
 * @param {object} [opts]
 * @param {string[] | Record<string, boolean>} [opts.only] components to stop, e.g. ['kafka'] or the `started` of up()
 */
export async function down(opts = {}) {
  const log = logger(opts);
  const only = Array.isArray(opts.only) ? opts.only : opts.only ? COMPONENTS.filter((c) => opts.only[c]) : COMPONENTS;
  return withLock(async () => {
    const modules = { postgres, redis, kafka, ldap, scim };
    const settled = await Promise.allSettled(only.map((name) => modules[name].down()));
    const stopped = [];
    const errors = [];
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') {
        if (s.value) {
          stopped.push(only[i]);
          log(s.value);
        }
      } else {
        errors.push(`${only[i]}: ${s.reason?.message ?? s.reason}`);
      }
    });
    if (errors.length > 0) throw new StackError(`could not stop everything:\n${errors.join('\n')}`);
    if (stopped.length === 0) log('nothing to stop: the stack runs nothing');
    return { stopped };
  }, log);
}

/**
 * One row per component: { name, url, up, managed, detail? }.
 * @param {object} [opts]
 * @param {Record<string, string|undefined>} [opts.env]
 */
export async function status(opts = {}) {
  const env = opts.env ?? process.env;
  const rows = await Promise.all([postgres.status({ env }), redis.status({ env }), kafka.status({ env }), ldap.status({ env }), scim.status({ env })]);
  return [...rows, ...(await sqlTargets.status({ env, databaseUrl: rows[0].url }).catch(() => []))];
}

/** Human-readable lines for status() rows. */
export function formatStatus(rows) {
  return rows.map((r) =>
    [r.name.padEnd(9), r.url.padEnd(48), (r.up ? 'up' : 'down').padEnd(5), r.managed ? 'managed by stack' : 'external', r.detail ? `(${r.detail})` : '']
      .join(' ')
      .trimEnd(),
  );
}
