/**
 * Every run's parameters checked (event, HTTP and scheduled runs too), end to end: the real registry (its
 * parameters API seals secret defaults) and the real execution worker on one schema, topic prefix and key
 * ring, over the real Kafka, PostgreSQL and Redis.
 */
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Producer } from 'kafkajs';
import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { createCloudEvent, Permission, Topic } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, IsolatedSchema } from '@provisio/persistence/testing';
import { configureApp, loadConfig } from '@provisio/platform';
import { eventually, testEnv, testKafka, uniqueTopicPrefix } from '@provisio/platform/testing';
import { Caller } from '../../../script-registry/src/common/testing/registry-app';
import { AppModule as RegistryModule } from '../../../script-registry/src/app.module';
import { appConfigSchema as registryConfig } from '../../../script-registry/src/config';
import { AppModule as WorkerModule } from '../app.module';
import { ExecutionQueue } from '../executions/execution-queue.service';
import { appConfigSchema as workerConfig } from '../config';

/** Retries `assertion` until it passes; then runs it once more so a failure says why. */
async function until(assertion: () => Promise<void>, options: { timeoutMs: number; what: string }): Promise<void> {
  await eventually(async () => assertion().then(() => true, () => false), options).catch(() => undefined);
  await assertion();
}

interface Row {
  status: string;
  error: string | null;
  output: unknown;
  logs: { message: string }[];
  input: unknown;
  retry_count: number;
}

