// Script-registry benchmark: the BUILT registry (apps/script-registry/dist/main.js) as a child process,
// over one tenant holding 10,000 scripts and 1,000,000 executions, in a database of its own that the
// bench creates, seeds with bulk SQL (INSERT … SELECT generate_series) and drops at the end.
//
//   npm run bench:registry            (builds, then runs this)
//   node bench/registry.mjs [--seconds 10] [--trials 3] [--rate 200] [--keep | --reuse <database>]
//
// 1. Fixed rate: filtered lists, reads and updates (PATCH with a new source, so a new version each
//    time), each at --rate requests/s, --trials runs of --seconds, one endpoint after the other (the
//    floors are per endpoint; the trial with the median p99 is reported, all p99s are listed); then all
//    three AT ONCE (3 x --rate req/s) for --seconds, reported as mixed_*. These runs are open
//    loop (see openLoop: requests sent on schedule, latency from when each was due). autocannon's own
//    rate-limited mode is run too and reported as autocannon_rate_* for comparison.
// 2. Maximum throughput of each endpoint alone: autocannon, 32 connections, no rate limit.
// 3. The analytics dashboard: GET /analytics/dashboard (default range, the last 30 days, which holds all
//    1M executions) over HTTP while the registry runs, and its SQL alone (DASHBOARD_SQL, loaded from the
//    built apps/script-registry/dist/analytics/analytics.queries.js: exactly what the endpoint runs) with
//    its plan; median of 5 runs after a warm-up each.
// Floors: list p99 <= 50 ms at the fixed rate, dashboard <= 500 ms.
//
// Needs PostgreSQL and Kafka (DATABASE_URL / KAFKA_BROKERS, else .stack/stack.env, else localhost).
// Everything but the last line is for people; the LAST line is one JSON object.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { deleteTopics } from '../scripts/lib.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(ROOT, 'package.json'));
const autocannon = require('autocannon');
const jwt = require('jsonwebtoken');
const { Client } = require('pg');
const { Pool } = require('undici');

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const SECONDS = arg('seconds', 10);
/** Fixed-rate trials per endpoint; the median trial is reported (the machine is shared: one stall elsewhere moves one trial's p99). */
const TRIALS = arg('trials', 3);
const RATE = arg('rate', 200);
const MAX_SECONDS = arg('max-seconds', 8);
const KEEP = args.includes('--keep');
/** `--reuse <database>`: a database a `--keep` run left seeded (skips create, seed and drop). */
const REUSE = args.includes('--reuse') ? args[args.indexOf('--reuse') + 1] : undefined;
const SCRIPTS = 10_000;
const EXECUTIONS = 1_000_000;
const FLOOR = { list_p99_ms: 50, dashboard_ms: 500 };
const TENANT = '0b6f1f2e-2f43-4c33-8a6f-0f1d2e3c4b5a';
const SUBJECT = 'bench';

const say = (message) => process.stdout.write(`[bench:registry] ${message}\n`);

function stackEnv() {
  const file = join(ROOT, '.stack', 'stack.env');
  if (!existsSync(file)) return {};
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}
const STACK = stackEnv();
const BASE_URL = process.env.DATABASE_URL || STACK.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/provisio';
const BROKERS = process.env.KAFKA_BROKERS || STACK.KAFKA_BROKERS || '127.0.0.1:9092';

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

function run(command, argv, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} ${argv.join(' ')} exited ${code}:\n${output}`))));
  });
}

const timed = async (what, work) => {
  const started = performance.now();
  const result = await work();
  say(`${what}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
};

// ---- seed ------------------------------------------------------------------------------------------

