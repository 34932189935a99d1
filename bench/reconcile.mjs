// Reconciliation benchmark: the BUILT reconciler (apps/reconciler/dist/main.js) as a child process, on a
// database of its own, against the stack's SQL target (PostgreSQL, SQL_TARGET_PG_URL):
//
//   N accounts in a target table and N identities: 1% of the linked accounts with a wrong display name
//   (mismatch), 0.5% of the accounts without identity (orphan), 0.5% of the identities without account
//   (missing). A full dry run, then 10,000 accounts changed in the target and a delta dry run.
//
//   npm run bench:reconcile            (builds, then runs this)
//   node bench/reconcile.mjs [--accounts 1000000] [--changes 10000] [--page-size 10000] [--ldap-accounts 100000] [--ldap-server-page 10000]
//                            [--segments N] [--replicas N] [--mapping-script] [--keep] [--log]
//
// --segments: RECONCILIATION_SEGMENTS of the reconciler (default: its own, 4); --replicas: that many
// reconciler processes on the same database and Redis prefix working the runs' segments (default 1;
// peak_rss_mb is then the largest of them).
//
// LDAP: --ldap-accounts people in a container of the bench's own in the stack's LDAP target (LDAP_TARGET_*),
// each linked to an identity of a second tenant; a full dry run through the LDAP connector (ldap_full_s;
// nothing is planted: ldap_discrepancies should be 0). --ldap-accounts 0 skips it.
//
// Prints the full run's seconds, accounts/s and the reconciler's peak RSS (VmHWM), the delta's seconds,
// and `exact`: the full run found every planted discrepancy and nothing else, and the delta found every
// changed account's mismatch and otherwise only discrepancies the full run had (a delta reads `>=` the
// watermark: the account stamped exactly at it is read again). Floors (2 cores): full <= 120 s with
// RSS <= 512 MB, delta <= 10 s, LDAP 100,000 accounts <= 30 s.
// Everything but the last line is for people; the LAST line is one JSON object.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(ROOT, 'package.json'));
const { Client } = require('pg');
const jwt = require('jsonwebtoken');
const { SealedJsonCipher, parseKeyRing } = require('@provisio/platform');

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const N = arg('accounts', 1_000_000);
const CHANGES = Math.min(arg('changes', 10_000), Math.floor(N / 2));
const PAGE_SIZE = arg('page-size', 10_000);
const KEEP = args.includes('--keep');
/** --log: the reconciler's own log (level log) on this process's stdout. */
const LOG = args.includes('--log');
const LDAP_N = arg('ldap-accounts', 100_000);
const LDAP_SERVER_PAGE = arg('ldap-server-page', 10_000);
const SEGMENTS = arg('segments', 0);
const REPLICAS = Math.max(1, arg('replicas', 1));
/** --mapping-script: the SQL connector gets a mapping script (it returns what the rules mapped, so the planted discrepancies stay exact): its cost, in batches. */
const MAPPING_SCRIPT = args.includes('--mapping-script');
const PASS_THROUGH_SCRIPT = `export default async ({ items }) => items.map((i) => ({ ...i.attributes }))`;
const FLOOR = { full_s: 120, peak_rss_mb: 512, delta_s: 10, ldap_full_s: 30 };

const say = (message) => process.stdout.write(`[bench:reconcile] ${message}\n`);
const STACK = (() => {
  const file = join(ROOT, '.stack', 'stack.env');
  if (!existsSync(file)) return {};
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
})();
const env = (name, fallback) => process.env[name] || STACK[name] || fallback;
const BASE_URL = env('DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/provisio');
const TARGET_URL = env('SQL_TARGET_PG_URL', 'postgres://postgres@127.0.0.1:5432/provisio_targets');
const REDIS_URL = env('REDIS_URL', 'redis://127.0.0.1:6379');

