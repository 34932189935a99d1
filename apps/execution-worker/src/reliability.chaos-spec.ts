import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Producer } from 'kafkajs';
import { ConsumerGroup, createCloudEvent, messageKey, Topic } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, createTenantFixture, IsolatedSchema, TenantFixture } from '@provisio/persistence/testing';
import { eventually, freePort, sleep, testEnv, testKafka, uniqueTopicPrefix } from '@provisio/platform/testing';

/**
 * Reliability of the execution path with real processes and a real broker. These run after every other
 * suite, one at a time (`npm test` runs the `chaos` project last, in band): one of them restarts Kafka.
 */
const ROOT = join(__dirname, '..', '..', '..');
const WORKER = join(ROOT, 'apps', 'execution-worker', 'dist', 'main.js');
const STACK_CLI = join(ROOT, 'scripts', 'stack', 'cli.mjs');

describe('execution-worker reliability', () => {
  let db: IsolatedSchema;
  let tenant: TenantFixture;
  const kafka = testKafka();

  beforeAll(async () => {
    if (!existsSync(WORKER)) throw new Error('build first (npm test does): the worker runs as a real process');
    db = await createIsolatedSchema(migrations);
    tenant = await createTenantFixture(db.dataSource);
  });
  afterAll(async () => db?.drop());

  async function subscribedScript(eventType: string, source = `export default async (ctx) => { const end = Date.now() + 5; while (Date.now() < end) {} return ctx.event.data.n; }`, limits: Record<string, number> = {}): Promise<string> {
    const [{ id }] = await db.dataSource.query(
      `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, event_types, current_version, resource_limits)
       VALUES ($1, $2, $3, $4, 'event', 'active', ARRAY[$5], 1, $6::jsonb) RETURNING id`,
      [tenant.tenantId, tenant.organizationId, `chaos-${eventType}`, source, eventType, JSON.stringify(limits)],
    );
    await db.dataSource.query('INSERT INTO script_event_subscriptions (script_id, tenant_id, event_type) VALUES ($1, $2, $3)', [id, tenant.tenantId, eventType]);
    return id;
  }

  async function startWorker(prefix: string, env: Record<string, string> = {}): Promise<ChildProcess> {
    const port = await freePort();
    const child = spawn(process.execPath, [WORKER], {
      env: { PATH: process.env.PATH ?? '', ...testEnv({ DATABASE_SCHEMA: db.schema, KAFKA_TOPIC_PREFIX: prefix, REDIS_KEY_PREFIX: `chaos:${prefix}`, PORT: String(port), EXECUTION_SWEEP_INTERVAL_MS: '2000', LOG_LEVEL: 'error', ...env }) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    return child;
  }

  async function waitJoined(prefix: string, members = 1): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await eventually(async () => (await admin.describeGroups([prefix + ConsumerGroup.WorkerDomainEvents])).groups[0]?.members.length === members, { what: 'worker joined', timeoutMs: 60_000, intervalMs: 250 });
    } finally {
      await admin.disconnect();
    }
  }

  /** Publishes `count` events over `ms`; returns the ids the broker acknowledged. */
  async function burst(producer: Producer, prefix: string, type: string, count: number, ms: number): Promise<string[]> {
    const acked: string[] = [];
    const batches = 20;
    for (let b = 0; b < batches; b++) {
      const events = Array.from({ length: count / batches }, (_, i) => createCloudEvent({ source: '//chaos', type, tenantid: tenant.tenantId, subject: `u-${b}-${i}`, data: { n: b * 1000 + i } }));
      try {
        await producer.send({ topic: prefix + Topic.DomainEvents, acks: -1, messages: events.map((e) => ({ key: messageKey.tenantAccount(tenant.tenantId, e.subject!), value: JSON.stringify(e) })) });
        acked.push(...events.map((e) => e.id));
      } catch {
        // Not acknowledged (the broker was away for longer than the producer's retries): not published.
      }
      await sleep(ms / batches);
    }
    return acked;
  }

  async function recordedOnce(scriptId: string, ids: string[]): Promise<void> {
    const rows: { event_id: string; n: number; completed: number }[] = await eventually(
      async () => {
        const found = await db.dataSource.query(
          `SELECT trigger_data->>'event_id' AS event_id, count(*)::int AS n, count(*) FILTER (WHERE status = 'completed')::int AS completed
             FROM script_executions WHERE script_id = $1 AND parent_execution_id IS NULL GROUP BY 1`,
          [scriptId],
        );
        return found.length >= ids.length && found.every((r: { completed: number }) => r.completed === 1) ? found : null;
      },
      { what: `all ${ids.length} events executed`, timeoutMs: 90_000, intervalMs: 500 },
    );
    expect(rows).toHaveLength(ids.length); // nothing extra
    expect(new Set(rows.map((r) => r.event_id))).toEqual(new Set(ids)); // nothing lost
    expect(rows.filter((r) => r.n !== 1)).toEqual([]); // nothing twice
  }

  it('executes and records every event exactly once when the worker is killed mid-burst and restarted', async () => {
    const prefix = uniqueTopicPrefix();
    const scriptId = await subscribedScript('user.created');
    let worker = await startWorker(prefix);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      await waitJoined(prefix);
      const published = burst(producer, prefix, 'user.created', 400, 4_000);
      await eventually(async () => (await db.dataSource.query(`SELECT count(*)::int AS n FROM script_executions WHERE script_id = $1 AND status = 'completed'`, [scriptId]))[0].n >= 40, { what: 'some runs done' });
      worker.kill('SIGKILL');
      await new Promise((resolve) => worker.once('exit', resolve));
      worker = await startWorker(prefix);
      const ids = await published;
      expect(ids).toHaveLength(400);
      await recordedOnce(scriptId, ids);
    } finally {
      await producer.disconnect();
      worker.kill('SIGKILL');
    }
  });

  it('loses nothing when the Kafka broker restarts during a burst (events published == executions recorded)', async () => {
    const [kafkaStatus] = JSON.parse(execFileSync(process.execPath, [STACK_CLI, 'status', '--json'], { encoding: 'utf8' })).filter((c: { name: string }) => c.name === 'kafka');
    if (!kafkaStatus.managed) {
      // Restarting someone else's broker is not ours to do.
      console.warn('skipped: the Kafka broker is external to the local stack');
      return;
    }
    const prefix = uniqueTopicPrefix();
    const scriptId = await subscribedScript('user.updated');
    const worker = await startWorker(prefix);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 30, initialRetryTime: 300, maxRetryTime: 3_000 } });
    await producer.connect();
    try {
      await waitJoined(prefix);
      const published = burst(producer, prefix, 'user.updated', 400, 8_000);
      await sleep(2_000);
      execFileSync(process.execPath, [STACK_CLI, 'down', 'kafka'], { stdio: 'ignore' });
      await sleep(1_000);
      execFileSync(process.execPath, [STACK_CLI, 'up'], { stdio: 'ignore' });
      const ids = await published;
      expect(ids.length).toBeGreaterThan(200); // most batches were acknowledged around the restart
      await recordedOnce(scriptId, ids);
    } finally {
      await producer.disconnect().catch(() => undefined);
      worker.kill('SIGKILL');
    }
  });

  /** A redis-server of this test's own (the shared one serves other suites): nothing on disk, as in many clusters. */
  async function startRedis(port: number): Promise<ChildProcess> {
    const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await eventually(() => new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    }), { what: `redis-server on ${port} accepting connections`, timeoutMs: 10_000, intervalMs: 50 });
    return server;
  }

  async function stop(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  it('ends every event completed or dead-lettered when Redis restarts empty during a burst with failing runs', async () => {
    const prefix = uniqueTopicPrefix();
    // Every third event fails every attempt (3 in all, then a dead letter); the others complete.
    const scriptId = await subscribedScript(
      'user.flaky',
      `export default async (ctx) => { const end = Date.now() + 5; while (Date.now() < end) {} if (ctx.event.data.n % 3 === 0) throw new Error('upstream refused ' + ctx.event.data.n); return ctx.event.data.n; }`,
      { max_execution_time_ms: 1000 },
    );
    const redisPort = await freePort();
    let redis = await startRedis(redisPort);
    // Retries 1 s and 2 s after a failure: most are waiting in Redis when it goes away.
    const worker = await startWorker(prefix, { REDIS_URL: `redis://127.0.0.1:${redisPort}`, SCRIPT_EVENT_RETRY_BASE_DELAY_MS: '1000', EXECUTION_SWEEP_INTERVAL_MS: '1000' });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      await waitJoined(prefix);
      const published = burst(producer, prefix, 'user.flaky', 300, 4_000);
      await eventually(async () => (await db.dataSource.query(`SELECT count(*)::int AS n FROM script_executions WHERE script_id = $1 AND next_retry_at IS NOT NULL`, [scriptId]))[0].n >= 30, { what: 'retries scheduled' });
      await stop(redis); // everything in it is gone: queued retries, delayed jobs, concurrency slots
      await sleep(1_500);
      redis = await startRedis(redisPort);
      const ids = await published;
      expect(ids).toHaveLength(300);

      type Outcome = { event_id: string; n: number; roots: number; status: string; attempts: number; letters: number; recoveries: number };
      const outcomes = (await eventually(
        async () => {
          const [{ open }] = await db.dataSource.query(
            `SELECT count(*)::int AS open FROM script_executions WHERE script_id = $1 AND (status IN ('pending', 'queued', 'running') OR next_retry_at IS NOT NULL)`,
            [scriptId],
          );
          const rows: Outcome[] = await db.dataSource.query(
            `SELECT r.trigger_data->>'event_id' AS event_id, (r.input->>'n')::int AS n, count(*) OVER (PARTITION BY r.trigger_data->>'event_id')::int AS roots, r.status, r.recovery_count AS recoveries,
                    1 + (SELECT count(*)::int FROM script_executions a WHERE a.parent_execution_id = r.id) AS attempts,
                    (SELECT count(*)::int FROM script_event_dead_letters d WHERE d.script_id = r.script_id AND d.event_data->>'event_id' = r.trigger_data->>'event_id') AS letters
               FROM script_executions r WHERE r.script_id = $1 AND r.parent_execution_id IS NULL`,
            [scriptId],
          );
          return open === 0 && rows.length >= ids.length ? rows : null;
        },
        { what: 'every event completed or dead-lettered', timeoutMs: 120_000, intervalMs: 1_000 },
      )) as Outcome[];
      expect(new Set(outcomes.map((o) => o.event_id))).toEqual(new Set(ids)); // nothing lost
      expect(outcomes.filter((o) => o.roots !== 1)).toEqual([]); // nothing twice
      const completed = outcomes.filter((o) => o.n % 3 !== 0);
      const failing = outcomes.filter((o) => o.n % 3 === 0);
      expect(completed.filter((o) => o.status !== 'completed' || o.letters !== 0)).toEqual([]);
      expect(failing.filter((o) => o.status !== 'failed' || o.letters !== 1)).toEqual([]);
      const attempts = failing.reduce((sum, o) => sum + o.attempts, 0);
      // Redis did lose work, and it came back from PostgreSQL (the sweep counts each re-enqueue).
      const recovered = outcomes.filter((o) => o.recoveries > 0).length;
      expect(recovered).toBeGreaterThan(0);
      console.info(`redis restart: ${outcomes.length} events, ${completed.length} completed, ${failing.length} dead-lettered after ${attempts} attempts (${failing.filter((o) => o.attempts === 3).length} with all 3); ${recovered} re-enqueued from PostgreSQL`);
    } finally {
      await producer.disconnect();
      await stop(worker);
      await stop(redis);
    }
  });

  it('fails a run that kills every worker that takes it after EXECUTION_MAX_RECOVERIES, and the service goes on', async () => {
    const prefix = uniqueTopicPrefix();
    // The run never ends by itself within the test's reach: whenever it is seen running, its worker is killed.
    const poisonId = await subscribedScript('user.poison', `export default async () => { while (true) {} }`, { max_execution_time_ms: 2000 });
    const healthyId = await subscribedScript('user.healthy');
    const env = { EXECUTION_MAX_RECOVERIES: '1', EXECUTION_SWEEP_INTERVAL_MS: '1000' };
    let worker = await startWorker(prefix, env);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      await waitJoined(prefix);
      const poison = createCloudEvent({ source: '//chaos', type: 'user.poison', tenantid: tenant.tenantId, subject: 'u-poison', data: { n: 1 } });
      await producer.send({ topic: prefix + Topic.DomainEvents, acks: -1, messages: [{ key: 'u-poison', value: JSON.stringify(poison) }] });
      const row = async () => (await db.dataSource.query(`SELECT status, error, recovery_count, started_at FROM script_executions WHERE script_id = $1 AND parent_execution_id IS NULL`, [poisonId]))[0];
      let kills = 0;
      let lastKill = new Date(0);
      const deadline = Date.now() + 150_000;
      for (;;) {
        const current = await row();
        if (current && !['pending', 'queued', 'running'].includes(current.status)) break;
        if (Date.now() > deadline) throw new Error(`the poisoned run was still ${current?.status} after ${kills} kills`);
        // A run of it started since the last kill: it "kills" its worker.
        if (current?.status === 'running' && current.started_at > lastKill) {
          await stop(worker);
          kills++;
          lastKill = new Date();
          worker = await startWorker(prefix, env);
        }
        await sleep(50);
      }
      const ended = await row();
      expect(ended).toMatchObject({ status: 'failed', recovery_count: 1 });
      expect(ended.error).toMatch(/^abandoned: the run was re-queued 1 times/);
      expect(kills).toBeGreaterThanOrEqual(2);
      expect(kills).toBeLessThanOrEqual(2 * (1 + 1)); // docs/operations.md: at most 2 × (EXECUTION_MAX_RECOVERIES + 1)
      expect((await db.dataSource.query('SELECT count(*)::int AS n FROM script_event_dead_letters WHERE script_id = $1', [poisonId]))[0].n).toBe(1);
      // The service serves other events meanwhile and after.
      const healthy = createCloudEvent({ source: '//chaos', type: 'user.healthy', tenantid: tenant.tenantId, subject: 'u-healthy', data: { n: 7 } });
      await producer.send({ topic: prefix + Topic.DomainEvents, acks: -1, messages: [{ key: 'u-healthy', value: JSON.stringify(healthy) }] });
      await eventually(async () => (await db.dataSource.query(`SELECT count(*)::int AS n FROM script_executions WHERE script_id = $1 AND status = 'completed'`, [healthyId]))[0].n === 1, { what: 'a healthy run after', timeoutMs: 60_000 });
      console.info(`crash loop: the poisoned run killed ${kills} workers, then ended failed`);
    } finally {
      await producer.disconnect();
      await stop(worker);
    }
  });
});
