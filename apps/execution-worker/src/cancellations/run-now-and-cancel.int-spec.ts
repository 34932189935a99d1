/**
 * Run now and cancel end to end: the real registry (HTTP) and the real execution worker on one schema and
 * one topic prefix, over the real Kafka. The registry records the pending run and asks for it; the worker
 * runs that row (no second execution); a running run cancelled in the registry is stopped in the sandbox.
 */
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import { Permission } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, IsolatedSchema } from '@provisio/persistence/testing';
import { configureApp, loadConfig } from '@provisio/platform';
import { eventually, testEnv, uniqueTopicPrefix } from '@provisio/platform/testing';
import { Caller } from '../../../script-registry/src/common/testing/registry-app';
import { AppModule as RegistryModule } from '../../../script-registry/src/app.module';
import { appConfigSchema as registryConfig } from '../../../script-registry/src/config';
import { AppModule as WorkerModule } from '../app.module';
import { ScriptExecution } from '@provisio/script-execution';
import { ExecutionQueue } from '../executions/execution-queue.service';
import { appConfigSchema as workerConfig } from '../config';

/** Retries `assertion` until it passes (eventually() retries a falsy answer, not a failed expect); then runs it once more so a failure says why. */
async function until(assertion: () => Promise<void>, options: { timeoutMs: number; what: string }): Promise<void> {
  await eventually(async () => assertion().then(() => true, () => false), options).catch(() => undefined);
  await assertion();
}