async function seed(db) {
  const [{ id: organizationId }] = (
    await db.query(
      `WITH t AS (INSERT INTO tenants (id, name, slug) VALUES ($1, 'bench', 'bench') RETURNING id)
       INSERT INTO organizations (tenant_id, name, is_default) SELECT id, 'default', true FROM t RETURNING id`,
      [TENANT],
    )
  ).rows;
  const [{ id: userId }] = (await db.query('INSERT INTO users (tenant_id, subject) VALUES ($1, $2) RETURNING id', [TENANT, SUBJECT])).rows;

  await timed(`seeded ${SCRIPTS} scripts with version 1 and routing`, async () => {
    await db.query(
      `INSERT INTO scripts (tenant_id, organization_id, name, description, source, type, status, cron_expression, http_path,
                            http_methods, event_types, metadata, tags, current_version, source_sha256, created_by, updated_by,
                            created_at, updated_at)
       SELECT $1, $2, 'script-' || lpad(g::text, 5, '0'),
              (ARRAY['Provisions accounts in the directory', 'Sends the welcome mail to new hires', 'Exports users nightly',
                     'Synchronises badge access', 'Maps HR attributes to LDAP'])[1 + g % 5] || ' (' || g || ')',
              src, typ, (ARRAY['active', 'active', 'active', 'draft', 'paused', 'disabled', 'archived'])[1 + g % 7],
              CASE WHEN typ = 'scheduled' THEN (g % 60) || ' */' || (1 + g % 12) || ' * * *' END,
              CASE WHEN typ = 'http' THEN '/bench/' || g END,
              CASE WHEN typ = 'http' THEN ARRAY['POST'] END,
              CASE WHEN typ = 'event' THEN ARRAY[(ARRAY['user.created', 'user.updated', 'user.deleted'])[1 + g % 3]] END,
              jsonb_build_object('team', 'team-' || (g % 20), 'tier', g % 3),
              ARRAY['tag-' || (g % 50), 'group-' || (g % 7)],
              1, encode(sha256(convert_to(src, 'UTF8')), 'hex'), $3, $3,
              now() - (${SCRIPTS} - g) * interval '1 minute', now() - (${SCRIPTS} - g) * interval '1 minute'
         FROM generate_series(1, ${SCRIPTS}) g,
              LATERAL (SELECT (ARRAY['scheduled', 'http', 'event', 'oneoff', 'embedded'])[1 + g % 5] AS typ,
                              'export default async (ctx) => ({ n: ' || g || ', user: ctx.event?.data?.user_id });' AS src) x`,
      [TENANT, organizationId, userId],
    );
    await db.query(
      `INSERT INTO script_versions (tenant_id, script_id, version_number, source, change_description, source_sha256, created_by, created_at)
       SELECT tenant_id, id, 1, source, 'Initial version', source_sha256, created_by, created_at FROM scripts WHERE tenant_id = $1`,
      [TENANT],
    );
    await db.query(
      `INSERT INTO script_event_subscriptions (tenant_id, script_id, event_type, is_active)
       SELECT tenant_id, id, unnest(event_types), status = 'active' FROM scripts WHERE tenant_id = $1 AND type = 'event'`,
      [TENANT],
    );
    await db.query(
      `INSERT INTO script_http_endpoints (tenant_id, script_id, http_path, http_methods, is_active)
       SELECT tenant_id, id, http_path, http_methods, status = 'active' FROM scripts WHERE tenant_id = $1 AND type = 'http'`,
      [TENANT],
    );
    await db.query(
      `INSERT INTO script_scheduled_jobs (tenant_id, script_id, cron_expression, timezone, status)
       SELECT tenant_id, id, cron_expression, 'UTC',
              CASE status WHEN 'active' THEN 'active' WHEN 'disabled' THEN 'disabled' WHEN 'archived' THEN 'disabled' ELSE 'paused' END
         FROM scripts WHERE tenant_id = $1 AND type = 'scheduled'`,
      [TENANT],
    );
  });

  await timed(`seeded ${EXECUTIONS.toLocaleString('en')} executions`, async () => {
    // 90 % completed, 6 % failed, 2 % timeout, 1 % cancelled, 1 % running; durations skewed (most short,
    // a long tail to 5 s); over the last 30 days; spread over all scripts.
    await db.query(
      `WITH ids AS (SELECT array_agg(id ORDER BY name) AS a FROM scripts WHERE tenant_id = $1)
       INSERT INTO script_executions (script_id, tenant_id, status, trigger_type, output, error, metrics, started_at, completed_at,
                                      script_version, executed_by)
       SELECT ids.a[1 + (g % ${SCRIPTS})], $1, st,
              (ARRAY['event', 'cron', 'http', 'manual', 'api'])[1 + g % 5],
              CASE WHEN st = 'completed' THEN '{"ok": true}'::jsonb END,
              CASE WHEN st = 'failed' THEN 'Error: upstream returned ' || (500 + g % 4) WHEN st = 'timeout' THEN 'execution timed out' END,
              CASE WHEN st = 'running' THEN '{}'::jsonb
                   ELSE jsonb_build_object('duration_ms', d, 'memory_used_bytes', 1000000 + g % 5000000, 'api_call_count', g % 4) END,
              started, CASE WHEN st <> 'running' THEN started + d * interval '1 millisecond' END,
              1, '${SUBJECT}'
         FROM ids,
              (SELECT g, (20 + power(random(), 4) * 5000)::int AS d, now() - random() * interval '30 days' AS started,
                      CASE WHEN g % 100 < 90 THEN 'completed' WHEN g % 100 < 96 THEN 'failed' WHEN g % 100 < 98 THEN 'timeout'
                           WHEN g % 100 < 99 THEN 'cancelled' ELSE 'running' END AS st
                 FROM generate_series(1, ${EXECUTIONS}) g) e`,
      [TENANT],
    );
  });
  // Statistics and visibility maps as a settled database has them, and the seed's dirty pages written
  // out now rather than by a checkpoint in the middle of a measurement.
  await timed('VACUUM ANALYZE, CHECKPOINT', async () => {
    await db.query('VACUUM ANALYZE');
    await db.query('CHECKPOINT').catch(() => undefined); // needs superuser (or pg_checkpoint); optional
  });
}

