// Provisioning benchmark: identities created through user.created domain events become accounts in the
// targets, through the BUILT provisioning queue, with two before hooks (an attribute mapping and a username
// generator) and one after hook per operation, run in the queue's sandbox pool.
//
//   npm run bench:provisioning [-- --scim 4000 --sql 8000 --latency-events 3000]
//
// Per target (a private SCIM fixture server in a child process; a table of the stack's SQL target database):
//  1. throughput: `--scim` / `--sql` events published at once; ops/s = completed creates / (last completed -
//     first event time);
//  2. latency (SCIM, the slower): `--latency-events` events published at 80% of the SCIM rate measured;
//     latency = the event's CloudEvent time to the operation's completed_at (Kafka, identity store, outbox,
//     queue, three hooks, the target call, the record).
// lost = events whose identity has no completed create; duplicated = operations or target accounts beyond
// one per identity. Floors on a 2-core machine: SCIM >= 500 ops/s, SQL >= 1,000 ops/s, p99 <= 2 s at 80%
// of the rate, 0 lost, 0 duplicated. The LAST line printed is one JSON object.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(ROOT, 'package.json'));
const { Client } = require('pg');
const { Kafka, logLevel, Partitioners } = require('kafkajs');
const { signDevToken } = require(join(ROOT, 'libs', 'platform', 'dist', 'index.js'));

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const SCIM_EVENTS = arg('scim', 4_000);
const SQL_EVENTS = arg('sql', 8_000);
const LATENCY_EVENTS = arg('latency-events', 3_000);
// --no-hooks: the same without hook bindings (what the hooks cost).
const HOOKS = !args.includes('--no-hooks');
// Events run through a tenant of their own before the measured ones (JIT, pools, the consumers' first fetches).
const WARMUP = arg('warmup', 500);
const FLOOR = { scim_ops_per_s: 500, sql_ops_per_s: 1_000, latency_p99_ms: 2_000 };
const say = (m) => process.stdout.write(`[bench:provisioning] ${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function stackEnv() {
  const values = {};
  const file = join(ROOT, '.stack', 'stack.env');
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
      if (m) values[m[1]] = m[2];
    }
  }
  return (name) => process.env[name] || values[name] || '';
}
const env = stackEnv();

// The hooks of every create: a mapping (display name and e-mail from the identity), a username generator,
// and an after hook that checks what the target answered.
const MAPPING_HOOK = `export default async ({ operation, identity }) => ({
  ...operation.attributes,
  displayName: helpers.normalize(identity.first_name + ' ' + identity.last_name),
  email: (identity.first_name + '.' + identity.last_name + '@corp.example').toLowerCase(),
})`;
const USERNAME_HOOK = `export default async ({ operation, identity }) => ({ ...operation.attributes, userName: (identity.first_name + '.' + identity.last_name).toLowerCase() })`;
const AFTER_HOOK = `export default async ({ result }) => { if (!result || !result.uid) throw new Error('the target gave no uid'); return null; }`;

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = require('node:net').createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

async function startScim() {
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const child = spawn(process.execPath, [join(ROOT, 'test', 'targets', 'scim-server', 'main.js'), '--port', String(port)], {
    env: { ...process.env, SCIM_TARGET_TOKEN: token },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      const m = /listening (\S+)/.exec(String(chunk));
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`the SCIM server exited with ${code}`)));
  });
  return { url, token, stop: () => child.kill('SIGKILL') };
}

/** The run's own topics (its prefix): many leftover topics slow the shared broker down. */
async function deleteTopics(prefix) {
  const admin = new Kafka({ clientId: 'bench-provisioning-cleanup', brokers: env('KAFKA_BROKERS').split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
    if (topics.length) await admin.deleteTopics({ topics, timeout: 60_000 });
  } finally {
    await admin.disconnect();
  }
}

async function main() {
  for (const built of ['apps/provisioning-queue/dist/main.js', 'migrations/dist/cli.js', 'libs/connectors/dist/sql/sql-target.js']) {
    if (!existsSync(join(ROOT, built))) throw new Error(`${built} is missing: npm run build first`);
  }
  const url = new URL(env('DATABASE_URL'));
  url.pathname = '/provisio_bench';
  const databaseUrl = url.toString();
  const admin = new Client({ connectionString: env('DATABASE_URL') });
  await admin.connect();
  if ((await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'provisio_bench'`)).rowCount === 0) await admin.query('CREATE DATABASE provisio_bench');
  await admin.end();
  const schema = `bench_prov_${Date.now()}`;
  const prefix = `bench${randomUUID().slice(0, 6)}.`;
  const jwtSecret = randomUUID() + randomUUID();
  const childEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    DATABASE_SCHEMA: schema,
    REDIS_URL: env('REDIS_URL'),
    KAFKA_BROKERS: env('KAFKA_BROKERS'),
    KAFKA_TOPIC_PREFIX: prefix,
    REDIS_KEY_PREFIX: `bench:${prefix}`,
  };
  say(`migrating schema ${schema}...`);
  execFileSync(process.execPath, [join(ROOT, 'migrations/dist/cli.js'), 'run'], { env: childEnv, stdio: 'ignore' });
  const db = new Client({ connectionString: databaseUrl, options: `-c search_path=${schema}` });
  await db.connect();

  const scim = await startScim();
  const sql = require(join(ROOT, 'libs', 'connectors', 'dist', 'sql', 'sql-target.js'));
  const sqlTarget = { dialect: 'postgres', url: env('SQL_TARGET_PG_URL') };
  const table = await sql.createAccountsTable(sqlTarget, 'benchprov');

  say('starting the built provisioning queue...');
  const port = await freePort();
  // BENCH_NODE_ARGS: flags for the service's node (for example `--cpu-prof --cpu-prof-dir=DIR` to profile it).
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const service = spawn(process.execPath, [...nodeArgs, join(ROOT, 'apps/provisioning-queue/dist/main.js')], {
    env: { ...childEnv, PORT: String(port), LOG_LEVEL: 'warn', AUTH_JWT_SECRET: jwtSecret, CONNECTOR_CREDENTIALS_KEYS: `bench:${randomBytes(32).toString('base64')}`, ...(process.env.BENCH_EXTRA ? JSON.parse(process.env.BENCH_EXTRA) : {}) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  const summary = { bench: 'provisioning' };
  try {
    for (let i = 0; ; i++) {
      if (i > 240) throw new Error('the provisioning queue was not ready in 60 s');
      if (await fetch(`${base}/health/ready`).then((r) => r.ok).catch(() => false)) break;
      await sleep(250);
    }
    await sleep(2_000); // consumer groups joined
    const kafka = new Kafka({ clientId: 'bench-provisioning', brokers: env('KAFKA_BROKERS').split(','), logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();

    /** A tenant with one connector (only it covers the tenant's identities) and the three hooks. */
    const tenantWith = async (connector) => {
      const tenantId = randomUUID();
      const token = signDevToken(jwtSecret, { sub: 'bench', tenant_id: tenantId, permissions: ['connector:write', 'connector:read'] });
      const response = await fetch(`${base}/connectors`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        // Without hooks, the mapping alone names the account as the username hook would.
        body: JSON.stringify({ name: `bench-${connector.type}`, ...connector, attribute_mapping: [{ target: 'userName', from: HOOKS ? 'username' : 'attributes.generated_username', required: true }] }),
      });
      if (response.status !== 201) throw new Error(`create connector: ${response.status} ${await response.text()}`);
      const { id: connectorId } = await response.json();
      const { rows } = await db.query('SELECT id FROM organizations WHERE tenant_id = $1 AND is_default', [tenantId]);
      const hooks = HOOKS ? [['before', MAPPING_HOOK], ['before', USERNAME_HOOK], ['after', AFTER_HOOK]] : [];
      for (const [order, [phase, source]] of hooks.entries()) {
        const script = await db.query(
          `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, current_version, resource_limits)
           VALUES ($1, $2, $3, $4, 'embedded', 'active', 1, '{"max_execution_time_ms": 5000, "max_concurrent_runs": 1000}') RETURNING id`,
          [tenantId, rows[0].id, `hook-${order}`, source],
        );
        await db.query(`INSERT INTO hook_bindings (tenant_id, script_id, connector_id, hook_phase, operation_type, execution_order) VALUES ($1, $2, $3, $4, 'create', $5)`, [
          tenantId,
          script.rows[0].id,
          connectorId,
          phase,
          order,
        ]);
      }
      return { tenantId, connectorId };
    };

    /** Publishes `count` user.created events, at `rate` a second (0: at once). */
    const publish = async (tenantId, tag, count, rate) => {
      const started = Date.now();
      let published = 0;
      while (published < count) {
        const due = rate ? Math.min(count, Math.floor(((Date.now() - started) / 1000) * rate) + 1) : Math.min(count, published + 500);
        const messages = [];
        for (; published < due; published++) {
          const userId = `${tag}-${published}`;
          const event = { specversion: '1.0', id: randomUUID(), source: '//bench/hr', type: 'user.created', time: new Date().toISOString(), tenantid: tenantId, subject: userId, datacontenttype: 'application/json', data: { user_id: userId, username: userId, first_name: 'Zoë', last_name: `${tag}${published}`, generated_username: `zoë.${tag}${published}` } };
          messages.push({ key: `${tenantId}:account:${userId}`, value: JSON.stringify(event) });
        }
        if (messages.length) await producer.send({ topic: `${prefix}provisio.domain-events`, acks: -1, messages });
        if (rate) await sleep(20);
      }
    };

    /** Waits until `count` creates of the tenant ended (or nothing moved for 60 s); answers the figures. */
    const measure = async (tenantId, connectorId, count) => {
      let last = -1;
      let lastMoved = Date.now();
      for (;;) {
        const { rows } = await db.query(`SELECT count(*)::int AS n FROM provisioning_operations WHERE tenant_id = $1 AND status IN ('completed', 'dead_letter', 'resolved', 'cancelled')`, [tenantId]);
        if (rows[0].n >= count) break;
        if (rows[0].n !== last) {
          last = rows[0].n;
          lastMoved = Date.now();
        } else if (Date.now() - lastMoved > 60_000) break;
        await sleep(250);
      }
      const { rows } = await db.query(
        `SELECT count(*) FILTER (WHERE o.status = 'completed')::int AS completed,
                count(*)::int AS operations, count(DISTINCT o.user_id)::int AS users,
                extract(epoch FROM (max(o.completed_at) - min(i.source_event_time))) AS span_s,
                extract(epoch FROM (max(o.created_at) - min(i.source_event_time))) AS intake_s,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM (o.completed_at - i.source_event_time)) * 1000) AS p50,
                percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM (o.completed_at - i.source_event_time)) * 1000) AS p99
           FROM provisioning_operations o JOIN identities i ON i.id = o.user_id
          WHERE o.tenant_id = $1 AND o.connector_id = $2 AND o.operation_type = 'create'`,
        [tenantId, connectorId],
      );
      const r = rows[0];
      return { completed: r.completed, opsPerS: r.completed / Number(r.span_s), intakePerS: r.operations / Number(r.intake_s), p50: Number(r.p50), p99: Number(r.p99), lost: count - r.completed, duplicatedOps: r.operations - r.users };
    };

    const scimConnector = { type: 'scim', config: { baseUrl: scim.url, auth: 'bearer', limits: { maxConnections: 16, maxConcurrency: 64, timeoutMs: 30_000 } }, credentials: { token: scim.token } };
    const { config: sqlConfig, credentials: sqlCredentials } = sql.sqlTargetConfig(sqlTarget, table, { limits: { maxConnections: 8, maxConcurrency: 64, timeoutMs: 30_000 } });
    const sqlConnector = { type: 'sql', config: sqlConfig, credentials: sqlCredentials };

    const results = {};
    if (WARMUP) {
      const warm = await tenantWith(scimConnector);
      say(`warming up: ${WARMUP} events (not counted)...`);
      await publish(warm.tenantId, `w${randomBytes(3).toString('hex')}`, WARMUP, 0);
      await measure(warm.tenantId, warm.connectorId, WARMUP);
    }
    for (const [name, connector, count] of [['scim', scimConnector, SCIM_EVENTS], ['sql', sqlConnector, SQL_EVENTS]]) {
      const { tenantId, connectorId } = await tenantWith(connector);
      const tag = `b${randomBytes(3).toString('hex')}`;
      say(`${name}: ${count} user.created events at once...`);
      await publish(tenantId, tag, count, 0);
      results[name] = { ...(await measure(tenantId, connectorId, count)), tag };
      say(`${name}: ${results[name].completed}/${count} completed, ${Math.round(results[name].opsPerS)} ops/s, p50 ${Math.round(results[name].p50)} ms, p99 ${Math.round(results[name].p99)} ms (burst; the operations were created at ${Math.round(results[name].intakePerS)}/s)`);
    }
    const scimAccounts = await (await fetch(`${scim.url}/Users?count=1&filter=${encodeURIComponent(`userName sw "zoë.${results.scim.tag}"`)}`, { headers: { authorization: `Bearer ${scim.token}` } }).catch(() => null))?.json().catch(() => null);
    const target = new Client({ connectionString: sqlTarget.url });
    await target.connect();
    const sqlAccounts = (await target.query(`SELECT count(*)::int AS n FROM "${table}" WHERE user_name LIKE $1`, [`zoë.${results.sql.tag}%`])).rows[0].n;
    await target.end();
    say(`accounts in the targets: SCIM ${scimAccounts?.totalResults ?? '?'} of ${SCIM_EVENTS}, SQL ${sqlAccounts} of ${SQL_EVENTS}`);

    // 80% of the rate the burst measured (the issue's p99 condition), whatever it was.
    const rate = Math.max(1, Math.floor(results.scim.opsPerS * 0.8));
    const latencyTenant = await tenantWith(scimConnector);
    say(`latency: ${LATENCY_EVENTS} events at ${rate}/s (80% of the SCIM rate)...`);
    await publish(latencyTenant.tenantId, `l${randomBytes(3).toString('hex')}`, LATENCY_EVENTS, rate);
    const latency = await measure(latencyTenant.tenantId, latencyTenant.connectorId, LATENCY_EVENTS);
    say(`latency: p50 ${Math.round(latency.p50)} ms, p99 ${Math.round(latency.p99)} ms, ${latency.completed}/${LATENCY_EVENTS} completed`);
    await producer.disconnect();

    Object.assign(summary, {
      scim_ops_per_s: Math.round(results.scim.opsPerS),
      sql_ops_per_s: Math.round(results.sql.opsPerS),
      latency_p50_ms: Math.round(latency.p50),
      latency_p99_ms: Math.round(latency.p99),
      latency_rate_per_s: rate,
      lost: results.scim.lost + results.sql.lost + latency.lost,
      duplicated: results.scim.duplicatedOps + results.sql.duplicatedOps + latency.duplicatedOps,
      scim_target_accounts: scimAccounts?.totalResults ?? null,
      sql_target_accounts: sqlAccounts,
      meets_floors:
        results.scim.opsPerS >= FLOOR.scim_ops_per_s && results.sql.opsPerS >= FLOOR.sql_ops_per_s && latency.p99 <= FLOOR.latency_p99_ms && results.scim.lost + results.sql.lost + latency.lost === 0,
    });
  } finally {
    service.kill('SIGTERM');
    scim.stop();
    await deleteTopics(prefix).catch((error) => say(`could not delete the topics ${prefix}*: ${error.message}`));
    await sql.dropTable(sqlTarget, table).catch(() => undefined);
    await db.query(`DROP SCHEMA "${schema}" CASCADE`).catch(() => undefined);
    await db.end();
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((error) => {
  process.stderr.write(`[bench:provisioning] ${error.stack ?? error}\n`);
  process.exit(1);
});
