// Scheduler benchmark: 10,000 scripts scheduled every minute (`* * * * *`), fired by the BUILT scheduler
// (apps/scheduler/dist/main.js, as real processes) against the local stack, in a database of its own
// (`<database>_bench`, a fresh schema per run, dropped at the end).
//
//   npm run bench:scheduler -- [--jobs 10000] [--minutes 3] [--replicas 1]
//
// A fake worker in this process answers every execution request with a finished event, as the execution
// worker would, so the scheduler also records 10,000 outcomes a minute (that is part of its CPU time). The
// answers come 5 to 25 s after the request (a simulated run time), as real runs finish, rather than all
// within the second the requests are published.
// Measured, after one warm-up minute, over `--minutes` minute boundaries:
//   - firing lag: the occurrence's due time → the execution request on Kafka (the record's CreateTime, set
//     by the outbox relay's producer), read by consuming the topic;
//   - CPU time of the scheduler process(es) per minute, from their own /metrics
//     (provisio_process_cpu_seconds_total: user + system).
// Scheduler settings come from the environment (SCHEDULER_*, OUTBOX_*) and are printed. The LAST line is
// one JSON object.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDatabase, up } from '../scripts/stack/index.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(ROOT, 'package.json'));
const MAIN = join(ROOT, 'apps', 'scheduler', 'dist', 'main.js');
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const JOBS = arg('jobs', 10_000);
const MINUTES = arg('minutes', 3);
const REPLICAS = arg('replicas', 1);
const TENANTS = 10;
const FLOOR_P99_MS = 1_000;