// ---- the registry as a child process ---------------------------------------------------------------

async function startRegistry(env) {
  const main = join(ROOT, 'apps', 'script-registry', 'dist', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first (npm run bench:registry does)`);
  const child = spawn(process.execPath, [main], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const state = await Promise.race([exited.then((code) => ({ code })), new Promise((r) => setTimeout(() => r(null), 250))]);
    if (state) throw new Error(`the registry exited (${state.code}) before it was ready:\n${stderr}`);
    const ready = await fetch(`http://127.0.0.1:${env.PORT}/health/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`the registry was not ready within 60 s:\n${stderr}`);
  }
  return {
    stop: async () => {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

// ---- load ------------------------------------------------------------------------------------------

const pick = (list) => list[Math.floor(Math.random() * list.length)];

/** Filtered, sorted first pages, as a UI asks for them. */
function listPath() {
  const n = Math.floor(Math.random() * 1000);
  const shapes = [
    () => `/scripts?status=active&type=${pick(['event', 'scheduled', 'http'])}&sort=updated_at&limit=50`,
    () => `/scripts?tag=tag-${n % 50}&sort=name&limit=50`,
    () => `/scripts?${encodeURIComponent('metadata[team]')}=team-${n % 20}&status=active,paused&limit=50`,
    () => `/scripts?q=${encodeURIComponent(pick(['welcome', 'export nightly', 'badge', 'ldap', 'provisions direct']))}&limit=50`,
    () => `/scripts?type=embedded&tags=group-${n % 7}&sort=created_at&order=asc&limit=20&offset=${20 * (n % 5)}`,
  ];
  return pick(shapes)();
}

let edits = 0;
/** The next request of an endpoint: `{ method, path, body?, headers? }`. */
function nextRequest(name, ids) {
  if (name === 'list') return { method: 'GET', path: listPath() };
  if (name === 'read') return { method: 'GET', path: `/scripts/${pick(ids)}` };
  edits += 1;
  return {
    method: 'PATCH',
    path: `/scripts/${pick(ids)}`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ description: `edited by the bench (${edits})`, source: `export default async () => ({ edit: ${edits}, at: ${Date.now()} });` }),
  };
}

/** autocannon, closed loop (`connections` requests in flight), or with its own rate limit. */
function cannon(name, url, token, ids, { rate, seconds, connections }) {
  const { method, headers } = nextRequest(name, ids);
  const request = {
    method,
    ...(headers ? { headers } : {}),
    // Headers returned here replace the request's, the token included: merge them.
    setupRequest: (req) => {
      const next = nextRequest(name, ids);
      return { ...req, ...next, headers: { ...req.headers, ...next.headers } };
    },
  };
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections,
        duration: seconds,
        ...(rate ? { overallRate: rate } : {}),
        headers: { authorization: `Bearer ${token}` },
        requests: [request],
      },
      (error, result) => (error ? reject(error) : resolve(summary(result))),
    );
  });
}

