import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, IsolatedSchema } from '@provisio/persistence/testing';
import { configureApp, loadConfig } from '@provisio/platform';
import { testEnv, uniqueTopicPrefix } from '@provisio/platform/testing';
import { AppModule as ExecutionWorker } from '../../apps/execution-worker/src/app.module';
import { appConfigSchema as executionWorkerConfig } from '../../apps/execution-worker/src/config';
import { AppModule as ProvisioningQueue } from '../../apps/provisioning-queue/src/app.module';
import { appConfigSchema as provisioningQueueConfig } from '../../apps/provisioning-queue/src/config';
import { AppModule as Reconciler } from '../../apps/reconciler/src/app.module';
import { appConfigSchema as reconcilerConfig } from '../../apps/reconciler/src/config';
import { AppModule as Scheduler } from '../../apps/scheduler/src/app.module';
import { appConfigSchema as schedulerConfig } from '../../apps/scheduler/src/config';
import { AppModule as ScriptRegistry } from '../../apps/script-registry/src/app.module';
import { appConfigSchema as scriptRegistryConfig } from '../../apps/script-registry/src/config';

/** Every service boots against the real stack and serves its probes, metrics and OpenAPI document. */
const SERVICES = [
  { name: 'script-registry', module: ScriptRegistry, schema: scriptRegistryConfig, uses: ['database', 'kafka'] },
  { name: 'execution-worker', module: ExecutionWorker, schema: executionWorkerConfig, uses: ['database', 'redis', 'kafka'] },
  { name: 'scheduler', module: Scheduler, schema: schedulerConfig, uses: ['database', 'kafka'] },
  { name: 'provisioning-queue', module: ProvisioningQueue, schema: provisioningQueueConfig, uses: ['database', 'redis', 'kafka'] },
  { name: 'reconciler', module: Reconciler, schema: reconcilerConfig, uses: ['database', 'redis', 'kafka'] },
] as const;

describe.each(SERVICES)('$name', ({ name, module, schema, uses }) => {
  let db: IsolatedSchema;
  let app: INestApplication;

  beforeAll(async () => {
    db = await createIsolatedSchema(migrations);
    const config = loadConfig(schema, testEnv({ DATABASE_SCHEMA: db.schema, KAFKA_TOPIC_PREFIX: uniqueTopicPrefix() }));
    const moduleRef = await Test.createTestingModule({ imports: [module.forRoot(config as never)] }).compile();
    app = moduleRef.createNestApplication();
    configureApp(app, { docs: { title: name, description: name } });
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('is live', async () => {
    const response = await request(app.getHttpServer()).get('/health/live').expect(200);
    expect(response.body.status).toBe('ok');
  });

  it(`is ready only with its dependencies (${uses.join(', ')}) up, and says so`, async () => {
    const response = await request(app.getHttpServer()).get('/health/ready').expect(200);
    expect(Object.keys(response.body.details).sort()).toEqual(['lifecycle', ...uses].sort());
    for (const dependency of uses) expect(response.body.details[dependency].status).toBe('up');
  });

  it('serves Prometheus metrics labelled with the service', async () => {
    await request(app.getHttpServer()).get('/health/live');
    const response = await request(app.getHttpServer()).get('/metrics').expect(200);
    expect(response.headers['content-type']).toContain('text/plain');
    expect(response.text).toContain(`provisio_process_cpu_user_seconds_total{service="${name}"}`);
    expect(response.text).toMatch(/provisio_http_request_duration_seconds_count\{[^}]*route="\/health\/live"/);
  });

  it('serves its OpenAPI document, with bearer auth declared', async () => {
    const response = await request(app.getHttpServer()).get('/docs/openapi.json').expect(200);
    expect(response.body.openapi).toMatch(/^3\./);
    expect(response.body.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });
});