describe('execution-worker: every run checks its parameters', () => {
  let db: IsolatedSchema;
  let registry: INestApplication;
  let worker: INestApplication;
  let caller: Caller;
  let producer: Producer;
  let prefix: string;
  const kafka = testKafka();

  beforeAll(async () => {
    db = await createIsolatedSchema(migrations);
    prefix = uniqueTopicPrefix();
    const shared = { DATABASE_SCHEMA: db.schema, KAFKA_TOPIC_PREFIX: prefix, DATABASE_POOL_SIZE: '5', SCRIPT_SECRETS_KEYS: `test:${randomBytes(32).toString('base64')}` };
    const boot = async (module: { forRoot(config: never): never }, config: Parameters<typeof loadConfig>[0], env: Record<string, string>) => {
      const moduleRef = await Test.createTestingModule({ imports: [module.forRoot(loadConfig(config, testEnv({ ...shared, ...env })) as never)] }).compile();
      const app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
      configureApp(app, {});
      await app.init();
      return app;
    };
    worker = await boot(WorkerModule as never, workerConfig, { REDIS_KEY_PREFIX: `test:${prefix}`, SANDBOX_POOL_SIZE: '1', SCRIPT_EVENT_RETRY_BASE_DELAY_MS: '100', EXECUTION_SWEEP_INTERVAL_MS: '60000' });
    registry = await boot(RegistryModule as never, registryConfig, {});
    caller = new Caller(registry, randomUUID(), 'author', [Permission.ScriptWrite, Permission.ScriptRead, Permission.ScriptExecute, Permission.ScriptExecutionRead, Permission.ScriptManage]);
    producer = kafka.producer();
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await registry?.close();
    await worker?.close();
    await db?.drop();
  });

  const rowsOf = (scriptId: string): Promise<Row[]> =>
    db.dataSource.query('SELECT status, error, output, logs, input, retry_count FROM script_executions WHERE script_id = $1 ORDER BY started_at, retry_count', [scriptId]);

  async function activeScript(fields: Record<string, unknown>, parameters: unknown[]): Promise<string> {
    const script = await caller.createScript(fields);
    await caller.put(`/scripts/${script.id}/parameters`, { parameters }).expect(200);
    await caller.post(`/scripts/${script.id}/status`, { status: 'active' }).expect((r) => expect([200, 201]).toContain(r.status));
    return script.id as string;
  }

  const publishUserCreated = (data: Record<string, unknown>) => {
    const event = createCloudEvent({ source: '//hr', type: 'user.created', tenantid: caller.tenantId, subject: String(data.user_id), data });
    return producer.send({ topic: prefix + Topic.DomainEvents, messages: [{ key: event.subject, value: JSON.stringify(event) }] });
  };

  it('an event run whose parameters do not fit fails naming the parameter, never reaching the sandbox, and is dead-lettered', async () => {
    const scriptId = await activeScript(
      { type: 'event', event_types: ['user.created'], source: 'export default async (ctx) => { console.log("ran"); return ctx.params.webhook; };' },
      [{ name: 'webhook', type: 'url', required: true }],
    );
    await publishUserCreated({ user_id: 'u-1' });
    await until(async () => {
      const rows = await rowsOf(scriptId);
      expect(rows).toHaveLength(3); // its three attempts, all refused
      for (const row of rows) {
        expect(row).toMatchObject({ status: 'failed', output: null, logs: [] });
        expect(row.error).toContain('input.webhook is required');
      }
      const letters = await db.dataSource.query('SELECT error FROM script_event_dead_letters WHERE script_id = $1', [scriptId]);
      expect(letters).toEqual([{ error: expect.stringContaining('input.webhook') }]);
    }, { timeoutMs: 30_000, what: 'the refused attempts and their dead letter' });
  });

  it('an event run gets its checked parameters as ctx.params, secrets opened only in the sandbox and masked in its record', async () => {
    const scriptId = await activeScript(
      {
        type: 'event',
        event_types: ['user.created'],
        source: `export default async (ctx) => {
          console.log('token is', ctx.params.token);
          return { batch: ctx.params.batch, token: ctx.params.token, user: ctx.event.data.user_id, input_user: ctx.input.user_id };
        };`,
      },
      [
        { name: 'batch', type: 'integer', default_value: 50, validation_rules: { min: 1, max: 100 } },
        { name: 'token', type: 'password', default_value: 'tok-very-secret-42' },
      ],
    );
    const [stored] = await db.dataSource.query('SELECT default_value::text AS value FROM script_parameters WHERE script_id = $1 AND name = $2', [scriptId, 'token']);
    expect(stored.value).not.toContain('tok-very-secret-42');
    await publishUserCreated({ user_id: 'u-2' });
    await until(async () => expect((await rowsOf(scriptId)).map((r) => r.status)).toEqual(['completed']), { timeoutMs: 20_000, what: 'the event run' });
    const [row] = await rowsOf(scriptId);
    // The script saw the secret (it returned it); the record holds it masked, in the output and the log.
    expect(row.output).toEqual({ batch: 50, token: '********', user: 'u-2', input_user: 'u-2' });
    expect(row.logs.map((l) => l.message)).toEqual(['token is ********']);
    const [text] = await db.dataSource.query('SELECT (output::text || logs::text || input::text) AS all FROM script_executions WHERE script_id = $1', [scriptId]);
    expect(text.all).not.toContain('tok-very-secret-42');
  });

  it('an HTTP run whose parameters do not fit fails naming the parameter (502, no sandbox run); one that fits runs', async () => {
    const path = `/hook-${randomUUID().slice(0, 8)}`;
    const scriptId = await activeScript(
      { type: 'http', http_path: path, http_methods: ['POST'], source: 'export default async (ctx) => { console.log("ran"); return { body: { region: ctx.params.region, asked: ctx.input.q } }; };' },
      [{ name: 'region', type: 'select', required: true, options: [{ value: 'eu', label: 'EU' }, { value: 'us', label: 'US' }] }],
    );
    const call = () => request(worker.getHttpServer()).post(`/http${path}`).set('Authorization', `Bearer ${caller.token}`).send({ q: 'x' });
    const refused = await call().expect(502);
    expect(refused.body).toMatchObject({ code: 'script_failed', details: { status: 'failed' } });
    expect(refused.body.message).toContain('input.region is required');
    expect(await rowsOf(scriptId)).toEqual([expect.objectContaining({ status: 'failed', logs: [], output: null, error: expect.stringContaining('input.region') })]);
    await caller
      .put(`/scripts/${scriptId}/parameters`, { parameters: [{ name: 'region', type: 'select', required: true, default_value: 'eu', options: [{ value: 'eu', label: 'EU' }, { value: 'us', label: 'US' }] }] })
      .expect(200);
    // The worker reuses a script's definitions for 2 s (RunInputs): the change applies to runs after that.
    await new Promise((r) => setTimeout(r, 2_100));
    expect((await call().expect(200)).body).toEqual({ region: 'eu', asked: 'x' });
  });

  it('a scheduled run whose input no longer fits fails naming the parameter', async () => {
    const scriptId = await activeScript({ type: 'oneoff', source: 'export default async (ctx) => { console.log("ran"); return ctx.params.n; };' }, [
      { name: 'n', type: 'integer', default_value: 1, validation_rules: { max: 10 } },
    ]);
    const [{ id }] = await db.dataSource.query(`INSERT INTO script_executions (tenant_id, script_id, status, trigger_type, input) VALUES ($1, $2, 'pending', 'cron', '{"n": 11}') RETURNING id`, [
      caller.tenantId,
      scriptId,
    ]);
    await worker.get(ExecutionQueue).enqueue([{ id, trigger_type: 'cron' }]);
    await until(async () => expect((await rowsOf(scriptId)).find((r) => r.status === 'failed')).toMatchObject({ logs: [], error: expect.stringContaining('input.n must be <= 10') }), {
      timeoutMs: 15_000,
      what: 'the scheduled run to fail',
    });
  });
});