function summary(result) {
  return {
    rps: Math.round(result.requests.average),
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    max_ms: result.latency.max,
    requests: result.requests.total,
    non_2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const sum = (list, key) => list.reduce((total, item) => total + item[key], 0);
const percentile = (sorted, p) => (sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)] * 10) / 10 : null);

/**
 * Open loop at a fixed rate: request i is due at start + i/rate and is sent then, whatever the answers
 * to earlier ones (independent clients, like real traffic). Its latency is measured from when it was
 * due, so a client running late counts against the server (no coordinated omission), and the whole
 * answer is read. autocannon's own rate limit cannot do this: each connection sends its quota in a
 * burst at the start of every second, and its coordinated-omission correction assumes an interval of
 * ceil(1 / rate) = 1 ms, which inflates every percentile of a rate-limited run.
 */
async function openLoop(name, url, token, ids, { rate, seconds }) {
  const pool = new Pool(url, { connections: 128, pipelining: 1 });
  const latencies = [];
  let non2xx = 0;
  let errors = 0;
  const total = Math.round(rate * seconds);
  const start = performance.now() + 20;
  const pending = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const { method, path, headers, body } = nextRequest(name, ids);
    pending.push(
      pool
        .request({ method, path, body, headers: { authorization: `Bearer ${token}`, ...headers } })
        .then(async (response) => {
          await response.body.arrayBuffer();
          if (response.statusCode < 200 || response.statusCode >= 300) non2xx += 1;
          else latencies.push(performance.now() - due);
        })
        .catch(() => (errors += 1)),
    );
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  return {
    rps: Math.round(latencies.length / elapsed),
    p50_ms: percentile(latencies, 0.5),
    p99_ms: percentile(latencies, 0.99),
    max_ms: percentile(latencies, 1),
    requests: total,
    non_2xx: non2xx,
    errors,
  };
}

// ---- main ------------------------------------------------------------------------------------------

