import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { EventType, messageKey, Permission, Topic } from '@provisio/contracts';
import { DEFAULT_RESOURCE_LIMITS } from '@provisio/persistence';
import { readTopic, testKafka } from '@provisio/platform/testing';
import { Caller, RegistryTestApp, startRegistry } from '../common/testing/registry-app';
import { FULLTEXT_EXPRESSION } from './scripts.repository';

describe('script-registry: scripts', () => {
  let t: RegistryTestApp;
  let alice: Caller;
  const q = (sql: string, params: unknown[] = []) => t.db.dataSource.query(sql, params);

  beforeAll(async () => {
    t = await startRegistry();
    alice = t.caller({ subject: 'alice' });
  });
  afterAll(async () => t?.close());

  describe('create', () => {
    it.each([
      ['scheduled', { cron_expression: '*/15 * * * *' }, { cron_expression: '*/15 * * * *', timezone: 'UTC' }],
      ['scheduled', { cron_expression: '0 30 9 * * 1-5', timezone: 'Europe/Paris' }, { timezone: 'Europe/Paris' }],
      ['http', { http_path: '/hooks/a1', http_methods: ['POST', 'PUT'] }, { http_path: '/hooks/a1', http_methods: ['POST', 'PUT'] }],
      ['event', { event_types: ['user.created', 'group.member_added'] }, { event_types: ['user.created', 'group.member_added'] }],
      ['oneoff', {}, { cron_expression: null, http_path: null, event_types: null }],
      ['embedded', { script_body: 'export default (ctx) => ctx.identity' }, { source: 'export default (ctx) => ctx.identity' }],
    ])('creates a %s script %o as a draft with version 1 and seed defaults', async (type, fields, expected) => {
      const created = await alice.createScript({ type, ...fields, ...('script_body' in fields ? { source: undefined } : {}) });
      expect(created).toMatchObject({
        type,
        status: 'draft',
        current_version: 1,
        is_system: false,
        resource_limits: DEFAULT_RESOURCE_LIMITS,
        metadata: {},
        tags: [],
        created_by: 'alice',
        updated_by: 'alice',
        tenant_id: alice.tenantId,
        ...expected,
      });
      expect(created.source_sha256).toMatch(/^[0-9a-f]{64}$/);
      const versions = await q('SELECT version_number, source, change_description, created_by FROM script_versions WHERE script_id = $1', [created.id]);
      expect(versions).toEqual([{ version_number: 1, source: created.source, change_description: 'Initial version', created_by: expect.any(Number) }]);
    });

    it('keeps given resource limits, fills the rest, stores metadata, tags and the actor as users.id', async () => {
      const created = await alice.createScript({
        resource_limits: { max_memory_bytes: 8 * 1024 * 1024, max_stack_size_bytes: 65536 },
        metadata: { team: 'identity', tier: 1 },
        tags: ['onboarding', 'mail'],
        description: 'Sends the welcome mail',
      });
      expect(created.resource_limits).toEqual({ ...DEFAULT_RESOURCE_LIMITS, max_memory_bytes: 8 * 1024 * 1024, max_stack_size_bytes: 65536 });
      const [row] = await q('SELECT s.created_by, u.subject, s.organization_id, o.is_default FROM scripts s JOIN users u ON u.id = s.created_by JOIN organizations o ON o.id = s.organization_id WHERE s.id = $1', [created.id]);
      expect(row).toMatchObject({ created_by: expect.any(Number), subject: 'alice', is_default: true });
    });

    it.each([
      [{ type: 'scheduled' }, 'cron_expression'],
      [{ type: 'scheduled', cron_expression: '* * * *' }, 'cron_expression'],
      [{ type: 'scheduled', cron_expression: '0 0 0 0 0 0 0' }, 'cron_expression'],
      [{ type: 'scheduled', cron_expression: '70 * * * *' }, 'cron_expression'],
      [{ type: 'scheduled', cron_expression: '0 * * * *', timezone: 'Mars/Olympus' }, 'timezone'],
      [{ type: 'http', http_methods: ['GET'] }, 'http_path'],
      [{ type: 'http', http_path: 'no-slash', http_methods: ['GET'] }, 'http_path'],
      [{ type: 'http', http_path: '/a/../b', http_methods: ['GET'] }, 'http_path'],
      [{ type: 'http', http_path: '/ok' }, 'http_methods'],
      [{ type: 'http', http_path: '/ok', http_methods: ['GET', 'TRACE'] }, 'http_methods'],
      [{ type: 'http', http_path: '/ok', http_methods: ['GET', 'GET'] }, 'http_methods'],
      [{ type: 'event' }, 'event_types'],
      [{ type: 'event', event_types: [] }, 'event_types'],
      [{ type: 'event', event_types: ['User.Created'] }, 'event_types'],
      [{ type: 'oneoff', cron_expression: '0 * * * *' }, 'cron_expression'],
      [{ type: 'embedded', http_path: '/x' }, 'http_path'],
      [{ type: 'cronjob' }, 'type'],
      [{ type: 'oneoff', resource_limits: { max_cpu_percent: 50 } }, 'resource_limits.max_cpu_percent'],
      [{ type: 'oneoff', resource_limits: { max_memory_bytes: -1 } }, 'resource_limits.max_memory_bytes'],
      [{ type: 'oneoff', resource_limits: { max_execution_time_ms: 1.5 } }, 'resource_limits.max_execution_time_ms'],
      [{ type: 'oneoff', resource_limits: { max_concurrent_runs: 1_000_000 } }, 'resource_limits.max_concurrent_runs'],
      [{ type: 'oneoff', resource_limits: [1] }, 'resource_limits'],
      [{ type: 'oneoff', metadata: ['a'] }, 'metadata'],
      [{ type: 'oneoff', tags: ['ok', 3] }, 'tags'],
      [{ type: 'oneoff', tags: ['a,b'] }, 'tags'],
      [{ type: 'oneoff', name: '   ' }, 'name'],
      [{ type: 'oneoff', source: '' }, 'source'],
      [{ type: 'oneoff', status: 'active' }, 'status'],
      [{ type: 'oneoff', source: 'a', script_body: 'b' }, 'script_body'],
    ])('refuses %o with 400 naming %s', async (fields, field) => {
      const response = await alice.post('/scripts', { name: `bad-${randomUUID()}`, source: 'export default 1', ...fields });
      expect({ status: response.status, code: response.body.code, field: response.body.field }).toEqual({ status: 400, code: 'validation_failed', field });
    });

    it('refuses a taken name or HTTP path with 409 naming the field, per tenant only', async () => {
      const first = await alice.createScript({ type: 'http', http_path: '/taken', http_methods: ['GET'] });
      const sameName = await alice.post('/scripts', { name: first.name, type: 'oneoff', source: 'x' });
      expect(sameName.status).toBe(409);
      expect(sameName.body).toMatchObject({ code: 'conflict', field: 'name' });
      const samePath = await alice.post('/scripts', { name: 'other-path-owner', type: 'http', http_path: '/taken', http_methods: ['POST'], source: 'x' });
      expect(samePath.status).toBe(409);
      expect(samePath.body).toMatchObject({ code: 'conflict', field: 'http_path' });
      // Another tenant has its own namespace.
      const bob = t.caller({ subject: 'bob' });
      await bob.createScript({ name: first.name, type: 'http', http_path: '/taken', http_methods: ['GET'] });
    });

    it('takes a source of 100,000 characters however much JSON escapes it, refuses a longer one (400) and a body over 1 MB (413)', async () => {
      // 100,000 characters of quotes and non-ASCII: about 200 kB of JSON, over Express's 100 kB default.
      const body = `export default () => "${'\\"é'.repeat(33_320)}";`;
      const source = body + ' '.repeat(100_000 - body.length);
      expect(source).toHaveLength(100_000);
      const created = await alice.createScript({ source });
      expect((await alice.get(`/scripts/${created.id}`)).body.source).toBe(source);

      const tooLong = await alice.post('/scripts', { name: `long-${randomUUID()}`, type: 'oneoff', source: source + ' ' });
      expect({ status: tooLong.status, field: tooLong.body.field }).toEqual({ status: 400, field: 'source' });
      const huge = await alice.post('/scripts', { name: `huge-${randomUUID()}`, type: 'oneoff', source: 'x', metadata: { blob: 'x'.repeat(1_100_000) } });
      expect({ status: huge.status, code: huge.body.code }).toEqual({ status: 413, code: 'payload_too_large' });
      const notJson = await request(t.app.getHttpServer()).post('/scripts').set('Authorization', `Bearer ${alice.token}`).set('Content-Type', 'application/json').send('{"name": ');
      expect(notJson.body).toMatchObject({ status: 400, code: 'validation_failed', field: 'body', message: expect.stringMatching(/^the request body is not valid JSON/) });
    });

    it('lets only script:manage create a system script, which cannot be deleted', async () => {
      const writer = alice.with([Permission.ScriptWrite, Permission.ScriptRead, Permission.ScriptDelete]);
      const refused = await writer.post('/scripts', { name: 'sys-1', type: 'embedded', source: 'x', is_system: true });
      expect(refused.status).toBe(403);
      const system = await alice.createScript({ name: 'sys-1', type: 'embedded', is_system: true });
      expect(system.is_system).toBe(true);
      const deleted = await alice.delete(`/scripts/${system.id}`);
      expect(deleted.status).toBe(409);
      expect(deleted.body).toMatchObject({ code: 'conflict', field: 'is_system' });
      expect((await alice.get(`/scripts/${system.id}`)).status).toBe(200);
    });
  });

  describe('update', () => {
    it('changes fields without a version; a new source makes a new live version', async () => {
      const script = await alice.createScript({ tags: ['a'] });
      const renamed = await alice.patch(`/scripts/${script.id}`, { name: `${script.name}-2`, description: 'd', tags: ['a', 'b'], resource_limits: { max_concurrent_runs: 2 } });
      expect(renamed.status).toBe(200);
      expect(renamed.body).toMatchObject({ name: `${script.name}-2`, description: 'd', tags: ['a', 'b'], current_version: 1, resource_limits: { ...DEFAULT_RESOURCE_LIMITS, max_concurrent_runs: 2 } });

      const edited = await alice.patch(`/scripts/${script.id}`, { source: 'export default 2', change_description: 'returns 2' });
      expect(edited.body).toMatchObject({ current_version: 2, source: 'export default 2' });
      const [v2] = await q('SELECT version_number, change_description FROM script_versions WHERE script_id = $1 AND version_number = 2', [script.id]);
      expect(v2).toEqual({ version_number: 2, change_description: 'returns 2' });

      // Restating what is there changes nothing: no version, no audit event, no outbox event.
      const before = await q(`SELECT (SELECT count(*) FROM audit_events WHERE entity_id = $1) AS audit, (SELECT count(*) FROM outbox WHERE payload->>'subject' = $1::text) AS events`, [script.id]);
      const same = await alice.patch(`/scripts/${script.id}`, { source: 'export default 2', description: 'd' });
      expect(same.body.current_version).toBe(2);
      expect(await q(`SELECT (SELECT count(*) FROM audit_events WHERE entity_id = $1) AS audit, (SELECT count(*) FROM outbox WHERE payload->>'subject' = $1::text) AS events`, [script.id])).toEqual(before);

      // description may be cleared; name may not be nulled; an empty body is refused.
      expect((await alice.patch(`/scripts/${script.id}`, { description: null })).body.description).toBeNull();
      expect((await alice.patch(`/scripts/${script.id}`, { name: null })).body).toMatchObject({ status: 400, field: 'name' });
      expect((await alice.patch(`/scripts/${script.id}`, {})).status).toBe(400);
      expect((await alice.patch(`/scripts/${script.id}`, { status: 'active' })).body).toMatchObject({ status: 400, field: 'status' });
    });

    it('checks the trigger rules against the result of the update', async () => {
      const script = await alice.createScript({ type: 'event', event_types: ['user.created'] });
      expect((await alice.patch(`/scripts/${script.id}`, { event_types: null })).body).toMatchObject({ status: 400, field: 'event_types' });
      expect((await alice.patch(`/scripts/${script.id}`, { cron_expression: '0 * * * *' })).body).toMatchObject({ status: 400, field: 'cron_expression' });
      expect((await alice.patch(`/scripts/${script.id}`, { type: 'scheduled' })).body).toMatchObject({ status: 400, field: 'cron_expression' });
      const turned = await alice.patch(`/scripts/${script.id}`, { type: 'scheduled', cron_expression: '0 6 * * *', timezone: 'Asia/Tokyo' });
      expect(turned.body).toMatchObject({ type: 'scheduled', event_types: null, cron_expression: '0 6 * * *', timezone: 'Asia/Tokyo' });
      expect(await q('SELECT count(*)::int AS n FROM script_event_subscriptions WHERE script_id = $1', [script.id])).toEqual([{ n: 0 }]);
      expect(await q('SELECT cron_expression, timezone, status FROM script_scheduled_jobs WHERE script_id = $1', [script.id])).toEqual([
        { cron_expression: '0 6 * * *', timezone: 'Asia/Tokyo', status: 'paused' },
      ]);
    });

    it('refuses to change an archived script (409) and a missing one (404)', async () => {
      const script = await alice.createScript();
      await alice.post(`/scripts/${script.id}/status`, { status: 'archived' }).expect(200);
      expect((await alice.patch(`/scripts/${script.id}`, { description: 'x' })).body).toMatchObject({ status: 409, field: 'status' });
      expect((await alice.patch(`/scripts/${randomUUID()}`, { description: 'x' })).status).toBe(404);
    });
  });

  describe('status and derived routing', () => {
    const routing = async (id: string) => ({
      subscriptions: await q('SELECT event_type, is_active FROM script_event_subscriptions WHERE script_id = $1 ORDER BY event_type', [id]),
      endpoints: await q('SELECT http_path, http_methods, is_active FROM script_http_endpoints WHERE script_id = $1', [id]),
      jobs: await q('SELECT cron_expression, timezone, status, next_run_at FROM script_scheduled_jobs WHERE script_id = $1', [id]),
    });

    it('keeps event subscriptions in step: one per type, active while the script is', async () => {
      const script = await alice.createScript({ type: 'event', event_types: ['user.created', 'user.updated'] });
      expect((await routing(script.id)).subscriptions).toEqual([
        { event_type: 'user.created', is_active: false },
        { event_type: 'user.updated', is_active: false },
      ]);
      await alice.post(`/scripts/${script.id}/status`, { status: 'active' }).expect(200);
      await alice.patch(`/scripts/${script.id}`, { event_types: ['user.updated', 'user.deleted'] }).expect(200);
      expect((await routing(script.id)).subscriptions).toEqual([
        { event_type: 'user.deleted', is_active: true },
        { event_type: 'user.updated', is_active: true },
      ]);
      await alice.post(`/scripts/${script.id}/status`, { status: 'paused' }).expect(200);
      expect((await routing(script.id)).subscriptions.every((s: { is_active: boolean }) => !s.is_active)).toBe(true);
    });

    it('keeps the HTTP endpoint in step', async () => {
      const script = await alice.createScript({ type: 'http', http_path: '/r/one', http_methods: ['GET'] });
      await alice.post(`/scripts/${script.id}/status`, { status: 'active' }).expect(200);
      await alice.patch(`/scripts/${script.id}`, { http_path: '/r/two', http_methods: ['POST'] }).expect(200);
      expect((await routing(script.id)).endpoints).toEqual([{ http_path: '/r/two', http_methods: ['POST'], is_active: true }]);
      await alice.post(`/scripts/${script.id}/status`, { status: 'inactive' }).expect(200);
      expect((await routing(script.id)).endpoints).toEqual([{ http_path: '/r/two', http_methods: ['POST'], is_active: false }]);
      await alice.patch(`/scripts/${script.id}`, { type: 'oneoff' }).expect(200);
      expect((await routing(script.id)).endpoints).toEqual([]);
    });

    it('keeps the scheduled job in step: status mirrored, next_run_at reset for the scheduler when it must be recomputed', async () => {
      const script = await alice.createScript({ type: 'scheduled', cron_expression: '0 * * * *' });
      expect((await routing(script.id)).jobs).toEqual([{ cron_expression: '0 * * * *', timezone: 'UTC', status: 'paused', next_run_at: null }]);
      await alice.post(`/scripts/${script.id}/status`, { status: 'active' }).expect(200);
      const setNext = () => q(`UPDATE script_scheduled_jobs SET next_run_at = now() + interval '1 hour' WHERE script_id = $1`, [script.id]);
      const next = async () => (await routing(script.id)).jobs[0].next_run_at;

      await setNext(); // what the scheduler does
      await alice.patch(`/scripts/${script.id}`, { description: 'unrelated' }).expect(200);
      expect(await next()).not.toBeNull();
      await alice.patch(`/scripts/${script.id}`, { cron_expression: '30 * * * *' }).expect(200);
      expect(await next()).toBeNull();

      await setNext();
      await alice.patch(`/scripts/${script.id}`, { timezone: 'America/New_York' }).expect(200);
      expect(await next()).toBeNull();

      await setNext();
      await alice.post(`/scripts/${script.id}/status`, { status: 'paused' }).expect(200);
      expect((await routing(script.id)).jobs[0]).toMatchObject({ status: 'paused', next_run_at: expect.any(Date) });
      await alice.post(`/scripts/${script.id}/status`, { status: 'active' }).expect(200);
      expect((await routing(script.id)).jobs[0]).toMatchObject({ status: 'active', next_run_at: null });
      await alice.post(`/scripts/${script.id}/status`, { status: 'disabled' }).expect(200);
      expect((await routing(script.id)).jobs[0].status).toBe('disabled');
      await alice.post(`/scripts/${script.id}/status`, { status: 'archived' }).expect(200);
      expect((await routing(script.id)).jobs[0].status).toBe('disabled');
    });

    it('walks the lifecycle and refuses other steps with 409 listing the allowed ones', async () => {
      const script = await alice.createScript();
      const step = (status: string) => alice.post(`/scripts/${script.id}/status`, { status });
      const refused = await step('paused');
      expect(refused.status).toBe(409);
      expect(refused.body).toMatchObject({ code: 'invalid_transition', field: 'status', details: { from: 'draft', to: 'paused', allowed: ['active', 'archived'] } });
      expect(refused.body.message).toContain('allowed: active, archived');
      for (const [status, stored] of [
        ['active', 'active'],
        ['paused', 'paused'],
        ['active', 'active'],
        ['inactive', 'disabled'],
        ['active', 'active'],
        ['disabled', 'disabled'],
        ['archived', 'archived'],
      ]) {
        const response = await step(status);
        expect({ status, code: response.status, stored: response.body.status }).toEqual({ status, code: 200, stored });
      }
      expect((await step('active')).body).toMatchObject({ status: 409, details: { allowed: [] } });
      expect((await alice.post(`/scripts/${script.id}/status`, { status: 'gone' })).body).toMatchObject({ status: 400, field: 'status' });
    });

    it('deletes a script with its versions and routing, keeping its audit trail', async () => {
      const script = await alice.createScript({ type: 'event', event_types: ['user.created'] });
      await alice.patch(`/scripts/${script.id}`, { source: 'v2' }).expect(200);
      await alice.delete(`/scripts/${script.id}`).expect(204);
      expect((await alice.get(`/scripts/${script.id}`)).status).toBe(404);
      expect((await alice.delete(`/scripts/${script.id}`)).status).toBe(404);
      const left = await q(
        `SELECT (SELECT count(*)::int FROM script_versions WHERE script_id = $1) AS versions,
                (SELECT count(*)::int FROM script_event_subscriptions WHERE script_id = $1) AS subscriptions,
                (SELECT count(*)::int FROM audit_events WHERE entity_id = $1 AND script_id IS NULL) AS audit`,
        [script.id],
      );
      expect(left).toEqual([{ versions: 0, subscriptions: 0, audit: 3 }]);
      const trail = await alice.get(`/scripts/${script.id}/audit`).expect(200);
      expect(trail.body.items.map((e: { action: string }) => e.action)).toEqual(['delete', 'update', 'create']);
    });
  });

  describe('list', () => {
    let carol: Caller;
    const ids: Record<string, string> = {};
    beforeAll(async () => {
      carol = t.caller({ subject: 'carol' });
      const make = async (key: string, fields: Record<string, unknown>) => (ids[key] = (await carol.createScript({ name: key, ...fields })).id);
      await make('welcome-mail', { type: 'event', event_types: ['user.created'], description: 'Sends the welcome mail to new hires', tags: ['onboarding', 'mail'], metadata: { team: 'identity', tier: 1 } });
      await make('nightly-export', { type: 'scheduled', cron_expression: '0 2 * * *', description: 'Exports accounts', tags: ['export'], metadata: { team: 'reporting' } });
      await make('badge-sync', { type: 'http', http_path: '/badge', http_methods: ['POST'], tags: ['onboarding'], metadata: { team: 'identity', tier: 2 } });
      await make('old-hook', { type: 'embedded', description: 'Legacy mail hook' });
      await carol.post(`/scripts/${ids['welcome-mail']}/status`, { status: 'active' }).expect(200);
      await carol.post(`/scripts/${ids['badge-sync']}/status`, { status: 'active' }).expect(200);
      await carol.post(`/scripts/${ids['badge-sync']}/status`, { status: 'inactive' }).expect(200);
      await carol.post(`/scripts/${ids['old-hook']}/status`, { status: 'archived' }).expect(200);
      await t.caller().createScript({ name: 'welcome-mail', tags: ['onboarding'] }); // another tenant
    });

    const names = async (query: Record<string, unknown> | string) => {
      const response = await carol.get('/scripts', query);
      expect(response.status).toBe(200);
      return response.body.items.map((s: { name: string }) => s.name);
    };

    it('lists the tenant’s scripts without source, newest first, archived hidden', async () => {
      const response = await carol.get('/scripts').expect(200);
      expect(response.body).toMatchObject({ total: 3, limit: 50, offset: 0 });
      expect(response.body.items.map((s: { name: string }) => s.name)).toEqual(['badge-sync', 'nightly-export', 'welcome-mail']);
      expect(response.body.items[0]).not.toHaveProperty('source');
    });

    it.each<[string, Record<string, unknown> | string, string[]]>([
      ['status', { status: 'active' }, ['welcome-mail']],
      ['status alias inactive', { status: 'inactive' }, ['badge-sync']],
      ['several statuses', 'status=archived&status=draft', ['old-hook', 'nightly-export']],
      ['type', { type: 'scheduled,http' }, ['badge-sync', 'nightly-export']],
      ['one tag', { tag: 'onboarding' }, ['badge-sync', 'welcome-mail']],
      ['all tags (repeated)', 'tag=onboarding&tag=mail', ['welcome-mail']],
      ['all tags (comma list)', { tags: 'onboarding,mail' }, ['welcome-mail']],
      ['metadata[key]=value', 'metadata[team]=identity', ['badge-sync', 'welcome-mail']],
      ['metadata JSON, typed', { metadata: JSON.stringify({ team: 'identity', tier: 2 }) }, ['badge-sync']],
      ['full text', { q: 'welcome' }, ['welcome-mail']],
      ['full text over description, by prefix', { q: 'export accou' }, ['nightly-export']],
      ['full text with stemming', { q: 'sending' }, ['welcome-mail']],
      ['full text and status', { q: 'mail', status: 'archived,active' }, ['old-hook', 'welcome-mail']],
      ['sort by name', { sort: 'name' }, ['badge-sync', 'nightly-export', 'welcome-mail']],
      ['sort by name desc', { sort: 'name', order: 'desc' }, ['welcome-mail', 'nightly-export', 'badge-sync']],
      ['sort by updated_at asc', { sort: 'updated_at', order: 'asc' }, ['nightly-export', 'welcome-mail', 'badge-sync']],
    ])('filters by %s', async (_what, query, expected) => {
      expect((await names(query)).sort()).toEqual([...expected].sort());
      if (typeof query === 'object' && query.sort) expect(await names(query)).toEqual(expected);
    });

    it('pages', async () => {
      const first = await carol.get('/scripts', { sort: 'name', limit: 2 }).expect(200);
      const second = await carol.get('/scripts', { sort: 'name', limit: 2, offset: 2 }).expect(200);
      expect(first.body).toMatchObject({ total: 3, limit: 2, offset: 0 });
      expect([...first.body.items, ...second.body.items].map((s: { name: string }) => s.name)).toEqual(['badge-sync', 'nightly-export', 'welcome-mail']);
    });

    it.each([
      [{ sort: 'size' }, 'sort'],
      [{ order: 'up' }, 'order'],
      [{ status: 'deleted' }, 'status'],
      [{ type: 'cron' }, 'type'],
      [{ limit: 0 }, 'limit'],
      [{ limit: 201 }, 'limit'],
      [{ offset: -1 }, 'offset'],
      [{ metadata: 'team=identity' }, 'metadata'],
      [{ metadata: '[1]' }, 'metadata'],
      [{ q: '!!!' }, 'q'],
      [{ tag: 'x'.repeat(101) }, 'tag'],
      [{ colour: 'red' }, 'colour'],
    ])('refuses %o with 400 naming %s', async (query, field) => {
      const response = await carol.get('/scripts', query);
      expect({ status: response.status, field: response.body.field }).toEqual({ status: 400, field });
    });

    it('filters with expressions the GIN indexes serve (full text exactly as idx_scripts_fulltext)', async () => {
      // Without a sequential scan, the only way to evaluate the condition alone is its index.
      const plan = async (condition: string, params: unknown[]) =>
        t.db.dataSource.transaction(async (manager) => {
          await manager.query('SET LOCAL enable_seqscan = off');
          const rows: { 'QUERY PLAN': string }[] = await manager.query(`EXPLAIN SELECT s.id FROM scripts s WHERE ${condition.replace(/\$2/g, '$1')}`, params);
          return rows.map((r) => r['QUERY PLAN']).join('\n');
        });
      expect(await plan(`${FULLTEXT_EXPRESSION} @@ to_tsquery('english', $2)`, ['welc:*'])).toContain('idx_scripts_fulltext');
      expect(await plan('s.metadata @> $2::jsonb', ['{"team":"identity"}'])).toContain('idx_scripts_metadata');
      expect(await plan('s.tags @> $2::text[]', [['onboarding']])).toContain('idx_scripts_tags');
    });
  });

  it('publishes provisio.script.changed through the outbox to Kafka, keyed by tenant and script', async () => {
    const script = await alice.createScript({ type: 'event', event_types: ['user.created'] });
    await alice.post(`/scripts/${script.id}/status`, { status: 'active' }).expect(200);
    const ours = (m: { value: string | null }) => JSON.parse(m.value ?? '{}').subject === script.id;
    const messages = (await readTopic(testKafka(), t.prefix + Topic.ScriptChanges, (all) => all.filter(ours).length >= 2)).filter(ours);
    expect(messages.map((m) => m.key)).toEqual([messageKey.tenantScript(alice.tenantId, script.id), messageKey.tenantScript(alice.tenantId, script.id)]);
    const events = messages.map((m) => JSON.parse(m.value!));
    expect(events[0]).toMatchObject({
      specversion: '1.0',
      type: EventType.ScriptChanged,
      source: 'provisio/script-registry',
      tenantid: alice.tenantId,
      subject: script.id,
      data: { script_id: script.id, change: 'created', status: 'draft', current_version: 1 },
    });
    expect(events[1].data).toEqual({ script_id: script.id, change: 'status_changed', status: 'active', current_version: 1 });
    expect(messages[0].headers['provisio-event-id']).toBe(events[0].id);
  });
});
