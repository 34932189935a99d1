import { Test, TestingModule } from '@nestjs/testing';
import { randomUUID } from 'node:crypto';
import { EventType } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { TenantDataModule, TenantDatabase } from '@provisio/persistence';
import { createIsolatedSchema, createTenantFixture, IsolatedSchema, TenantFixture } from '@provisio/persistence/testing';
import { loadConfig, OutboxService, PlatformModule } from '@provisio/platform';
import { testEnv, uniqueTopicPrefix } from '@provisio/platform/testing';
import { ExecutionRecords, ScriptExecution } from '@provisio/script-execution';
import { appConfigSchema } from '../config';
import { HOOK_EVENT_SOURCE, hookScriptExecution } from './hook-script-execution';

/**
 * The provisioning queue runs a hook script in its own process through the shared lib, against the real
 * PostgreSQL and Redis, and the run is recorded like every other: one `script_executions` row naming the
 * binding, the connector and the script version; announced through the outbox when HOOK_RUN_EVENTS asks
 * (this suite's module does), not by default (the last test).
 */
describe('provisioning-queue: a hook script run through @provisio/script-execution', () => {
  let db: IsolatedSchema;
  let moduleRef: TestingModule;
  let tenant: TenantFixture;

  beforeAll(async () => {
    db = await createIsolatedSchema(migrations);
    tenant = await createTenantFixture(db.dataSource);
    const config = loadConfig(appConfigSchema, testEnv({ DATABASE_SCHEMA: db.schema, KAFKA_TOPIC_PREFIX: uniqueTopicPrefix(), REDIS_KEY_PREFIX: `test:${randomUUID().slice(0, 8)}`, CONNECTOR_CREDENTIALS_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}` }));
    moduleRef = await Test.createTestingModule({
      imports: [PlatformModule.forRoot({ service: 'provisioning-queue', config, database: true, redis: true }), TenantDataModule.forRoot({ outbox: OutboxService }), hookScriptExecution({ poolSize: 1, announceRuns: true })],
    }).compile();
    await moduleRef.init();
  });

  afterAll(async () => {
    await moduleRef?.close();
    await db?.drop();
  });

  it("runs a before hook with the operation's context and records it with binding_id, connector_id and script_version", async () => {
    const [{ id: connectorId }] = await db.dataSource.query(`INSERT INTO connectors (tenant_id, name, type) VALUES ($1, 'hr-scim', 'scim') RETURNING id`, [tenant.tenantId]);
    const [{ id: scriptId }] = await db.dataSource.query(
      `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, current_version)
       VALUES ($1, $2, 'username', $3, 'embedded', 'active', 3) RETURNING id`,
      [tenant.tenantId, tenant.organizationId, `export default async ({ operation, identity, connector }) => {
         console.log('naming', identity.first_name);
         return { ...operation.attributes, userName: helpers.username({ first: identity.first_name, last: identity.last_name }), connector: connector.name };
       }`],
    );
    const [{ id: bindingId }] = await db.dataSource.query(
      `INSERT INTO hook_bindings (tenant_id, script_id, connector_id, hook_phase, operation_type) VALUES ($1, $2, $3, 'before', 'create') RETURNING id`,
      [tenant.tenantId, scriptId, connectorId],
    );
    const scripts = moduleRef.get(ExecutionRecords);
    const script = (await scripts.loadScript(moduleRef.get(TenantDatabase).read(tenant.tenantId), scriptId))!;
    const context = { operation: { type: 'create', attributes: { mail: 'zoe@example.com' } }, identity: { first_name: 'Zoë', last_name: 'Müller' }, connector: { id: connectorId, name: 'hr-scim' } };

    const run = await moduleRef.get(ScriptExecution).run(script, context, { trigger: 'hook', bindingId, connectorId, input: context.operation.attributes });

    expect(run.result).toMatchObject({ status: 'completed', output: { mail: 'zoe@example.com', userName: 'zoe.muller', connector: 'hr-scim' } });
    const [row] = await db.dataSource.query('SELECT * FROM script_executions WHERE id = $1', [run.executionId]);
    expect(row).toMatchObject({
      tenant_id: tenant.tenantId,
      script_id: scriptId,
      status: 'completed',
      trigger_type: 'hook',
      binding_id: bindingId,
      connector_id: connectorId,
      script_version: 3,
      dry_run: false,
      input: { mail: 'zoe@example.com' },
      output: { mail: 'zoe@example.com', userName: 'zoe.muller', connector: 'hr-scim' },
    });
    expect(row.logs).toEqual([expect.objectContaining({ level: 'log', message: 'naming Zoë' })]);
    expect(row.completed_at.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
    const events = await db.dataSource.query(`SELECT event_type, payload FROM outbox WHERE tenant_id = $1 AND payload->>'subject' = $2`, [tenant.tenantId, run.executionId]);
    expect(events).toEqual([
      {
        event_type: EventType.ScriptExecutionFinished,
        payload: expect.objectContaining({ source: HOOK_EVENT_SOURCE, data: expect.objectContaining({ execution_id: run.executionId, script_id: scriptId, status: 'completed', trigger_type: 'hook' }) }),
      },
    ]);
  });

  it('records a hook that throws as failed, with its error, and one that outruns its limit as timeout', async () => {
    const [{ id: connectorId }] = await db.dataSource.query(`INSERT INTO connectors (tenant_id, name, type) VALUES ($1, 'ldap', 'ldap') RETURNING id`, [tenant.tenantId]);
    const make = async (name: string, source: string) =>
      (await db.dataSource.query(`INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, current_version, resource_limits) VALUES ($1, $2, $3, $4, 'embedded', 'active', 1, '{"max_execution_time_ms": 300}') RETURNING id`, [tenant.tenantId, tenant.organizationId, name, source]))[0].id as string;
    const records = moduleRef.get(ExecutionRecords);
    const execution = moduleRef.get(ScriptExecution);
    const read = moduleRef.get(TenantDatabase).read(tenant.tenantId);
    const outcomes: Record<string, unknown>[] = [];
    for (const [name, source] of [['throws', 'export default async () => { throw new Error("no manager for this user") }'], ['loops', 'export default async () => { for (;;) {} }']]) {
      const scriptId = await make(name, source);
      const run = await execution.run((await records.loadScript(read, scriptId))!, { operation: { type: 'delete' } }, { trigger: 'hook', connectorId });
      const [row] = await db.dataSource.query('SELECT status, error, binding_id, connector_id, script_version FROM script_executions WHERE id = $1', [run.executionId]);
      outcomes.push(row);
    }
    expect(outcomes).toEqual([
      { status: 'failed', error: expect.stringContaining('no manager for this user'), binding_id: null, connector_id: connectorId, script_version: 1 },
      { status: 'timeout', error: expect.stringMatching(/max_execution_time_ms/), binding_id: null, connector_id: connectorId, script_version: 1 },
    ]);
  });

  it('records hook runs that end together, and a row PostgreSQL refuses fails only its own run (the others are recorded and announced)', async () => {
    const [{ id: connectorId }] = await db.dataSource.query(`INSERT INTO connectors (tenant_id, name, type) VALUES ($1, 'batch-sql', 'sql') RETURNING id`, [tenant.tenantId]);
    const [{ id: scriptId }] = await db.dataSource.query(
      `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, current_version, resource_limits)
       VALUES ($1, $2, 'echo', 'export default async (ctx) => ({ n: ctx.n })', 'embedded', 'active', 1, '{"max_concurrent_runs": 100}') RETURNING id`,
      [tenant.tenantId, tenant.organizationId],
    );
    const [{ id: bindingId }] = await db.dataSource.query(
      `INSERT INTO hook_bindings (tenant_id, script_id, connector_id, hook_phase, operation_type) VALUES ($1, $2, $3, 'after', 'create') RETURNING id`,
      [tenant.tenantId, scriptId, connectorId],
    );
    const execution = moduleRef.get(ScriptExecution);
    const script = (await moduleRef.get(ExecutionRecords).loadScript(moduleRef.get(TenantDatabase).read(tenant.tenantId), scriptId))!;
    // A binding id no row has: its row breaks the foreign key (class 23), as a binding deleted while its hook ran would.
    const gone = randomUUID();
    const runs = await Promise.allSettled(
      Array.from({ length: 12 }, (_, n) => execution.run(script, { n }, { trigger: 'hook', bindingId: n === 5 ? gone : bindingId, connectorId, input: { n } })),
    );

    expect(runs.map((r) => r.status)).toEqual(Array.from({ length: 12 }, (_, n) => (n === 5 ? 'rejected' : 'fulfilled')));
    expect(String((runs[5] as PromiseRejectedResult).reason)).toMatch(/foreign key/);
    const rows = await db.dataSource.query(`SELECT (input->>'n')::int AS n, status, output FROM script_executions WHERE script_id = $1 ORDER BY 1`, [scriptId]);
    expect(rows).toEqual(Array.from({ length: 12 }, (_, n) => n).filter((n) => n !== 5).map((n) => ({ n, status: 'completed', output: { n } })));
    const announced = await db.dataSource.query(`SELECT count(*)::int AS n FROM outbox WHERE tenant_id = $1 AND payload->'data'->>'script_id' = $2`, [tenant.tenantId, scriptId]);
    expect(announced).toEqual([{ n: 11 }]);
  });

  it('records hook runs whose output and logs hold NUL, lone surrogates and a 200 KB string beside ordinary ones, all completed', async () => {
    const [{ id: scriptId }] = await db.dataSource.query(
      `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, current_version, resource_limits)
       VALUES ($1, $2, 'hostile', $3, 'embedded', 'active', 1, '{"max_concurrent_runs": 100}') RETURNING id`,
      [
        tenant.tenantId,
        tenant.organizationId,
        `export default async (ctx) => { if (!ctx.hostile) return { plain: ctx.n }; console.log('nul \\u0000 and \\ud800'); return { nul: 'a\\u0000b', lone: '\\udc00', big: 'x'.repeat(200000) }; }`,
      ],
    );
    const execution = moduleRef.get(ScriptExecution);
    const script = (await moduleRef.get(ExecutionRecords).loadScript(moduleRef.get(TenantDatabase).read(tenant.tenantId), scriptId))!;
    const runs = await Promise.all(Array.from({ length: 6 }, (_, n) => execution.run(script, { n, hostile: n % 2 === 0 }, { trigger: 'hook', input: { n } })));

    expect(runs.map((r) => r.result.status)).toEqual(Array(6).fill('completed'));
    const rows = await db.dataSource.query(
      `SELECT (input->>'n')::int AS n, status, output->>'nul' AS nul, output->>'lone' AS lone, length(output->>'big') AS big, output->>'plain' AS plain FROM script_executions WHERE script_id = $1 ORDER BY 1`,
      [scriptId],
    );
    expect(rows).toEqual(
      Array.from({ length: 6 }, (_, n) =>
        n % 2 === 0 ? { n, status: 'completed', nul: 'a\ufffdb', lone: '\ufffd', big: 200_000, plain: null } : { n, status: 'completed', nul: null, lone: null, big: null, plain: String(n) },
      ),
    );
  });

  it('cancels by execution id a hook waiting its turn (it never runs) and a running one (stopped), each recorded cancelled', async () => {
    const [{ id: scriptId }] = await db.dataSource.query(
      `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, current_version, resource_limits)
       VALUES ($1, $2, 'slow', 'export default async () => { for (;;) {} }', 'embedded', 'active', 1, '{"max_execution_time_ms": 20000, "max_concurrent_runs": 1}') RETURNING id`,
      [tenant.tenantId, tenant.organizationId],
    );
    const execution = moduleRef.get(ScriptExecution);
    const script = (await moduleRef.get(ExecutionRecords).loadScript(moduleRef.get(TenantDatabase).read(tenant.tenantId), scriptId))!;
    const [running, waiting] = [randomUUID(), randomUUID()];
    const first = execution.run(script, {}, { trigger: 'hook', executionId: running });
    const second = execution.run(script, {}, { trigger: 'hook', executionId: waiting }); // behind the first: max_concurrent_runs 1
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    expect(execution.cancel(waiting)).toBe(true);
    expect(execution.cancel(running)).toBe(true);
    expect(execution.cancel(randomUUID())).toBe(false);
    const [a, b] = await Promise.all([first, second]);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect([a.result.status, b.result.status]).toEqual(['cancelled', 'cancelled']);
    const rows = await db.dataSource.query('SELECT id, status, error FROM script_executions WHERE id = ANY($1::uuid[]) ORDER BY error', [[running, waiting]]);
    expect(rows).toEqual([
      { id: waiting, status: 'cancelled', error: 'cancelled before it started' },
      { id: running, status: 'cancelled', error: expect.stringMatching(/cancelled while it ran/) },
    ]);
  });

  it('by default (HOOK_RUN_EVENTS unset) records hook runs, skipped ones too, without announcing them', async () => {
    const config = loadConfig(appConfigSchema, testEnv({ DATABASE_SCHEMA: db.schema, KAFKA_TOPIC_PREFIX: uniqueTopicPrefix(), REDIS_KEY_PREFIX: `test:${randomUUID().slice(0, 8)}` }));
    expect(config.HOOK_RUN_EVENTS).toBe(false);
    const quiet = await Test.createTestingModule({
      imports: [
        PlatformModule.forRoot({ service: 'provisioning-queue', config, database: true, redis: true }),
        TenantDataModule.forRoot({ outbox: OutboxService }),
        hookScriptExecution({ poolSize: 1, announceRuns: config.HOOK_RUN_EVENTS }),
      ],
    }).compile();
    await quiet.init();
    try {
      const [{ id: scriptId }] = await db.dataSource.query(
        `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, current_version)
         VALUES ($1, $2, 'quiet', 'export default async () => ({ ok: true })', 'embedded', 'active', 2) RETURNING id`,
        [tenant.tenantId, tenant.organizationId],
      );
      const execution = quiet.get(ScriptExecution);
      const script = (await quiet.get(ExecutionRecords).loadScript(quiet.get(TenantDatabase).read(tenant.tenantId), scriptId))!;
      const run = await execution.run(script, {}, { trigger: 'hook', input: {} });
      const skipped = await execution.recordSkipped(tenant.tenantId, [{ script, reason: 'not run: the call failed', trigger: 'hook', input: {} }]);

      expect(run.result.status).toBe('completed');
      expect(skipped).toBe(1);
      const rows = await db.dataSource.query('SELECT status FROM script_executions WHERE script_id = $1 ORDER BY status', [scriptId]);
      expect(rows).toEqual([{ status: 'completed' }, { status: 'skipped' }]);
      const announced = await db.dataSource.query(`SELECT count(*)::int AS n FROM outbox WHERE tenant_id = $1 AND payload->'data'->>'script_id' = $2`, [tenant.tenantId, scriptId]);
      expect(announced).toEqual([{ n: 0 }]);
    } finally {
      await quiet.close();
    }
  });
});
