import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Permission } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, createTenantFixture, IsolatedSchema, TenantFixture } from '@provisio/persistence/testing';
import { configureApp, loadConfig, REPLACEMENT_CHARACTER as R, signDevToken } from '@provisio/platform';
import { TEST_JWT_SECRET, testEnv, uniqueTopicPrefix } from '@provisio/platform/testing';
import { AppModule } from '../app.module';
import { appConfigSchema } from '../config';

/** HTTP-triggered scripts: the script's required_permissions, and requests carrying text PostgreSQL refuses. */
describe('execution-worker: HTTP triggers', () => {
  let db: IsolatedSchema;
  let app: INestApplication;
  let tenant: TenantFixture;

  beforeAll(async () => {
    db = await createIsolatedSchema(migrations);
    tenant = await createTenantFixture(db.dataSource);
    const prefix = uniqueTopicPrefix();
    const config = loadConfig(appConfigSchema, testEnv({ DATABASE_SCHEMA: db.schema, KAFKA_TOPIC_PREFIX: prefix, REDIS_KEY_PREFIX: `test:${prefix}`, SANDBOX_POOL_SIZE: '1' }));
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
    app = moduleRef.createNestApplication();
    configureApp(app, {});
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  async function endpoint(path: string, source: string, requiredPermissions: string[] = []): Promise<string> {
    const [{ id }] = await db.dataSource.query(
      `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, http_path, http_methods, required_permissions, current_version)
       VALUES ($1, $2, $3, $4, 'http', 'active', $5, ARRAY['POST'], $6, 1) RETURNING id`,
      [tenant.tenantId, tenant.organizationId, `endpoint${path.replace(/\//g, '-')}`, source, path, requiredPermissions],
    );
    await db.dataSource.query(`INSERT INTO script_http_endpoints (script_id, tenant_id, http_path, http_methods) VALUES ($1, $2, $3, ARRAY['POST'])`, [id, tenant.tenantId, path]);
    return id;
  }
  const token = (permissions: string[]) => `Bearer ${signDevToken(TEST_JWT_SECRET, { sub: 'caller', tenant_id: tenant.tenantId, permissions })}`;
  const executionsOf = (scriptId: string) => db.dataSource.query('SELECT status, input, output FROM script_executions WHERE script_id = $1', [scriptId]);

  it("requires every one of the script's required_permissions, naming the one missing, and runs nothing without them", async () => {
    const scriptId = await endpoint('/guarded', `export default async () => ({ body: 'in' })`, [Permission.AuditRead, Permission.ConnectorRead]);
    const server = app.getHttpServer();
    const refused = await request(server).post('/http/guarded').set('Authorization', token([Permission.ScriptExecute, Permission.AuditRead])).expect(403);
    expect(refused.body).toMatchObject({ status: 403, code: 'forbidden' });
    expect(refused.body.message).toContain(Permission.ConnectorRead);
    const none = await request(server).post('/http/guarded').set('Authorization', token([Permission.ScriptExecute])).expect(403);
    expect(none.body.message).toContain(Permission.AuditRead);
    expect(await executionsOf(scriptId)).toEqual([]);
    const ok = await request(server).post('/http/guarded').set('Authorization', token([Permission.ScriptExecute, Permission.AuditRead, Permission.ConnectorRead])).expect(200);
    expect(ok.text).toBe('in');
    expect((await executionsOf(scriptId)).map((r: { status: string }) => r.status)).toEqual(['completed']);
  });

  it('records a request body holding NUL and lone surrogates (as U+FFFD) and answers the script', async () => {
    const scriptId = await endpoint('/echo', `export default async (ctx) => ({ body: { echoed: ctx.input.text } })`);
    const body = '{"text":"nul \\u0000 lone \\ud800 ok"}'; // valid JSON, as a client may send it
    const answer = await request(app.getHttpServer()).post('/http/echo').set('Authorization', token([Permission.ScriptExecute])).set('Content-Type', 'application/json').send(body).expect(200);
    expect(answer.body).toEqual({ echoed: `nul ${R} lone ${R} ok` }); // the script sees the request as it is recorded
    const [run] = await executionsOf(scriptId);
    expect(run).toMatchObject({ status: 'completed', input: { text: `nul ${R} lone ${R} ok` }, output: { body: { echoed: `nul ${R} lone ${R} ok` } } });
  });
});
