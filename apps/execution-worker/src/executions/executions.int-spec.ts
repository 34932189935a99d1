import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Producer } from 'kafkajs';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createCloudEvent, EventType, Permission, Topic } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, createTenantFixture, IsolatedSchema, TenantFixture } from '@provisio/persistence/testing';
import { configureApp, loadConfig, signDevToken } from '@provisio/platform';
import { eventually, readTopic, TEST_JWT_SECRET, testEnv, testKafka, uniqueTopicPrefix } from '@provisio/platform/testing';
import { AppModule } from '../app.module';
import { appConfigSchema } from '../config';
import { ExecutionQueue } from './execution-queue.service';

/** The execution worker end to end: Kafka in, QuickJS runs, rows and events out, retries, DLQ, HTTP. */
describe('execution-worker: running scripts', () => {
  let db: IsolatedSchema;
  let apps: INestApplication[] = [];
  let producer: Producer;
  let prefix: string;
  let tenant: TenantFixture;
  let other: TenantFixture;
  const kafka = testKafka();

  async function startReplica(): Promise<INestApplication> {
    const config = loadConfig(
      appConfigSchema,
      testEnv({ DATABASE_SCHEMA: db.schema, KAFKA_TOPIC_PREFIX: prefix, REDIS_KEY_PREFIX: `test:${prefix}`, SCRIPT_EVENT_RETRY_BASE_DELAY_MS: '100', SANDBOX_POOL_SIZE: '1' }),
    );
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
    const app = moduleRef.createNestApplication();
    configureApp(app, {});
    await app.init();
    apps.push(app);
    return app;
  }

  async function createScript(ds: DataSource, t: TenantFixture, fields: { name: string; source: string; type?: string; event_types?: string[]; http_path?: string; http_methods?: string[]; limits?: Record<string, number> }): Promise<string> {
    const [{ id }] = await ds.query(
      `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, event_types, http_path, http_methods, resource_limits, current_version)
       VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8, COALESCE($9::jsonb, '{"max_execution_time_ms": 5000, "max_memory_bytes": 67108864, "max_concurrent_runs": 5, "max_api_calls_per_minute": 60, "max_output_size_bytes": 1048576}'::jsonb), 1)
       RETURNING id`,
      [t.tenantId, t.organizationId, fields.name, fields.source, fields.type ?? 'event', fields.event_types ?? null, fields.http_path ?? null, fields.http_methods ?? null, fields.limits ? JSON.stringify(fields.limits) : null],
    );
    for (const type of fields.event_types ?? []) await ds.query('INSERT INTO script_event_subscriptions (script_id, tenant_id, event_type) VALUES ($1, $2, $3)', [id, t.tenantId, type]);
    if (fields.http_path) await ds.query('INSERT INTO script_http_endpoints (script_id, tenant_id, http_path, http_methods) VALUES ($1, $2, $3, $4)', [id, t.tenantId, fields.http_path, fields.http_methods]);
    return id;
  }

  const publish = (event: ReturnType<typeof createCloudEvent>, topic: string = Topic.DomainEvents) => producer.send({ topic: prefix + topic, messages: [{ key: String(event.subject ?? event.id), value: JSON.stringify(event) }] });
  const executionsOf = (scriptId: string) => db.dataSource.query(`SELECT * FROM script_executions WHERE script_id = $1 ORDER BY started_at, retry_count`, [scriptId]);
  const token = (t: TenantFixture, permissions: string[]) => `Bearer ${signDevToken(TEST_JWT_SECRET, { sub: 'tester', tenant_id: t.tenantId, permissions })}`;

  beforeAll(async () => {
    db = await createIsolatedSchema(migrations);
    tenant = await createTenantFixture(db.dataSource);
    other = await createTenantFixture(db.dataSource);
    prefix = uniqueTopicPrefix();
    await startReplica();
    producer = kafka.producer();
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    for (const app of apps) await app.close();
    apps = [];
    await db?.drop();
  });

  it('runs subscribed scripts on a domain event and records the run and its finished event', async () => {
    const scriptId = await createScript(db.dataSource, tenant, {
      name: 'greet',
      event_types: ['user.created'],
      source: `export default async (ctx) => {
        console.log('creating', ctx.event.data.first_name);
        return { username: helpers.transliterate(ctx.event.data.first_name).toLowerCase(), type: ctx.event.event_type };
      }`,
    });
    const event = createCloudEvent({ source: '//hr', type: 'user.created', tenantid: tenant.tenantId, subject: 'u-7', data: { user_id: 'u-7', first_name: 'Zoë' } });
    await publish(event);
    const [run] = await eventually(async () => {
      const rows = await executionsOf(scriptId);
      return rows.length === 1 && rows[0].status === 'completed' ? rows : null;
    }, { what: 'event-triggered run completed' });
    expect(run).toMatchObject({ trigger_type: 'event', output: { username: 'zoe', type: 'user.created' }, error: null, script_version: 1, retry_count: 0 });
    expect(run.completed_at.getTime()).toBeGreaterThanOrEqual(run.started_at.getTime());
    expect(run.metrics).toMatchObject({ duration_ms: expect.any(Number), memory_used_bytes: expect.any(Number), api_call_count: 0 });
    expect(run.logs).toEqual([expect.objectContaining({ level: 'log', message: 'creating Zoë' })]);

    const finished = await readTopic(kafka, prefix + Topic.ScriptExecutions, (m) => m.some((x) => JSON.parse(x.value!).data.execution_id === run.id));
    const announced = finished.map((m) => JSON.parse(m.value!)).find((e) => e.data.execution_id === run.id);
    expect(announced).toMatchObject({ type: EventType.ScriptExecutionFinished, tenantid: tenant.tenantId, data: { script_id: scriptId, status: 'completed', trigger_type: 'event' } });
  });

  it('retries a failing event-triggered run with backoff, 3 attempts, then dead-letters it (row and .dlq topic)', async () => {
    const scriptId = await createScript(db.dataSource, tenant, { name: 'always-fails', event_types: ['user.deleted'], source: `export default async () => { throw new Error('target says no'); }` });
    const event = createCloudEvent({ source: '//hr', type: 'user.deleted', tenantid: tenant.tenantId, subject: 'u-9', data: { user_id: 'u-9' } });
    await publish(event);
    const letter = await eventually(async () => (await db.dataSource.query('SELECT * FROM script_event_dead_letters WHERE script_id = $1', [scriptId]))[0], { what: 'dead letter written' });
    const runs = await executionsOf(scriptId);
    expect(runs.map((r: { status: string; retry_count: number }) => [r.status, r.retry_count])).toEqual([['failed', 0], ['failed', 1], ['failed', 2]]);
    expect(runs[1].parent_execution_id).toBe(runs[0].id);
    expect(runs[2].started_at.getTime() - runs[1].completed_at.getTime()).toBeGreaterThanOrEqual(150); // backoff doubled
    expect(letter).toMatchObject({ tenant_id: tenant.tenantId, event_type: 'user.deleted', execution_id: runs[2].id, retry_count: 2 });
    expect(letter.error).toContain('target says no');
    expect(letter.event_data).toMatchObject({ event_id: event.id, data: { user_id: 'u-9' } });

    const dlq = await readTopic(kafka, prefix + Topic.ScriptEventsDlq, (m) => m.some((x) => JSON.parse(x.value!).data.dead_letter_id === letter.id));
    const published = dlq.map((m) => JSON.parse(m.value!)).filter((e) => e.data.script_id === scriptId);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ type: EventType.ScriptEventDeadLettered, data: { event_type: 'user.deleted', attempts: 3 } });

    // The API lists it for its tenant only; retry starts a new run of the same event; discard removes it.
    const server = apps[0].getHttpServer();
    const list = await request(server).get('/dead-letters').query({ script_id: scriptId }).set('Authorization', token(tenant, [Permission.ScriptExecutionRead])).expect(200);
    expect(list.body).toMatchObject({ total: 1, limit: 50, offset: 0, items: [{ id: letter.id }] });
    await request(server).get(`/dead-letters/${letter.id}`).set('Authorization', token(other, [Permission.ScriptExecutionRead])).expect(404);
    await request(server).post(`/dead-letters/${letter.id}/retry`).set('Authorization', token(tenant, [Permission.ScriptExecutionRead])).expect(403);
    await request(server).post(`/dead-letters/${letter.id}/retry`).expect(401);
    const retried = await request(server).post(`/dead-letters/${letter.id}/retry`).set('Authorization', token(tenant, [Permission.ScriptExecutionManage])).expect(202);
    await eventually(async () => (await db.dataSource.query('SELECT status FROM script_executions WHERE id = $1', [retried.body.execution_id]))[0]?.status === 'failed', { what: 'retried run recorded' });
    expect((await db.dataSource.query('SELECT retry_count, last_retry_at FROM script_event_dead_letters WHERE id = $1', [letter.id]))[0]).toMatchObject({ retry_count: 3, last_retry_at: expect.any(Date) });
    await request(server).delete(`/dead-letters/${letter.id}`).set('Authorization', token(tenant, [Permission.ScriptExecutionManage])).expect(204);
    await request(server).delete(`/dead-letters/${letter.id}`).set('Authorization', token(tenant, [Permission.ScriptExecutionManage])).expect(404);
    await request(server).get('/dead-letters').query({ limit: 1000 }).set('Authorization', token(tenant, [Permission.ScriptExecutionRead])).expect(400).expect((r) => expect(r.body.field).toBe('limit'));
  });

  it('runs execution requests (manual, api, oneoff, cron) and never another tenant’s script', async () => {
    const scriptId = await createScript(db.dataSource, tenant, { name: 'on-demand', type: 'oneoff', source: `export default async (ctx) => ({ doubled: ctx.input.n * 2, trigger: ctx.trigger })` });
    for (const trigger of ['manual', 'api', 'oneoff', 'cron'] as const) {
      await publish(createCloudEvent({ source: 'test', type: EventType.ScriptExecutionRequested, tenantid: tenant.tenantId, data: { script_id: scriptId, trigger_type: trigger, input: { n: 21 }, trigger_data: {} } }), Topic.ScriptExecutionRequests);
    }
    const foreign = createCloudEvent({ source: 'test', type: EventType.ScriptExecutionRequested, tenantid: other.tenantId, data: { script_id: scriptId, trigger_type: 'api', input: {}, trigger_data: {} } });
    await publish(foreign, Topic.ScriptExecutionRequests);
    const runs = await eventually(async () => {
      const rows = await executionsOf(scriptId);
      return rows.length === 4 && rows.every((r: { status: string }) => r.status === 'completed') ? rows : null;
    }, { what: 'four requested runs completed' });
    expect(runs.map((r: { trigger_type: string }) => r.trigger_type).sort()).toEqual(['api', 'cron', 'manual', 'oneoff']);
    expect(runs.every((r: { output: { doubled: number } }) => r.output.doubled === 42)).toBe(true);
    const dlq = await readTopic(kafka, `${prefix}${Topic.ScriptExecutionRequests}.dlq`, (m) => m.length >= 1);
    expect(dlq[0].headers['dlq-reason']).toBe('handler-rejected');
  });

  it('serves HTTP-triggered scripts on the tenant’s path with their status, headers and body', async () => {
    await createScript(db.dataSource, tenant, {
      name: 'hello-endpoint',
      type: 'http',
      http_path: '/hello/world',
      http_methods: ['POST'],
      source: `export default async (ctx) => ({ status: 201, headers: { 'x-greeting': 'hi' }, body: { echo: ctx.input.name, method: ctx.request.method, auth: ctx.request.headers.authorization ?? null } })`,
    });
    await createScript(db.dataSource, tenant, { name: 'broken-endpoint', type: 'http', http_path: '/broken', http_methods: ['GET'], source: `export default async () => { throw new Error('kaput'); }` });
    const server = apps[0].getHttpServer();
    const ok = await request(server).post('/http/hello/world').send({ name: 'Ada' }).set('Authorization', token(tenant, [Permission.ScriptExecute])).expect(201);
    expect(ok.headers['x-greeting']).toBe('hi');
    expect(ok.headers['x-provisio-execution-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(ok.body).toEqual({ echo: 'Ada', method: 'POST', auth: null }); // the caller's token never reaches the script

    await request(server).get('/http/hello/world').set('Authorization', token(tenant, [Permission.ScriptExecute])).expect(405);
    await request(server).post('/http/hello/world').set('Authorization', token(other, [Permission.ScriptExecute])).expect(404);
    await request(server).post('/http/hello/world').set('Authorization', token(tenant, [Permission.ScriptRead])).expect(403);
    await request(server).post('/http/hello/world').expect(401);
    const failed = await request(server).get('/http/broken').set('Authorization', token(tenant, [Permission.ScriptExecute])).expect(502);
    expect(failed.body).toMatchObject({ status: 502, code: 'script_failed', details: { status: 'failed' } });
    expect(failed.body.message).toContain('kaput');

    // The runs show in the service's metrics, with the sandbox pool's state.
    const metrics = (await request(server).get('/metrics').expect(200)).text;
    const series = (name: string, labels: string) => Number(new RegExp(`^${name}\\{[^}]*${labels}[^}]*\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
    expect(series('provisio_script_executions_total', 'trigger="http",status="completed"')).toBe(1);
    expect(series('provisio_script_executions_total', 'trigger="http",status="failed"')).toBe(1);
    expect(series('provisio_script_run_duration_seconds_count', 'trigger="http",status="completed"')).toBe(1);
    expect(series('provisio_script_run_duration_seconds_count', 'trigger="event",status="completed"')).toBeGreaterThanOrEqual(1);
    expect(series('provisio_sandbox_workers_ready', 'service="execution-worker"')).toBe(1);
    expect(series('provisio_sandbox_runs_queued', 'service="execution-worker"')).toBe(0);
    expect(series('provisio_sandbox_workers_replaced_total', 'service="execution-worker"')).toBe(0);
  });

  it('holds max_concurrent_runs across replicas', async () => {
    await startReplica(); // a second worker in the same consumer group and queue
    const scriptId = await createScript(db.dataSource, tenant, {
      name: 'one-at-a-time',
      event_types: ['group.synced'],
      source: `export default async () => { const end = Date.now() + 150; while (Date.now() < end) {} return 'done'; }`,
      limits: { max_execution_time_ms: 5000, max_memory_bytes: 67108864, max_concurrent_runs: 1, max_api_calls_per_minute: 60, max_output_size_bytes: 1048576 },
    });
    for (let i = 0; i < 6; i++) await publish(createCloudEvent({ source: 't', type: 'group.synced', tenantid: tenant.tenantId, subject: `g-${i}`, data: { n: i } }));
    const runs = await eventually(async () => {
      const rows = await executionsOf(scriptId);
      return rows.length === 6 && rows.every((r: { status: string }) => r.status === 'completed') ? rows : null;
    }, { what: 'six runs completed', timeoutMs: 60_000 });
    const spans = runs.map((r: { started_at: Date; completed_at: Date }) => [r.started_at.getTime(), r.completed_at.getTime()]).sort((a: number[], b: number[]) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
  });

  it('keeps runs that wait their turn behind a slow script from being swept up as abandoned', async () => {
    // One run at a time, 200 ms each, time limit 500 ms: the sweep takes a row running for over 5.5 s
    // for one whose worker died. 45 events take 9 s to run: at 7 s about ten still wait their turn,
    // consumed (and their rows created `running`) in the first second.
    const scriptId = await createScript(db.dataSource, tenant, {
      name: 'slow-single',
      event_types: ['group.audited'],
      source: `export default async () => { const end = Date.now() + 200; while (Date.now() < end) {} return 'audited'; }`,
      limits: { max_execution_time_ms: 500, max_memory_bytes: 67108864, max_concurrent_runs: 1, max_api_calls_per_minute: 60, max_output_size_bytes: 1048576 },
    });
    const events = Array.from({ length: 45 }, (_, i) => createCloudEvent({ source: 't', type: 'group.audited', tenantid: tenant.tenantId, subject: `a-${i}`, data: { n: i } }));
    await producer.send({ topic: prefix + Topic.DomainEvents, messages: events.map((e) => ({ key: String(e.subject), value: JSON.stringify(e) })) });
    const publishedAt = Date.now();
    await eventually(async () => {
      const [{ created }] = await db.dataSource.query(`SELECT count(*)::int AS created FROM script_executions WHERE script_id = $1`, [scriptId]);
      return created === 45;
    }, { what: 'all 45 executions created', timeoutMs: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, publishedAt + 7_000 - Date.now())));
    const [{ waiting }] = await db.dataSource.query(`SELECT count(*)::int AS waiting FROM script_executions WHERE script_id = $1 AND status = 'running'`, [scriptId]);
    expect(waiting).toBeGreaterThan(3);
    expect(await apps[0].get(ExecutionQueue).sweep()).toBe(0);
    const runs = await eventually(async () => {
      const rows = await executionsOf(scriptId);
      return rows.length === 45 && rows.every((r: { status: string }) => r.status === 'completed') ? rows : null;
    }, { what: '45 runs completed', timeoutMs: 60_000 });
    expect(runs.filter((r: { retry_count: number }) => r.retry_count > 0)).toHaveLength(0);
  });
});