function databaseUrl(name) {
  const url = new URL(BASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withClient(url, work) {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function timed(label, work) {
  const start = performance.now();
  const result = await work();
  say(`${label}: ${((performance.now() - start) / 1000).toFixed(1)} s`);
  return result;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function run(command, argv, extraEnv) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { cwd: ROOT, env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} ${argv.join(' ')} exited ${code}:\n${output}`))));
  });
}

/** Peak resident set (VmHWM) of a process, in MB. */
function peakRssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

async function startReconciler(extraEnv) {
  const main = join(ROOT, 'apps', 'reconciler', 'dist', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first (npm run bench:reconcile does)`);
  const child = spawn(process.execPath, [main], { cwd: ROOT, env: { ...process.env, ...extraEnv }, stdio: ['ignore', LOG ? 'inherit' : 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const state = await Promise.race([exited.then((code) => ({ code })), new Promise((r) => setTimeout(() => r(null), 250))]);
    if (state) throw new Error(`the reconciler exited (${state.code}) before it was ready:\n${stderr}`);
    if (await fetch(`http://127.0.0.1:${extraEnv.PORT}/health/ready`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) throw new Error(`the reconciler was not ready within 60 s:\n${stderr}`);
  }
  return {
    pid: child.pid,
    stop: async () => {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

// ---- seed --------------------------------------------------------------------------------------------
// Identity i (0 ≤ i < N): username u<i>. Missing: i % 200 == 3 (no account, no link). Mismatch: i % 100 == 1
// (the account's display name is wrong). Orphans: N/200 accounts o<j> with nobody's email.

async function seedTarget(table) {
  await withClient(TARGET_URL, async (c) => {
    await c.query(`CREATE TABLE ${table} (user_name text PRIMARY KEY, display_name text, email text, enabled boolean NOT NULL DEFAULT true, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await c.query(
      `INSERT INTO ${table} (user_name, display_name, email, updated_at)
       SELECT 'u' || i, CASE WHEN i % 100 = 1 THEN 'Wrong ' || i ELSE 'Person ' || i END, 'u' || i || '@bench.test', now() - interval '1 hour' + i * interval '1 microsecond'
         FROM generate_series(0, $1 - 1) i WHERE i % 200 <> 3
       UNION ALL
       SELECT 'o' || j, 'Orphan ' || j, 'o' || j || '@elsewhere.test', now() - interval '1 hour' FROM generate_series(0, $1 / 200 - 1) j`,
      [N],
    );
    await c.query(`CREATE INDEX ON ${table} (updated_at, user_name)`);
    await c.query(`ANALYZE ${table}`);
  });
}

async function seedIdentities(url, tenant, connectorId, config, sealed) {
  await withClient(url, async (c) => {
    await c.query('INSERT INTO tenants (id, name, slug) VALUES ($1, $2, $2)', [tenant, tenant]);
    await c.query(`INSERT INTO organizations (tenant_id, name, is_default) VALUES ($1, 'default', true)`, [tenant]);
    await c.query(
      `INSERT INTO connectors (id, tenant_id, name, type, config, credentials_encrypted, attribute_mapping) VALUES ($1, $2, 'bench-sql', 'sql', $3, $4, $5)`,
      [connectorId, tenant, JSON.stringify(config), sealed, JSON.stringify([{ target: 'userName', from: 'username', required: true }, { target: 'displayName', from: 'display_name' }, { target: 'email', from: 'email' }])],
    );
    await c.query(
      `INSERT INTO identities (tenant_id, username, email, display_name, status)
       SELECT $1, 'u' || i, 'u' || i || '@bench.test', 'Person ' || i, 'active' FROM generate_series(0, $2 - 1) i`,
      [tenant, N],
    );
    await c.query(
      `INSERT INTO account_links (tenant_id, connector_id, identity_id, external_uid)
       SELECT $1, $2, id, username FROM identities WHERE tenant_id = $1 AND (substr(username, 2)::int % 200) <> 3`,
      [tenant, connectorId],
    );
    await c.query('VACUUM ANALYZE identities');
    await c.query('VACUUM ANALYZE account_links');
  });
}

async function seedLdap(url, cipher) {
  const { createContainer, removeContainer, seedPeople } = require(join(ROOT, 'libs', 'connectors', 'dist', 'ldap', 'ldap-target.js'));
  const target = { url: env('LDAP_TARGET_URL'), bindDn: env('LDAP_TARGET_BIND_DN'), password: env('LDAP_TARGET_PASSWORD'), baseDn: env('LDAP_TARGET_BASE_DN') };
  if (!target.url || !target.password) throw new Error('LDAP_TARGET_URL / LDAP_TARGET_PASSWORD are not set (npm run stack:up)');
  const ou = `bench-recon-${randomBytes(4).toString('hex')}`;
  const containerDn = await createContainer(target, ou);
  const tenant = randomUUID();
  const connectorId = randomUUID();
  try {
    await timed(`${LDAP_N} LDAP people seeded`, () => seedPeople(target, containerDn, 'l', LDAP_N));
    // serverPageSize: entries per Simple Paged Results page (the connector's default 10,000). Larger pages
    // read faster from the in-memory server (it evaluates the whole search again per page) but the
    // connector holds a whole server page in memory.
    const config = { url: target.url, bindDn: target.bindDn, baseDn: target.baseDn, accounts: { container: `ou=${ou},ou=people` }, serverPageSize: LDAP_SERVER_PAGE };
    await withClient(url, async (c) => {
      await c.query('INSERT INTO tenants (id, name, slug) VALUES ($1, $2, $2)', [tenant, tenant]);
      await c.query(`INSERT INTO organizations (tenant_id, name, is_default) VALUES ($1, 'default', true)`, [tenant]);
      await c.query(`INSERT INTO connectors (id, tenant_id, name, type, config, credentials_encrypted, attribute_mapping) VALUES ($1, $2, 'bench-ldap', 'ldap', $3, $4, $5)`, [
        connectorId,
        tenant,
        JSON.stringify(config),
        cipher.encrypt({ password: target.password }, [tenant, connectorId]),
        JSON.stringify([{ target: 'uid', from: 'username', required: true }, { target: 'cn', from: 'username' }, { target: 'sn', value: 'Seeded' }]),
      ]);
      await c.query(`INSERT INTO identities (tenant_id, username, status) SELECT $1, 'l' || i, 'active' FROM generate_series(0, $2 - 1) i`, [tenant, LDAP_N]);
      await c.query(`INSERT INTO account_links (tenant_id, connector_id, identity_id, external_uid) SELECT $1, $2, id, 'uid=' || username || ',' || $3 FROM identities WHERE tenant_id = $1`, [tenant, connectorId, containerDn]);
      await c.query('VACUUM ANALYZE identities');
      await c.query('VACUUM ANALYZE account_links');
    });
  } catch (error) {
    await removeContainer(target, containerDn).catch(() => undefined);
    throw error;
  }
  return { tenant, connectorId, remove: () => removeContainer(target, containerDn) };
}

// ---- runs --------------------------------------------------------------------------------------------

async function reconcile(base, token, body) {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const start = performance.now();
  const created = await fetch(`${base}/reconciliation/runs`, { method: 'POST', headers, body: JSON.stringify(body) });
  if (created.status !== 201) throw new Error(`POST /reconciliation/runs: ${created.status} ${await created.text()}`);
  const { id } = await created.json();
  let lastPhase = '';
  for (;;) {
    const run = await (await fetch(`${base}/reconciliation/runs/${id}`, { headers })).json();
    if (run.progress.phase !== lastPhase) {
      say(`  ${((performance.now() - start) / 1000).toFixed(1)} s: ${run.progress.phase} (${run.accounts_processed} accounts, ${run.progress.accounts_per_second}/s)`);
      lastPhase = run.progress.phase;
    }
    if (['completed', 'failed', 'cancelled', 'paused'].includes(run.status)) {
      if (run.status !== 'completed') throw new Error(`run ${id} ended ${run.status}: ${run.error_message ?? run.pause_reason}`);
      return { run, wall_s: (performance.now() - start) / 1000 };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main() {
  const database = `provisio_bench_reconcile_${randomBytes(4).toString('hex')}`;
  const url = databaseUrl(database);
  const maintenance = databaseUrl('postgres');
  const table = `bench_recon_${randomBytes(4).toString('hex')}`;
  const tenant = randomUUID();
  const connectorId = randomUUID();
  const keys = `bench:${randomBytes(32).toString('base64')}`;
  const secret = randomBytes(32).toString('hex');
  let replicas = [];
  await withClient(maintenance, (c) => c.query(`CREATE DATABASE "${database}"`));
  say(`database ${database}, target table ${table}, ${N} accounts and identities`);
  try {
    await timed('migrations', () => run(process.execPath, [join(ROOT, 'migrations', 'dist', 'cli.js'), 'run'], { DATABASE_URL: url }));
    const target = new URL(TARGET_URL);
    const config = {
      dialect: 'postgres',
      host: target.hostname,
      port: Number(target.port || 5432),
      database: target.pathname.slice(1),
      user: decodeURIComponent(target.username),
      pageSize: PAGE_SIZE,
      accounts: { table, keyColumn: 'user_name', columns: { userName: 'user_name', displayName: 'display_name', email: 'email' }, updatedAtColumn: 'updated_at', enabled: { column: 'enabled' } },
    };
    const cipher = new SealedJsonCipher(parseKeyRing(keys, undefined, { ring: 'CONNECTOR_CREDENTIALS_KEYS', current: 'CONNECTOR_CREDENTIALS_KEY_ID' }), { purpose: 'connector-credentials', what: 'credentials' });
    await timed('target seeded', () => seedTarget(table));
    await timed('identities and links seeded', () => seedIdentities(url, tenant, connectorId, config, cipher.encrypt({ password: '' }, [tenant, connectorId])));
    if (MAPPING_SCRIPT) {
      await withClient(url, async (c) => {
        const [{ id }] = (
          await c.query(
            `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, current_version) SELECT $1, o.id, 'bench-mapping', $2, 'embedded', 'active', 1 FROM organizations o WHERE o.tenant_id = $1 RETURNING id`,
            [tenant, PASS_THROUGH_SCRIPT],
          )
        ).rows;
        await c.query('UPDATE connectors SET mapping_script_id = $2 WHERE id = $1', [connectorId, id]);
      });
    }

    const ports = [];
    const redisPrefix = `bench-recon-${randomBytes(4).toString('hex')}`;
    for (let r = 0; r < REPLICAS; r++) ports.push(await freePort());
    replicas = await timed(`${REPLICAS} reconciler${REPLICAS > 1 ? 's' : ''} started`, () =>
      Promise.all(
        ports.map((port) =>
          startReconciler({
            NODE_ENV: 'production',
            LOG_LEVEL: LOG ? 'info' : 'warn',
            PORT: String(port),
            HOST: '127.0.0.1',
            DATABASE_URL: url,
            REDIS_URL,
            REDIS_KEY_PREFIX: redisPrefix,
            KAFKA_BROKERS: env('KAFKA_BROKERS', '127.0.0.1:9092'),
            KAFKA_TOPIC_PREFIX: env('KAFKA_TOPIC_PREFIX', ''),
            AUTH_JWT_SECRET: secret,
            CONNECTOR_CREDENTIALS_KEYS: keys,
            RECONCILIATION_PAGE_SIZE: String(PAGE_SIZE),
            ...(SEGMENTS > 0 ? { RECONCILIATION_SEGMENTS: String(SEGMENTS) } : {}),
          }),
        ),
      ),
    );
    const port = ports[0];
    const peakOfReplicas = () => Math.max(...replicas.map((r) => peakRssMb(r.pid)));
    const token = jwt.sign({ sub: 'bench', tenant_id: tenant, permissions: ['reconciliation:read', 'reconciliation:write'] }, secret, { algorithm: 'HS256', expiresIn: '2h' });
    const base = `http://127.0.0.1:${port}`;

    say('full dry run');
    const full = await reconcile(base, token, { connector_id: connectorId, mode: 'full', dry_run: true });
    const peak = peakOfReplicas();

    await timed(`${CHANGES} accounts changed in the target`, () =>
      withClient(TARGET_URL, (c) =>
        c.query(`UPDATE ${table} SET display_name = 'Changed ' || user_name, updated_at = clock_timestamp() WHERE user_name IN (SELECT 'u' || i FROM generate_series(0, $1 - 1) i WHERE i % 100 = 5 LIMIT $2)`, [N, CHANGES]),
      ),
    );
    say('delta dry run');
    const delta = await reconcile(base, token, { connector_id: connectorId, mode: 'delta', dry_run: true });

    const check = await withClient(url, async (c) => {
      const planted = `SELECT 'mismatch' AS t, 'u' || i AS k FROM generate_series(0, $2 - 1) i WHERE i % 100 = 1
                       UNION ALL SELECT 'orphan', 'o' || j FROM generate_series(0, $2 / 200 - 1) j
                       UNION ALL SELECT 'missing', 'u' || i FROM generate_series(0, $2 - 1) i WHERE i % 200 = 3`;
      const found = `SELECT d.discrepancy_type AS t, COALESCE(d.external_uid, i.username) AS k, d.attribute_name AS a
                       FROM discrepancies d LEFT JOIN identities i ON i.id = d.identity_id AND d.external_uid IS NULL WHERE d.run_id = $1`;
      const [f] = (
        await c.query(
          `WITH planted AS (${planted}), found AS (${found})
           SELECT (SELECT count(*) FROM planted)::int AS planted, (SELECT count(*) FROM found)::int AS found,
                  (SELECT count(*) FROM planted p WHERE EXISTS (SELECT 1 FROM found f WHERE f.t = p.t AND f.k = p.k AND (p.t <> 'mismatch' OR f.a = 'displayName')))::int AS matched`,
          [full.run.id, N],
        )
      ).rows;
      const [d] = (
        await c.query(
          `WITH changed AS (SELECT 'u' || i AS k FROM generate_series(0, $3 - 1) i WHERE i % 100 = 5 LIMIT $4),
                found AS (SELECT discrepancy_type AS t, external_uid AS k, attribute_name AS a FROM discrepancies WHERE run_id = $1),
                before AS (SELECT discrepancy_type AS t, external_uid AS k FROM discrepancies WHERE run_id = $2)
           SELECT (SELECT count(*) FROM changed)::int AS changed,
                  (SELECT count(*) FROM changed ch WHERE EXISTS (SELECT 1 FROM found f WHERE f.k = ch.k AND f.t = 'mismatch' AND f.a = 'displayName'))::int AS matched,
                  (SELECT count(*) FROM found f WHERE f.k NOT IN (SELECT k FROM changed) AND NOT EXISTS (SELECT 1 FROM before b WHERE b.t = f.t AND b.k = f.k))::int AS extra`,
          [delta.run.id, full.run.id, N, CHANGES],
        )
      ).rows;
      return { full: f, delta: d };
    });
    const exactFull = check.full.planted === check.full.found && check.full.matched === check.full.planted;
    const exactDelta = check.delta.matched === check.delta.changed && check.delta.extra === 0;
    say(`full: planted ${check.full.planted}, found ${check.full.found}, matched ${check.full.matched}; delta: changed ${check.delta.changed}, matched ${check.delta.matched}, unexplained ${check.delta.extra} (read ${delta.run.accounts_processed})`);

    const full_s = Math.round(full.run.duration_seconds * 10) / 10;
    const delta_s = Math.round(delta.run.duration_seconds * 100) / 100;

    let ldap = null;
    if (LDAP_N > 0) {
      const seeded = await seedLdap(url, cipher);
      try {
        const ldapToken = jwt.sign({ sub: 'bench', tenant_id: seeded.tenant, permissions: ['reconciliation:read', 'reconciliation:write'] }, secret, { algorithm: 'HS256', expiresIn: '2h' });
        say('LDAP full dry run');
        const { run } = await reconcile(base, ldapToken, { connector_id: seeded.connectorId, mode: 'full', dry_run: true });
        ldap = { accounts: run.accounts_processed, full_s: Math.round(run.duration_seconds * 10) / 10, discrepancies: run.discrepancies_found, server_page: LDAP_SERVER_PAGE };
      } finally {
        if (!KEEP) await seeded.remove().catch((e) => say(`could not remove the LDAP container: ${e.message}`));
      }
    }
    const result = {
      bench: 'reconcile',
      accounts: N,
      segments: SEGMENTS || null,
      replicas: REPLICAS,
      full_s,
      accounts_per_s: Math.round(N / full.run.duration_seconds),
      peak_rss_mb: peak,
      delta_s,
      delta_accounts: delta.run.accounts_processed,
      exact: exactFull && exactDelta,
      mapping_script: MAPPING_SCRIPT,
      mapping_script_runs: MAPPING_SCRIPT ? await withClient(url, async (c) => Number((await c.query("SELECT count(*) AS n FROM script_executions WHERE tenant_id = $1 AND trigger_data ->> 'kind' = 'connector_mapping'", [tenant])).rows[0].n)) : null,
      ldap_accounts: ldap?.accounts ?? null,
      ldap_full_s: ldap?.full_s ?? null,
      ldap_discrepancies: ldap?.discrepancies ?? null,
      ldap_server_page: ldap?.server_page ?? null,
      peak_rss_mb_after_ldap: peakOfReplicas(),
      floors: FLOOR,
      within_floors: full_s <= FLOOR.full_s && peak <= FLOOR.peak_rss_mb && delta_s <= FLOOR.delta_s && (ldap === null || ldap.full_s <= FLOOR.ldap_full_s),
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await Promise.all(replicas.map((r) => r.stop()));
    if (!KEEP) {
      await withClient(TARGET_URL, (c) => c.query(`DROP TABLE IF EXISTS ${table}`)).catch((e) => say(`could not drop ${table}: ${e.message}`));
      await withClient(maintenance, (c) => c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)).catch((e) => say(`could not drop ${database}: ${e.message}`));
    }
  }
}

main().catch((error) => {
  process.stderr.write(`[bench:reconcile] ${error.stack ?? error}\n`);
  process.exit(1);
});