async function main() {
  const database = REUSE ?? `provisio_bench_registry_${randomBytes(4).toString('hex')}`;
  const url = databaseUrl(database);
  const prefix = `bench-${randomBytes(4).toString('hex')}.`;
  const maintenance = databaseUrl('postgres');
  let registry;
  const loadBefore = loadavg()[0];
  if (!REUSE) await withClient(maintenance, (c) => c.query(`CREATE DATABASE "${database}"`));
  say(`database ${database}, Kafka ${BROKERS} (topic prefix ${prefix})`);
  try {
    await timed('migrations', () => run(process.execPath, [join(ROOT, 'migrations', 'dist', 'cli.js'), 'run'], { DATABASE_URL: url }));
    if (!REUSE) await withClient(url, seed);

    const secret = randomBytes(32).toString('hex');
    const port = await freePort();
    registry = await timed('registry started', () =>
      startRegistry({
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: url,
        KAFKA_BROKERS: BROKERS,
        KAFKA_TOPIC_PREFIX: prefix,
        AUTH_JWT_SECRET: secret,
      }),
    );
    const token = jwt.sign({ sub: SUBJECT, tenant_id: TENANT, permissions: ['script:read', 'script:write', 'script_execution:read'] }, secret, { algorithm: 'HS256', expiresIn: '2h' });
    const ids = await withClient(url, async (c) => (await c.query(`SELECT id FROM scripts WHERE status <> 'archived'`)).rows.map((r) => r.id));
    const base = `http://127.0.0.1:${port}`;

    // Sanity: each kind of request answers 2xx before it is measured.
    for (const [path, init] of [
      [listPath(), {}],
      [`/scripts/${ids[0]}`, {}],
      [`/scripts/${ids[1]}`, { method: 'PATCH', body: JSON.stringify({ description: 'warm' }) }],
    ]) {
      const response = await fetch(base + path, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
      if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${path} answered ${response.status}: ${await response.text()}`);
    }

    say('warm-up (3 s, all three endpoints)');
    await Promise.all(['list', 'read', 'update'].map((name) => openLoop(name, base, token, ids, { rate: RATE / 2, seconds: 3 })));

    // The floors are per endpoint at the fixed rate: each endpoint alone, one after the other.
    const fixed = {};
    const trials = {};
    for (const name of ['list', 'read', 'update']) {
      say(`fixed rate (open loop): ${name} at ${RATE} req/s, ${TRIALS} trials of ${SECONDS} s`);
      trials[name] = [];
      for (let t = 0; t < TRIALS; t++) trials[name].push(await openLoop(name, base, token, ids, { rate: RATE, seconds: SECONDS }));
      const byP99 = [...trials[name]].sort((a, b) => a.p99_ms - b.p99_ms);
      fixed[name] = { ...byP99[Math.floor((byP99.length - 1) / 2)], non_2xx: sum(trials[name], 'non_2xx'), errors: sum(trials[name], 'errors') };
      say(`  p99 of each trial: ${trials[name].map((r) => `${r.p99_ms} ms`).join(', ')}`);
    }
    // Then all three at once (3 x RATE req/s on the same process and database).
    say(`fixed rate (open loop), mixed: list, read and update at ${RATE} req/s each, together, for ${SECONDS} s`);
    const [mixedList, mixedRead, mixedUpdate] = await Promise.all(['list', 'read', 'update'].map((name) => openLoop(name, base, token, ids, { rate: RATE, seconds: SECONDS })));
    const mixed = { list: mixedList, read: mixedRead, update: mixedUpdate };
    // For comparison, autocannon's own rate limit (bursts each second, see openLoop), 10 s each.
    const burst = {};
    for (const name of ['list', 'read', 'update']) {
      say(`autocannon's rate limit: ${name} at ${RATE} req/s, 10 connections, 10 s`);
      burst[name] = await cannon(name, base, token, ids, { rate: RATE, seconds: 10, connections: 10 });
    }

    const max = {};
    for (const name of ['list', 'read', 'update']) {
      say(`maximum throughput: ${name} alone, 32 connections, ${MAX_SECONDS} s`);
      max[name] = await cannon(name, base, token, ids, { seconds: MAX_SECONDS, connections: 32 });
    }
    const dashboardHttp = await timeDashboardEndpoint(base, token);
    await registry.stop();
    registry = undefined;

    // The endpoint's own statement (analytics.queries.ts, built), with the endpoint's default range.
    const { DASHBOARD_SQL, dashboardDayParams } = require(join(ROOT, 'apps', 'script-registry', 'dist', 'analytics', 'analytics.queries.js'));
    const dashboard = await withClient(url, async (c) => {
      const to = new Date();
      const from = new Date(to.getTime() - 30 * 24 * 3600 * 1000);
      const params = [TENANT, from, to, 50, ...dashboardDayParams(from, to)];
      const first = performance.now();
      const { rows } = await c.query(DASHBOARD_SQL, params);
      const cold = performance.now() - first;
      const times = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        await c.query(DASHBOARD_SQL, params);
        times.push(performance.now() - started);
      }
      times.sort((a, b) => a - b);
      const plan = (await c.query(`EXPLAIN ${DASHBOARD_SQL}`, params)).rows.map((r) => r['QUERY PLAN']).join('\n');
      const { scripts, ...totals } = rows[0];
      return { row: { ...totals, scripts: scripts.length }, cold_ms: Math.round(cold), median_ms: Math.round(times[2]), max_ms: Math.round(times[4]), plan };
    });

    const labels = { list: 'list (filtered)', read: 'read', update: 'update (new version)' };
    const table = [
      ['endpoint', `alone @${RATE}/s: req/s`, 'p50', 'p99', `mixed 3x${RATE}/s: req/s`, 'p50', 'p99', `autocannon @${RATE}/s: p50`, 'p99', 'max req/s alone', 'non-2xx'],
      ...Object.keys(labels).map((name) => {
        const [f, x, b, m] = [fixed[name], mixed[name], burst[name], max[name]];
        return [
          labels[name],
          String(f.rps),
          `${f.p50_ms} ms`,
          `${f.p99_ms} ms`,
          String(x.rps),
          `${x.p50_ms} ms`,
          `${x.p99_ms} ms`,
          `${b.p50_ms} ms`,
          `${b.p99_ms} ms`,
          String(m.rps),
          String(f.non_2xx + x.non_2xx + b.non_2xx + m.non_2xx),
        ];
      }),
    ];
    const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
    for (const row of table) say(row.map((cell, i) => cell.padEnd(widths[i])).join('  '));
    say(dashboardHttp ? `GET /analytics/dashboard: median of 5 ${dashboardHttp.median_ms} ms, slowest ${dashboardHttp.max_ms} ms` : 'GET /analytics/dashboard: not served by this build (RegistryExtensionsModule not in AppModule)');
    say(`dashboard SQL: ${JSON.stringify(dashboard.row)}`);
    say(`dashboard SQL: cold ${dashboard.cold_ms} ms, median of 5 ${dashboard.median_ms} ms, slowest ${dashboard.max_ms} ms`);
    say(`dashboard plan:\n${dashboard.plan}`);

    const errors = [...Object.values(fixed), ...Object.values(mixed), ...Object.values(burst), ...Object.values(max)].reduce((sum, r) => sum + r.non_2xx + r.errors, 0);
    const result = {
      bench: 'registry',
      list_rps: max.list.rps,
      list_p99_ms: fixed.list.p99_ms,
      read_p99_ms: fixed.read.p99_ms,
      update_p99_ms: fixed.update.p99_ms,
      dashboard_ms: dashboard.median_ms,
      rate_per_endpoint: RATE,
      seconds: SECONDS,
      trials: TRIALS,
      list_p99_trials_ms: trials.list.map((r) => r.p99_ms),
      read_p99_trials_ms: trials.read.map((r) => r.p99_ms),
      update_p99_trials_ms: trials.update.map((r) => r.p99_ms),
      list_p50_ms: fixed.list.p50_ms,
      read_p50_ms: fixed.read.p50_ms,
      update_p50_ms: fixed.update.p50_ms,
      read_rps: max.read.rps,
      update_rps: max.update.rps,
      mixed_list_p99_ms: mixed.list.p99_ms,
      mixed_read_p99_ms: mixed.read.p99_ms,
      mixed_update_p99_ms: mixed.update.p99_ms,
      mixed_rps: mixed.list.rps + mixed.read.rps + mixed.update.rps,
      autocannon_rate_list_p99_ms: burst.list.p99_ms,
      autocannon_rate_read_p99_ms: burst.read.p99_ms,
      autocannon_rate_update_p99_ms: burst.update.p99_ms,
      dashboard_cold_ms: dashboard.cold_ms,
      dashboard_http_ms: dashboardHttp?.median_ms ?? null,
      scripts: SCRIPTS,
      executions: EXECUTIONS,
      errors,
      // The machine is shared: its 1-minute load average before and after says how quiet it was.
      cpus: availableParallelism(),
      load_before: Math.round(loadBefore * 100) / 100,
      load_after: Math.round(loadavg()[0] * 100) / 100,
      floors: FLOOR,
      pass: fixed.list.p99_ms <= FLOOR.list_p99_ms && dashboard.median_ms <= FLOOR.dashboard_ms && errors === 0,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await registry?.stop();
    if (KEEP) say(`kept database ${database} and topics ${prefix}*`);
    else {
      if (!REUSE) {
        await withClient(maintenance, (c) => c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)).catch((e) => say(`could not drop ${database}: ${e.message}`));
      }
      await deleteTopics(BROKERS, (t) => t.startsWith(prefix)).catch((e) => say(`could not delete the ${prefix}* topics: ${e.message}`));
    }
  }
}

/** GET /analytics/dashboard (default range) timed end to end: median of 5 after a warm-up; null if not served. */
async function timeDashboardEndpoint(base, token) {
  const get = () => fetch(`${base}/analytics/dashboard`, { headers: { authorization: `Bearer ${token}` } });
  const warm = await get();
  if (warm.status === 404) return null;
  if (!warm.ok) throw new Error(`GET /analytics/dashboard answered ${warm.status}: ${await warm.text()}`);
  await warm.arrayBuffer();
  const times = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    const response = await get();
    await response.arrayBuffer();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { median_ms: Math.round(times[2]), max_ms: Math.round(times[4]) };
}

main().catch((error) => {
  process.stderr.write(`[bench:registry] failed: ${error.stack ?? error}\n`);
  process.exit(1);
});