describe('run now and cancel: registry and worker together', () => {
  let db: IsolatedSchema;
  let registry: INestApplication;
  let worker: INestApplication;
  let caller: Caller;

  beforeAll(async () => {
    db = await createIsolatedSchema(migrations);
    const prefix = uniqueTopicPrefix();
    // One key ring for both: the registry seals, the worker opens.
    const shared = { DATABASE_SCHEMA: db.schema, KAFKA_TOPIC_PREFIX: prefix, DATABASE_POOL_SIZE: '5', SCRIPT_SECRETS_KEYS: `test:${randomBytes(32).toString('base64')}` };
    const boot = async (module: { forRoot(config: never): never }, config: Parameters<typeof loadConfig>[0], env: Record<string, string>) => {
      const moduleRef = await Test.createTestingModule({ imports: [module.forRoot(loadConfig(config, testEnv({ ...shared, ...env })) as never)] }).compile();
      const app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
      configureApp(app, {});
      await app.init();
      return app;
    };
    worker = await boot(WorkerModule as never, workerConfig, { REDIS_KEY_PREFIX: `test:${prefix}`, SANDBOX_POOL_SIZE: '1', EXECUTION_SWEEP_INTERVAL_MS: '60000' });
    registry = await boot(RegistryModule as never, registryConfig, {});
    caller = new Caller(registry, randomUUID(), 'operator', [Permission.ScriptWrite, Permission.ScriptRead, Permission.ScriptExecute, Permission.ScriptExecutionRead]);
  });

  afterAll(async () => {
    await registry?.close();
    await worker?.close();
    await db?.drop();
  });

  it('runs the recorded row once, with its checked input, and ?wait answers when it finished', async () => {
    const script = await caller.createScript({ source: 'export default async (ctx) => ({ doubled: ctx.input.n * 2, trigger: ctx.trigger });' });
    await caller.put(`/scripts/${script.id}/parameters`, { parameters: [{ name: 'n', type: 'integer', required: true }] }).expect(200);
    const run = await caller.post(`/scripts/${script.id}/executions`, { input: { n: 21 } }).set('X-Provisio-Client', 'console').expect(202);
    const done = await caller.get(`/executions/${run.body.id}`, { wait: 30 }).expect(200);
    expect(done.body).toMatchObject({ status: 'completed', output: { doubled: 42, trigger: 'manual' }, trigger_type: 'manual', finished: true });
    const rows = await db.dataSource.query('SELECT id FROM script_executions WHERE script_id = $1', [script.id]);
    expect(rows).toEqual([{ id: run.body.id }]);
  });

  it('secret values reach the script only at run time; a scheduled run whose input misses a parameter fails naming it', async () => {
    const script = await caller.createScript({ source: 'export default async (ctx) => ({ key: ctx.input.api_key, pw: ctx.input.password, n: ctx.input.n });' });
    await caller
      .put(`/scripts/${script.id}/parameters`, { parameters: [{ name: 'api_key', type: 'string', is_secret: true }, { name: 'password', type: 'password', default_value: 'default-pw' }, { name: 'n', type: 'integer', required: true }] })
      .expect(200);
    const run = await caller.post(`/scripts/${script.id}/executions`, { input: { api_key: 'k-live-123', n: 1 } }).expect(202);
    const done = await caller.get(`/executions/${run.body.id}`, { wait: 30 }).expect(200);
    // The script saw the secrets; the row and the API never hold them in the clear.
    // (It returned them: what a run wrote is recorded with the values opened masked.)
    expect(done.body).toMatchObject({ status: 'completed', output: { key: '********', pw: '********', n: 1 }, input: { api_key: '********', n: 1 } });
    const [row] = await db.dataSource.query('SELECT input::text || output::text AS input FROM script_executions WHERE id = $1', [run.body.id]);
    expect(row.input).not.toContain('k-live-123');
    expect(row.input).not.toContain('default-pw');
    // What the scheduler's request becomes when a parameter was added since: failed, naming it (triggers fire for active scripts).
    await db.dataSource.query(`UPDATE scripts SET status = 'active' WHERE id = $1`, [script.id]);
    const [{ id }] = await db.dataSource.query(
      `INSERT INTO script_executions (tenant_id, script_id, status, trigger_type, input) VALUES ($1, $2, 'pending', 'cron', '{}') RETURNING id`,
      [caller.tenantId, script.id],
    );
    await worker.get(ExecutionQueue).enqueue([{ id, trigger_type: 'cron' }]);
    await until(async () => expect((await caller.get(`/executions/${id}`).expect(200)).body).toMatchObject({ status: 'failed', error: expect.stringContaining('input.n is required') }), {
      timeoutMs: 15_000,
      what: 'the scheduled run to fail',
    });
  });

  it('a running run cancelled in the registry is stopped in the sandbox and stays cancelled with who did it', async () => {
    const script = await caller.createScript({
      source: 'export default async () => { for (;;) {} };',
      resource_limits: { max_execution_time_ms: 20_000, max_concurrent_runs: 1 },
    });
    const run = await caller.post(`/scripts/${script.id}/executions`, {}).expect(202);
    await until(async () => expect((await caller.get(`/executions/${run.body.id}`).expect(200)).body.status).toBe('running'), { timeoutMs: 15_000, what: 'the run to start' });
    const cancelledAt = Date.now();
    const cancelled = await caller.post(`/executions/${run.body.id}/cancel`).expect(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', cancelled_by: 'operator' });
    // The one sandbox thread is free again long before the 20 s limit: the next run completes.
    const next = await caller.createScript({ source: 'export default async () => "next";' });
    const second = await caller.post(`/scripts/${next.id}/executions`, {}).expect(202);
    const finished = await caller.get(`/executions/${second.body.id}`, { wait: 30 }).expect(200);
    expect(finished.body.status).toBe('completed');
    expect(Date.now() - cancelledAt).toBeLessThan(15_000);
    const after = await caller.get(`/executions/${run.body.id}`).expect(200);
    expect(after.body).toMatchObject({ status: 'cancelled', cancelled_by: 'operator', output: null });
  });

  it('a run waiting at the gate behind a long one, cancelled, leaves the gate at once and never starts', async () => {
    // max_concurrent_runs 1: the gate lets one run of the script in at a time.
    const script = await caller.createScript({
      source: 'export default async (ctx) => { console.log("started", ctx.input.label); const end = Date.now() + ctx.input.spin_ms; while (Date.now() < end) {} return ctx.input.label; };',
      resource_limits: { max_execution_time_ms: 20_000, max_concurrent_runs: 1 },
    });
    const long = await caller.post(`/scripts/${script.id}/executions`, { input: { label: 'long', spin_ms: 8_000 } }).expect(202);
    await until(async () => expect((await caller.get(`/executions/${long.body.id}`).expect(200)).body.status).toBe('running'), { timeoutMs: 15_000, what: 'the long run to start' });
    const queued = await caller.post(`/scripts/${script.id}/executions`, { input: { label: 'queued', spin_ms: 0 } }).expect(202);
    // Its request waits behind the long run on their partition; the queue (as for a retry or a sweep) takes it now.
    await worker.get(ExecutionQueue).enqueue([{ id: queued.body.id, trigger_type: 'api' }]);
    const runs = worker.get(ScriptExecution);
    // Claimed by the worker and waiting at the gate (in hand, not in the sandbox: the long run holds the only place).
    await until(async () => expect((await db.dataSource.query('SELECT status FROM script_executions WHERE id = $1', [queued.body.id]))[0].status).toBe('running'), { timeoutMs: 10_000, what: 'the second run to be claimed' });
    const cancelled = await caller.post(`/executions/${queued.body.id}/cancel`).expect(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', cancelled_by: 'operator' });
    // The worker takes it out of the gate's line as soon as the cancellation arrives, while the long run still runs.
    await until(async () => expect(runs.cancel(queued.body.id)).toBe(false), { timeoutMs: 5_000, what: 'the cancelled run to leave the gate' });
    expect((await caller.get(`/executions/${long.body.id}`).expect(200)).body.status).toBe('running');
    const done = await caller.get(`/executions/${long.body.id}`, { wait: 30 }).expect(200);
    expect(done.body).toMatchObject({ status: 'completed', output: 'long' });
    await new Promise((r) => setTimeout(r, 500));
    expect((await caller.get(`/executions/${queued.body.id}`).expect(200)).body).toMatchObject({ status: 'cancelled', cancelled_by: 'operator', output: null, logs: [] });
  });

  it('a pending run cancelled before the worker claims it never starts, even when a sweep finds it', async () => {
    const script = await caller.createScript({ source: 'export default async () => "ran";' });
    // A pending row whose request was lost (old enough for the recovery sweep to take it).
    const [{ id }] = await db.dataSource.query(
      `INSERT INTO script_executions (tenant_id, script_id, status, trigger_type, input, started_at) VALUES ($1, $2, 'pending', 'api', '{}', now() - interval '1 hour') RETURNING id`,
      [caller.tenantId, script.id],
    );
    await caller.post(`/executions/${id}/cancel`).expect(200);
    await worker.get(ExecutionQueue).sweep();
    await new Promise((r) => setTimeout(r, 1000));
    expect((await caller.get(`/executions/${id}`).expect(200)).body).toMatchObject({ status: 'cancelled', cancelled_by: 'operator', output: null });
  });
});