const log = (line) => process.stdout.write(`${line}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : null);

async function until(probe, what, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Counter values of a Prometheus text page, summed over label sets. */
function metric(text, name) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function scrape(replicas) {
  const pages = await Promise.all(replicas.map(async (r) => (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text()));
  const total = (name) => pages.reduce((sum, page) => sum + metric(page, name), 0);
  return {
    cpuSeconds: total('provisio_process_cpu_seconds_total'),
    lagSum: total('provisio_scheduler_firing_lag_seconds_sum'),
    lagCount: total('provisio_scheduler_firing_lag_seconds_count'),
    claimSum: total('provisio_scheduler_claim_seconds_sum'),
    claimCount: total('provisio_scheduler_claim_seconds_count'),
  };
}

async function main() {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm run bench:scheduler does)`);
  const { Kafka, logLevel } = require('kafkajs');
  const { createIsolatedSchema, createTenantFixture } = require('@provisio/persistence/dist/testing/index.js');
  const { migrations } = require('@provisio/migrations');
  const { ensureTopics } = require('@provisio/platform');
  const { Topic, EventType, createCloudEvent } = require('@provisio/contracts');

  const stack = await up({ quiet: true });
  const benchUrl = new URL(stack.DATABASE_URL);
  benchUrl.pathname = `${benchUrl.pathname.replace(/^\//, '') || 'provisio'}_bench`;
  await ensureDatabase(benchUrl.toString());
  process.env.DATABASE_URL = benchUrl.toString();
  const db = await createIsolatedSchema(migrations, { poolSize: 4 });
  const prefix = `bench${Date.now().toString(36)}.`;
  const kafka = new Kafka({ clientId: 'bench-scheduler', brokers: stack.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const children = [];
  const cleanups = [];

  try {
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, prefix);
    cleanups.push(async () => {
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
      await admin.deleteTopics({ topics: mine }).catch(() => undefined);
      await admin.disconnect();
    });

    // 10,000 active scripts, each with its every-minute schedule, written as the registry writes them
    // (next_run_at NULL: the scheduler computes it).
    for (let t = 0; t < TENANTS; t++) {
      const tenant = await createTenantFixture(db.dataSource, { subject: `bench-${t}` });
      const count = Math.floor(JOBS / TENANTS) + (t < JOBS % TENANTS ? 1 : 0);
      await db.dataSource.query(
        `WITH s AS (
           INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, cron_expression)
           SELECT $1, $2, 'bench-' || g, 'export default async () => 1', 'scheduled', 'active', '* * * * *' FROM generate_series(1, $3) g
           RETURNING id, tenant_id)
         INSERT INTO script_scheduled_jobs (script_id, tenant_id, cron_expression, timezone) SELECT id, tenant_id, '* * * * *', 'UTC' FROM s`,
        [tenant.tenantId, tenant.organizationId, count],
      );
    }
    await db.dataSource.query('ANALYZE');

    // The fake worker: records when each request reached Kafka, answers it as completed after a run time.
    const requests = new Map(); // scheduled_for (ms) -> { count, lags: [], seen: Set }
    let duplicates = 0;
    const producer = kafka.producer();
    await producer.connect();
    // Answers are built when due, not on receipt: at the minute the consumer only records, so the harness
    // takes as little CPU as it can from the scheduler it measures.
    const pending = []; // [answerAt, key, request]
    const answer = ([, key, { tenantid, script_id, job, slot }]) => ({
      key,
      value: JSON.stringify(
        createCloudEvent({
          source: 'bench/fake-worker',
          type: EventType.ScriptExecutionFinished,
          tenantid,
          data: { execution_id: globalThis.crypto.randomUUID(), script_id, status: 'completed', trigger_type: 'cron', duration_ms: 5, scheduled_job_id: job, scheduled_for: slot },
        }),
      ),
    });
    const answering = setInterval(() => {
      const now = Date.now();
      const due = [];
      for (let i = pending.length - 1; i >= 0; i--) if (pending[i][0] <= now) due.push(answer(pending.splice(i, 1)[0]));
      if (due.length) producer.send({ topic: prefix + Topic.ScriptExecutions, messages: due }).catch((error) => log(`fake worker: ${error.message}`));
    }, 250);
    const worker = kafka.consumer({ groupId: `${prefix}fake-worker`, allowAutoTopicCreation: false, maxWaitTimeInMs: 100 });
    await worker.connect();
    await worker.subscribe({ topic: prefix + Topic.ScriptExecutionRequests, fromBeginning: true });
    await worker.run({
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const request = JSON.parse(message.value.toString());
          const { scheduled_job_id: job, scheduled_for: slot, script_id } = request.data;
          const due = Date.parse(slot);
          const minute = requests.get(due) ?? requests.set(due, { count: 0, lags: [], seen: new Set() }).get(due);
          if (minute.seen.has(job)) duplicates++;
          minute.seen.add(job);
          minute.count++;
          minute.lags.push(Number(message.timestamp) - due);
          pending.push([Date.now() + 5_000 + Math.random() * 20_000, message.key, { tenantid: request.tenantid, script_id, job, slot }]);
        }
      },
    });
    cleanups.unshift(async () => {
      clearInterval(answering);
      await worker.disconnect().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
    });

    const settings = Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(SCHEDULER|OUTBOX|DATABASE_POOL)_/.test(k)));
    const env = {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: process.env.DATABASE_URL,
      DATABASE_SCHEMA: db.schema,
      KAFKA_BROKERS: stack.KAFKA_BROKERS,
      KAFKA_TOPIC_PREFIX: prefix,
      AUTH_JWT_SECRET: 'bench-only-secret-0123456789abcdef0123456789',
      ...settings,
    };
    for (let i = 0; i < REPLICAS; i++) {
      const port = 41_000 + Math.floor(Math.random() * 9_000);
      const child = spawn(process.execPath, [MAIN], { env: { ...env, PORT: String(port), SCHEDULER_REPLICA_ID: `bench-${i}` }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
      children.push({ child, port, stderr: () => stderr });
    }
    for (const r of children) {
      await until(async () => (await fetch(`http://127.0.0.1:${r.port}/health/ready`).catch(() => null))?.ok, `scheduler on :${r.port} ready (${r.stderr()})`, 60_000);
    }
    const shown = Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(' ') || 'service defaults';
    log(`scheduler bench: ${JOBS} jobs '* * * * *' in ${TENANTS} tenants, ${REPLICAS} replica(s), ${availableParallelism()} cores, node ${process.version}; ${shown}`);

    // Warm-up: the first minute boundary after start (the scheduler has filled next_run_at by then).
    const minute = (t) => Math.ceil(t / 60_000) * 60_000;
    const warmup = minute(Date.now() + 5_000);
    log(`warm-up minute ${new Date(warmup).toISOString()}, then ${MINUTES} measured`);
    await until(async () => (requests.get(warmup)?.count ?? 0) >= JOBS, `warm-up: ${JOBS} requests for ${new Date(warmup).toISOString()}`, warmup - Date.now() + 60_000);

    // Measure between two mid-minutes, so the window holds exactly MINUTES firing bursts.
    await sleep(Math.max(0, warmup + 30_000 - Date.now()));
    const before = await scrape(children);
    const firstMeasured = warmup + 60_000;
    const measured = Array.from({ length: MINUTES }, (_, i) => firstMeasured + i * 60_000);
    const windowEnd = measured[measured.length - 1] + 30_000;
    let previous = before;
    for (const due of measured) {
      await until(async () => (requests.get(due)?.count ?? 0) >= JOBS, `${JOBS} requests for ${new Date(due).toISOString()}`, due - Date.now() + 60_000);
      const m = requests.get(due);
      const sorted = [...m.lags].sort((x, y) => x - y);
      const now = await scrape(children);
      const inside = now.lagCount > previous.lagCount ? Math.round(((now.lagSum - previous.lagSum) / (now.lagCount - previous.lagCount)) * 1000) : null;
      previous = now;
      log(
        `  ${new Date(due).toISOString()}: ${m.count} requests (${m.seen.size} distinct jobs); lag p50 ${percentile(sorted, 0.5)} ms, p99 ${percentile(sorted, 0.99)} ms, max ${sorted[sorted.length - 1]} ms` +
          ` (in the scheduler: mean ${inside} ms); load average ${loadavg()[0].toFixed(1)}`,
      );
    }
    await sleep(Math.max(0, windowEnd - Date.now()));
    const after = await scrape(children);

    const lags = measured.flatMap((due) => requests.get(due).lags).sort((x, y) => x - y);
    const complete = measured.every((due) => requests.get(due).count === JOBS && requests.get(due).seen.size === JOBS);
    const cpuMsPerMin = Math.round(((after.cpuSeconds - before.cpuSeconds) * 1000) / MINUTES);
    const schedulerLagMs = after.lagCount > before.lagCount ? Math.round(((after.lagSum - before.lagSum) / (after.lagCount - before.lagCount)) * 1000) : null;
    const claimMs = after.claimCount > before.claimCount ? Math.round(((after.claimSum - before.claimSum) / (after.claimCount - before.claimCount)) * 1000) : null;
    const summary = {
      bench: 'scheduler',
      jobs: JOBS,
      lag_p50_ms: percentile(lags, 0.5),
      lag_p99_ms: percentile(lags, 0.99),
      cpu_ms_per_min: cpuMsPerMin,
      lag_max_ms: lags[lags.length - 1],
      minutes: MINUTES,
      replicas: REPLICAS,
      every_occurrence_once: complete && duplicates === 0,
      duplicates,
      scheduler_lag_mean_ms: schedulerLagMs,
      claim_tx_mean_ms: claimMs,
      claim_txs_per_min: Math.round((after.claimCount - before.claimCount) / MINUTES),
      load_average_5m: Number(loadavg()[1].toFixed(1)),
      floor_p99_ms: FLOOR_P99_MS,
      meets_p99_floor: percentile(lags, 0.99) <= FLOOR_P99_MS,
    };
    log(`firing lag (due → request on Kafka) over ${lags.length} requests: p50 ${summary.lag_p50_ms} ms, p99 ${summary.lag_p99_ms} ms, max ${summary.lag_max_ms} ms; p99 <= ${FLOOR_P99_MS} ms: ${summary.meets_p99_floor ? 'met' : 'NOT met'}`);
    log(`  inside the scheduler (due → committed to the outbox): mean ${schedulerLagMs} ms; ${summary.claim_txs_per_min} claim transactions a minute, mean ${claimMs} ms each`);
    log(`every occurrence exactly once: ${summary.every_occurrence_once ? 'yes' : `NO (duplicates ${duplicates})`}`);
    log(`scheduler CPU (user + system, ${REPLICAS} process(es), firing ${JOBS} and recording ${JOBS} outcomes a minute): ${cpuMsPerMin} ms per minute`);
    log(`machine: ${availableParallelism()} cores shared with whatever else runs; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (1, 5, 15 min)`);
    log(JSON.stringify(summary));
  } finally {
    for (const { child } of children) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(children.map(({ child }) => (child.exitCode === null ? new Promise((resolve) => child.on('exit', resolve)) : null)));
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    await db.drop().catch(() => undefined);
  }
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
