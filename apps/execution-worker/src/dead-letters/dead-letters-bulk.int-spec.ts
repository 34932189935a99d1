import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Permission } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, createTenantFixture, IsolatedSchema, TenantFixture } from '@provisio/persistence/testing';
import { configureApp, loadConfig, signDevToken } from '@provisio/platform';
import { eventually, TEST_JWT_SECRET, testEnv, uniqueTopicPrefix } from '@provisio/platform/testing';
import { AppModule } from '../app.module';
import { appConfigSchema } from '../config';

/** Retries `assertion` until it passes (eventually() retries a falsy answer, not a failed expect); then runs it once more so a failure says why. */
async function until(assertion: () => Promise<void>, options: { timeoutMs: number; what: string }): Promise<void> {
  await eventually(async () => assertion().then(() => true, () => false), options).catch(() => undefined);
  await assertion();
}

/** Bulk replay and discard of dead letters against the real worker, PostgreSQL, Redis and Kafka. */
describe('execution-worker: bulk replay and discard of dead letters', () => {
  let db: IsolatedSchema;
  let app: INestApplication;
  let tenant: TenantFixture;
  let other: TenantFixture;
  let scriptId: string;

  const auth = (t: TenantFixture, permissions: string[] = [Permission.ScriptExecutionManage]) => `Bearer ${signDevToken(TEST_JWT_SECRET, { sub: 'operator', tenant_id: t.tenantId, permissions })}`;
  const post = (path: string, body: unknown, t = tenant) => request(app.getHttpServer()).post(path).set('Authorization', auth(t)).send(body as object);
  const letters = () => db.dataSource.query(`SELECT id, event_type, error, retry_count, event_data FROM script_event_dead_letters WHERE tenant_id = $1 ORDER BY created_at`, [tenant.tenantId]);

  /** A dead letter of `scriptId`, its failed run recorded against `version`. */
  async function deadLetter(t: TenantFixture, script: string, fields: { event_type?: string; error: string; data: Record<string, unknown>; version?: number; created_at?: string }): Promise<string> {
    const [execution] = await db.dataSource.query(
      `INSERT INTO script_executions (tenant_id, script_id, status, trigger_type, input, error, script_version, started_at, completed_at) VALUES ($1, $2, 'failed', 'event', $3::jsonb, $4, $5, now(), now()) RETURNING id`,
      [t.tenantId, script, JSON.stringify(fields.data), fields.error, fields.version ?? 1],
    );
    const eventType = fields.event_type ?? 'user.created';
    const [{ id }] = await db.dataSource.query(
      `INSERT INTO script_event_dead_letters (tenant_id, script_id, execution_id, event_type, event_data, error, retry_count, created_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6, 2, COALESCE($7::timestamptz, now())) RETURNING id`,
      [t.tenantId, script, execution.id, eventType, JSON.stringify({ id: `ev-${Math.random()}`, source: '//test', event_type: eventType, data: fields.data }), fields.error, fields.created_at ?? null],
    );
    return id;
  }

  async function createScript(t: TenantFixture, source: string, version = 1): Promise<string> {
    const [{ id }] = await db.dataSource.query(
      `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, event_types, resource_limits, current_version)
       VALUES ($1, $2, $3, $4, 'event', 'active', ARRAY['user.created','user.deleted'], '{"max_execution_time_ms": 5000, "max_memory_bytes": 67108864, "max_concurrent_runs": 5, "max_api_calls_per_minute": 60, "max_output_size_bytes": 1048576}'::jsonb, $5) RETURNING id`,
      [t.tenantId, t.organizationId, `s-${Math.random()}`, source, version],
    );
    return id;
  }

  beforeAll(async () => {
    db = await createIsolatedSchema(migrations);
    tenant = await createTenantFixture(db.dataSource);
    other = await createTenantFixture(db.dataSource);
    const prefix = uniqueTopicPrefix();
    const config = loadConfig(appConfigSchema, testEnv({ DATABASE_SCHEMA: db.schema, KAFKA_TOPIC_PREFIX: prefix, REDIS_KEY_PREFIX: `test:${prefix}`, SCRIPT_EVENT_RETRY_BASE_DELAY_MS: '100', SANDBOX_POOL_SIZE: '1' }));
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
    app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
    configureApp(app, {});
    await app.init();
    // Fails while `data.fail` is set, as a bug fixed in the live version would.
    scriptId = await createScript(tenant, 'export default async (ctx) => { if (ctx.event.data.fail) throw new Error("still broken"); return { ok: ctx.event.data.n }; };');
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('replays the matching dead letters once each, answers how many, and audits it', async () => {
    const a = await deadLetter(tenant, scriptId, { error: 'connect ECONNREFUSED 10.0.0.1:443', data: { n: 1 } });
    const b = await deadLetter(tenant, scriptId, { error: 'Error: connect econnrefused', data: { n: 2 } });
    const unrelated = await deadLetter(tenant, scriptId, { error: 'TypeError: x is undefined', data: { n: 3 } });
    const foreignScript = await createScript(other, 'export default 1');
    await deadLetter(other, foreignScript, { error: 'ECONNREFUSED', data: { n: 9 } });

    const [first, second] = await Promise.all([
      post('/dead-letters/replay', { error_contains: 'econnrefused', version: 'latest' }),
      post('/dead-letters/replay', { error_contains: 'econnrefused', version: 'latest' }),
    ]);
    expect([first.status, second.status]).toEqual([200, 200]);
    // Two concurrent requests replay each letter once between them.
    expect(first.body.replayed + second.body.replayed).toBe(2);
    expect((await letters()).map((l: { id: string }) => l.id)).toEqual([unrelated]);
    const ids = [...first.body.execution_ids, ...second.body.execution_ids];
    await until(async () => {
      const rows = await db.dataSource.query(`SELECT status, output, trigger_data FROM script_executions WHERE id = ANY($1::uuid[]) ORDER BY output->>'ok'`, [ids]);
      expect(rows.map((r: { status: string; output: unknown }) => [r.status, r.output])).toEqual([['completed', { ok: 1 }], ['completed', { ok: 2 }]]);
      expect(rows.map((r: { trigger_data: { retried_from_dead_letter: string } }) => r.trigger_data.retried_from_dead_letter).sort()).toEqual([a, b].sort());
    }, { timeoutMs: 20_000, what: 'the replays to complete' });
    // The other tenant's letter is untouched.
    expect(await db.dataSource.query(`SELECT count(*)::int AS n FROM script_event_dead_letters WHERE tenant_id = $1`, [other.tenantId])).toEqual([{ n: 1 }]);
    const audits = await db.dataSource.query(`SELECT action, actor_id, details FROM audit_events WHERE tenant_id = $1 AND entity_type = 'dead_letter' AND action = 'replay'`, [tenant.tenantId]);
    expect(audits).toHaveLength(2);
    expect(audits.flatMap((r: { details: { dead_letter_ids: string[] } }) => r.details.dead_letter_ids).sort()).toEqual([a, b].sort());
  });

  it('a replay that fails again comes back with its count raised', async () => {
    const id = await deadLetter(tenant, scriptId, { event_type: 'user.deleted', error: 'still broken', data: { fail: true } });
    const replay = await post('/dead-letters/replay', { event_type: 'user.deleted', version: 'latest' }).expect(200);
    expect(replay.body).toMatchObject({ replayed: 1, remaining: 0 });
    await until(async () => {
      const back = (await letters()).filter((l: { event_type: string }) => l.event_type === 'user.deleted');
      expect(back).toEqual([expect.objectContaining({ retry_count: 3, error: expect.stringContaining('still broken') })]);
      expect(back[0].id).not.toBe(id);
      expect(back[0].event_data.retried_from_dead_letter).toBe(id);
    }, { timeoutMs: 30_000, what: 'the replay to fail its attempts' });
  });

  it('version original leaves letters whose failed version is not stored; filters by time and script; 400 on bad filters', async () => {
    const newer = await createScript(tenant, 'export default async () => "v3";', 3);
    const stale = await deadLetter(tenant, newer, { error: 'old bug', data: {}, version: 2 });
    const live = await deadLetter(tenant, newer, { error: 'old bug', data: {}, version: 3 });
    const original = await post('/dead-letters/replay', { script_id: newer, version: 'original' }).expect(200);
    expect(original.body).toMatchObject({ replayed: 1, not_replayed: [{ dead_letter_id: stale }], remaining: 0 });
    expect((await letters()).map((l: { id: string }) => l.id)).toContain(stale);
    expect((await letters()).map((l: { id: string }) => l.id)).not.toContain(live);
    expect((await post('/dead-letters/replay', { script_id: newer, version: 'latest', from: '2000-01-01T00:00:00Z', to: '2000-01-02T00:00:00Z' }).expect(200)).body.replayed).toBe(0);
    expect((await post('/dead-letters/replay', { version: 'newest' }).expect(400)).body.field).toBe('version');
    expect((await post('/dead-letters/replay', { version: 'latest', from: 'yesterday' }).expect(400)).body.field).toBe('from');
    expect((await post('/dead-letters/replay', { version: 'latest', error_contains: '%' }).expect(200)).body.replayed).toBe(0);
    const forbidden = await request(app.getHttpServer()).post('/dead-letters/replay').set('Authorization', auth(tenant, [Permission.ScriptExecutionRead])).send({ version: 'latest' });
    expect(forbidden.status).toBe(403);
  });

  it('version original runs the version that failed (again dead-lettered, count raised); latest runs the fix', async () => {
    // v1 broke on every event; v2, the fix, is live.
    const broken = 'export default async () => { throw new Error("v1 is broken"); };';
    const fixed = 'export default async (ctx) => ({ fixed: ctx.event.data.n });';
    const script = await createScript(tenant, fixed, 2);
    for (const [version, source] of [[1, broken], [2, fixed]] as const) {
      await db.dataSource.query('INSERT INTO script_versions (tenant_id, script_id, version_number, source) VALUES ($1, $2, $3, $4)', [tenant.tenantId, script, version, source]);
    }
    const first = await deadLetter(tenant, script, { error: 'Error: v1 is broken', data: { n: 1 }, version: 1 });
    const second = await deadLetter(tenant, script, { error: 'Error: v1 is broken', data: { n: 2 }, version: 1 });
    const scriptLetters = () => db.dataSource.query(`SELECT id, retry_count, error, event_data, execution_id FROM script_event_dead_letters WHERE tenant_id = $1 AND script_id = $2 ORDER BY event_data->'data'->>'n'`, [tenant.tenantId, script]);

    const original = await post('/dead-letters/replay', { script_id: script, version: 'original' }).expect(200);
    expect(original.body).toMatchObject({ replayed: 2, not_replayed: [], remaining: 0 });
    expect(new Set(original.body.execution_ids).size).toBe(2);
    // Each runs v1 again, with its retries, and comes back with its count raised.
    await until(async () => {
      const back = await scriptLetters();
      expect(back.map((l: { retry_count: number; error: string }) => [l.retry_count, l.error])).toEqual([[3, expect.stringContaining('v1 is broken')], [3, expect.stringContaining('v1 is broken')]]);
      expect(back.map((l: { event_data: { retried_from_dead_letter: string } }) => l.event_data.retried_from_dead_letter).sort()).toEqual([first, second].sort());
    }, { timeoutMs: 30_000, what: 'the original replays to fail again' });
    const ran = await db.dataSource.query(`SELECT DISTINCT script_version FROM script_executions WHERE tenant_id = $1 AND script_id = $2 AND trigger_data ? 'retried_from_dead_letter'`, [tenant.tenantId, script]);
    expect(ran).toEqual([{ script_version: 1 }]);

    const latest = await post('/dead-letters/replay', { script_id: script, version: 'latest' }).expect(200);
    expect(latest.body).toMatchObject({ replayed: 2, remaining: 0 });
    await until(async () => {
      const rows = await db.dataSource.query(`SELECT status, output, script_version FROM script_executions WHERE id = ANY($1::uuid[]) ORDER BY output->>'fixed'`, [latest.body.execution_ids]);
      expect(rows).toEqual([{ status: 'completed', output: { fixed: 1 }, script_version: 2 }, { status: 'completed', output: { fixed: 2 }, script_version: 2 }]);
    }, { timeoutMs: 20_000, what: 'the latest replays to complete' });
    expect(await scriptLetters()).toEqual([]);
  });

  it('discards the matching dead letters, audited', async () => {
    await deadLetter(tenant, scriptId, { event_type: 'group.member_added', error: 'nope', data: {} });
    await deadLetter(tenant, scriptId, { event_type: 'group.member_added', error: 'nope', data: {}, created_at: '2020-01-01T00:00:00Z' });
    const discarded = await post('/dead-letters/discard', { event_type: 'group.member_added', from: '2025-01-01T00:00:00Z' }).expect(200);
    expect(discarded.body).toEqual({ discarded: 1, remaining: 0 });
    expect((await letters()).filter((l: { event_type: string }) => l.event_type === 'group.member_added')).toHaveLength(1);
    const [audit] = await db.dataSource.query(`SELECT details FROM audit_events WHERE tenant_id = $1 AND action = 'discard'`, [tenant.tenantId]);
    expect(audit.details).toMatchObject({ discarded: 1, filters: { event_type: 'group.member_added' } });
    const list = await request(app.getHttpServer()).get('/dead-letters').query({ error_contains: 'nope' }).set('Authorization', auth(tenant)).expect(200);
    expect(list.body.total).toBe(1);
  });
});
