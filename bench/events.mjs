// Events benchmark: domain events published to Kafka, run by subscribed scripts in the BUILT execution
// worker, until every one is recorded in script_executions.
//
//   npm run bench:events [-- --events 50000 --rate 1200 --scripts 1 --warmup 3000]
//
// Events are published at a steady rate (a real upstream does not dump 50k at once); latency is the
// event's `time` (set when published) to the execution's `completed_at`, so it covers Kafka, the consumer
// transaction, the queue, the sandbox and the record. events_per_s = events recorded / (last recorded -
// first published). The LAST line printed is one JSON object.
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as stack from '../scripts/stack/index.mjs';
import { deleteTopics } from '../scripts/lib.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(ROOT, 'package.json'));
const { Client } = require('pg');
const { Kafka, logLevel, Partitioners } = require('kafkajs');

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const EVENTS = arg('events', 50_000);
const RATE = arg('rate', 1_200);
const SCRIPTS = arg('scripts', 1);
// Events published (at the same rate) and recorded before the measured ones, not counted: the figures are
// those of a running service, not of its first seconds (JIT, connection pools, the consumer's first fetches).
const WARMUP = args.includes('--unsubscribed') ? 0 : arg('warmup', 3_000);
// --unsubscribed: publish a type no script subscribes to, to measure the consumer alone.
const EVENT_TYPE = args.includes('--unsubscribed') ? 'user.unwatched' : 'user.created';
const FLOOR = { events_per_s: 1_000, p99_ms: 500 };
const SOURCE = '//bench';
const WARMUP_SOURCE = '//bench-warmup';
/** Only the measured events' executions (not the warm-up's). */
const MEASURED = `trigger_data->>'source' = '${SOURCE}'`;
const say = (m) => process.stdout.write(`[bench:events] ${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const HOOK = `export default async (ctx) => {
  const u = ctx.event.data;
  const username = helpers.username({ first: u.first_name, last: u.last_name, format: 'first.last' });
  return { username, email: helpers.email(username, 'corp.example'), displayName: helpers.normalize(u.first_name + ' ' + u.last_name) };
}`;

async function main() {
  const env = await stack.up({ quiet: true });
  const url = new URL(env.DATABASE_URL);
  url.pathname = '/provisio_bench';
  const databaseUrl = url.toString();
  await stack.ensureDatabase(databaseUrl);
  const schema = `bench_${Date.now()}`;
  const prefix = `bench${randomUUID().slice(0, 6)}.`;
  const childEnv = { ...process.env, DATABASE_URL: databaseUrl, DATABASE_SCHEMA: schema, REDIS_URL: env.REDIS_URL, KAFKA_BROKERS: env.KAFKA_BROKERS, KAFKA_TOPIC_PREFIX: prefix, REDIS_KEY_PREFIX: `bench:${prefix}` };
  say(`migrating schema ${schema}...`);
  execFileSync(process.execPath, [join(ROOT, 'migrations/dist/cli.js'), 'run'], { env: childEnv, stdio: 'ignore' });

  const db = new Client({ connectionString: databaseUrl, options: `-c search_path=${schema}` });
  await db.connect();
  const tenantId = randomUUID();
  await db.query('INSERT INTO tenants (id, name, slug) VALUES ($1, $2, $2)', [tenantId, String(tenantId)]);
  const [{ id: orgId }] = (await db.query(`INSERT INTO organizations (tenant_id, name, is_default) VALUES ($1, 'default', true) RETURNING id`, [tenantId])).rows;
  for (let i = 0; i < SCRIPTS; i++) {
    const { rows } = await db.query(
      `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, event_types, current_version, resource_limits)
       VALUES ($1, $2, $3, $4, 'event', 'active', ARRAY['user.created'], 1, '{"max_execution_time_ms": 5000, "max_memory_bytes": 33554432, "max_concurrent_runs": 1000, "max_api_calls_per_minute": 60, "max_output_size_bytes": 65536}') RETURNING id`,
      [tenantId, orgId, `mapping-${i}`, HOOK],
    );
    await db.query(`INSERT INTO script_event_subscriptions (script_id, tenant_id, event_type) VALUES ($1, $2, 'user.created')`, [rows[0].id, tenantId]);
  }

  say('starting the built execution worker...');
  const port = 39_500 + Math.floor(Math.random() * 400);
  // BENCH_WORKER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the worker; the worker runs
  // with the service defaults, and BENCH_EXTRA (a JSON object of variables) overrides them.
  const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const worker = spawn(process.execPath, [...nodeArgs, join(ROOT, 'apps/execution-worker/dist/main.js')], {
    env: { ...childEnv, PORT: String(port), LOG_LEVEL: 'warn', AUTH_JWT_SECRET: randomUUID() + randomUUID(), ...(process.env.BENCH_EXTRA ? JSON.parse(process.env.BENCH_EXTRA) : {}) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    for (let i = 0; ; i++) {
      if (i > 240) throw new Error('worker not ready in 60 s');
      const ok = await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.ok).catch(() => false);
      if (ok) break;
      await sleep(250);
    }
    await sleep(2_000); // consumer group joined

    const kafka = new Kafka({ clientId: 'bench-events', brokers: env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    /** Publishes `count` events at RATE/s, in a send every 20 ms; returns when it started (ms). */
    const publish = async (count, source) => {
      const started = Date.now();
      let published = 0;
      while (published < count) {
        const due = Math.min(count, Math.floor(((Date.now() - started) / 1000) * RATE) + 1);
        if (due > published) {
          const messages = [];
          for (; published < due; published++) {
            const event = { specversion: '1.0', id: randomUUID(), source, type: EVENT_TYPE, time: new Date().toISOString(), tenantid: tenantId, subject: `u-${published}`, datacontenttype: 'application/json', data: { user_id: `u-${published}`, first_name: 'Zoë', last_name: `Łukasiewicz-${published}` } };
            messages.push({ key: `${tenantId}:account:u-${published}`, value: JSON.stringify(event) });
          }
          await producer.send({ topic: `${prefix}provisio.domain-events`, acks: -1, messages });
        }
        await sleep(20);
      }
      return started;
    };
    if (WARMUP) {
      say(`warming up: ${WARMUP} events at ${RATE}/s (not counted)...`);
      await publish(WARMUP, WARMUP_SOURCE);
      for (let i = 0; ; i++) {
        const { rows } = await db.query(`SELECT count(*)::int AS n FROM script_executions WHERE status IN ('completed', 'failed', 'timeout') AND trigger_data->>'source' = $1`, [WARMUP_SOURCE]);
        if (rows[0].n >= WARMUP * SCRIPTS) break;
        if (i > 120) throw new Error('the warm-up events were not recorded in 60 s');
        await sleep(500);
      }
    }
    say(`publishing ${EVENTS} events at ${RATE}/s...`);
    const started = await publish(EVENTS, SOURCE);
    const publishSeconds = (Date.now() - started) / 1000;
    await producer.disconnect();
    say(`published in ${publishSeconds.toFixed(1)} s; waiting for every execution to be recorded...`);

    const expected = EVENT_TYPE === 'user.created' ? EVENTS * SCRIPTS : EVENTS;
    let recorded = 0;
    let lastProgress = Date.now();
    for (;;) {
      const { rows } = await db.query(
        EVENT_TYPE === 'user.created'
          ? `SELECT count(*)::int AS n FROM script_executions WHERE status IN ('completed', 'failed', 'timeout') AND ${MEASURED}`
          : `SELECT count(*)::int AS n, extract(epoch FROM max(processed_at) - min(processed_at)) AS span FROM processed_events`,
      );
      if (EVENT_TYPE !== 'user.created' && rows[0].n >= expected) {
        say(`consumer alone: ${rows[0].n} events in ${Number(rows[0].span).toFixed(1)} s = ${Math.round(rows[0].n / Number(rows[0].span))}/s`);
        return;
      }
      if (rows[0].n !== recorded) lastProgress = Date.now();
      recorded = rows[0].n;
      if (recorded >= expected || Date.now() - lastProgress > 30_000) break;
      await sleep(500);
    }
    // Fresh statistics: without them the planner takes the just-filled tables for empty and joins them by
    // nested loops (minutes, and CPU taken from the next run).
    await db.query('ANALYZE script_executions; ANALYZE processed_events');
    const { rows: stats } = await db.query(
      `SELECT count(*)::int AS recorded,
              count(*) FILTER (WHERE status <> 'completed')::int AS not_completed,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - (trigger_data->>'time')::timestamptz) * 1000) AS p50,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - (trigger_data->>'time')::timestamptz) * 1000) AS p99,
              extract(epoch FROM max(completed_at) - min((trigger_data->>'time')::timestamptz)) AS span_s
         FROM script_executions WHERE status IN ('completed', 'failed', 'timeout') AND ${MEASURED}`,
    );
    const s = stats[0];
    // Where the time goes: consumed (event recorded as processed, executions created) vs run and recorded.
    const { rows: consumed } = await db.query(
      `SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM p.processed_at - (e.trigger_data->>'time')::timestamptz) * 1000) AS p99,
              extract(epoch FROM max(p.processed_at) - min((e.trigger_data->>'time')::timestamptz)) AS span_s, count(*)::int AS n
         FROM processed_events p JOIN script_executions e ON e.trigger_data->>'event_id' = p.event_id AND e.parent_execution_id IS NULL AND e.${MEASURED}`,
    );
    // The tail over time: the p99 of each 5 s of publishing (a steady climb is a backlog, spikes are stalls).
    const { rows: windows } = await db.query(
      `SELECT floor(extract(epoch FROM (trigger_data->>'time')::timestamptz - $1::timestamptz) / 5)::int AS w,
              round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - (trigger_data->>'time')::timestamptz) * 1000))::int AS p99
         FROM script_executions WHERE status IN ('completed', 'failed', 'timeout') AND ${MEASURED} GROUP BY 1 ORDER BY 1`,
      [new Date(started).toISOString()],
    );
    say(`p99 per 5 s of publishing (ms): ${windows.map((w) => w.p99).join(' ')}`);
    // Stages: published -> consumed (transaction start) -> run started -> run finished.
    const { rows: stages } = await db.query(
      `WITH x AS (SELECT extract(epoch FROM p.processed_at - (e.trigger_data->>'time')::timestamptz) * 1000 AS to_consumed,
                         extract(epoch FROM e.started_at - p.processed_at) * 1000 AS to_started,
                         extract(epoch FROM e.completed_at - e.started_at) * 1000 AS run
                    FROM processed_events p JOIN script_executions e ON e.trigger_data->>'event_id' = p.event_id AND e.parent_execution_id IS NULL AND e.${MEASURED})
       SELECT ${['to_consumed', 'to_started', 'run'].map((c) => `round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ${c}))::int AS ${c}_p50, round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ${c}))::int AS ${c}_p99`).join(', ')} FROM x`,
    );
    const st = stages[0];
    say(`stages p50/p99 (ms): published->consumed ${st.to_consumed_p50}/${st.to_consumed_p99}, consumed->run started ${st.to_started_p50}/${st.to_started_p99}, run ${st.run_p50}/${st.run_p99}`);
    const eventsRecorded = Math.round(s.recorded / SCRIPTS);
    const result = {
      bench: 'events',
      events: EVENTS,
      scripts_per_event: SCRIPTS,
      publish_rate_per_s: RATE,
      warmup_events: WARMUP,
      events_per_s: Math.round(eventsRecorded / Number(s.span_s)),
      latency_p50_ms: Math.round(Number(s.p50)),
      latency_p99_ms: Math.round(Number(s.p99)),
      lost: EVENTS - eventsRecorded,
      not_completed: s.not_completed,
      consumed_per_s: Math.round(consumed[0].n / Number(consumed[0].span_s)),
      consumed_p99_ms: Math.round(Number(consumed[0].p99)),
    };
    result.meets_floor = result.events_per_s >= FLOOR.events_per_s && result.latency_p99_ms <= FLOOR.p99_ms && result.lost === 0;
    say(`${result.events_per_s} events/s, latency p50 ${result.latency_p50_ms} ms, p99 ${result.latency_p99_ms} ms, lost ${result.lost}`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
    await db.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
    await db.end();
    await dropRedisKeys(env.REDIS_URL, `bench:${prefix}*`).catch(() => undefined);
    await deleteTopics(env.KAFKA_BROKERS, (t) => t.startsWith(prefix)).catch(() => undefined);
  }
}

/** The worker's queue and run-slot keys of this run. */
async function dropRedisKeys(url, pattern) {
  const Redis = require('ioredis');
  const redis = new Redis(url);
  try {
    for await (const keys of redis.scanStream({ match: pattern, count: 1000 })) if (keys.length) await redis.unlink(...keys);
  } finally {
    redis.disconnect();
  }
}

main().catch((error) => {
  process.stderr.write(`[bench:events] failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
