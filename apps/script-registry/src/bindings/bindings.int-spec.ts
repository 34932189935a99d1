import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Permission } from '@provisio/contracts';
import { Caller, RegistryTestApp, startRegistry } from '../common/testing/registry-app';
import { createConnector } from '../common/testing/row-fixtures';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Body = Record<string, any>;

describe('script-registry: hook bindings', () => {
  let t: RegistryTestApp;
  let alice: Caller;
  let connector: string;
  const q = (sql: string, params: unknown[] = []) => t.db.dataSource.query(sql, params);

  const hookScript = (caller: Caller = alice, overrides: Body = {}) => caller.createScript({ type: 'embedded', ...overrides });
  const bind = async (caller: Caller, body: Body) => {
    const response = await caller.post('/bindings', body);
    if (response.status !== 201) throw new Error(`bind: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body as Body;
  };
  /** Binds `n` new scripts to one hook; returns the bindings in creation order. */
  const hook = async (n: number, h: Body = {}) => {
    const target = { connector_id: h.connector_id ?? (await createConnector(t, alice.tenantId)), operation_type: h.operation_type ?? 'create', hook_phase: h.hook_phase ?? 'before' };
    const bindings = [];
    for (let i = 0; i < n; i++) bindings.push(await bind(alice, { script_id: (await hookScript()).id, ...target }));
    return { target, bindings };
  };
  const orderOf = async (target: Body) =>
    (await alice.get('/bindings', { ...target, limit: 200 }).expect(200)).body.items.map((b: Body) => [b.id, b.execution_order]) as [string, number][];
  const counts = () => q('SELECT (SELECT count(*) FROM hook_bindings)::int AS b, (SELECT count(*) FROM audit_events)::int AS a');

  beforeAll(async () => {
    t = await startRegistry();
    alice = t.caller({ subject: 'alice' });
    await alice.createScript(); // creates the tenant
    connector = await createConnector(t, alice.tenantId);
  });
  afterAll(async () => t?.close());

  describe('create', () => {
    it('binds an embedded script to a connector operation with the seed defaults, last in its hook, and audits it', async () => {
      const script = await hookScript();
      const created = await bind(alice, { script_id: script.id, connector_id: connector, hook_phase: 'before', operation_type: 'update' });
      expect(created).toEqual({
        id: expect.any(String),
        tenant_id: alice.tenantId,
        script_id: script.id,
        connector_id: connector,
        hook_phase: 'before',
        operation_type: 'update',
        execution_order: 0,
        failure_policy: 'abort',
        max_retries: 0,
        timeout_seconds: 30,
        enabled: true,
        created_by: 'alice',
        created_at: expect.any(String),
        updated_at: expect.any(String),
      });
      expect((await alice.get(`/bindings/${created.id}`).expect(200)).body).toEqual(created);
      const audit = await q(`SELECT action, script_id, actor_id, details FROM audit_events WHERE entity_type = 'hook_binding' AND entity_id = $1`, [created.id]);
      expect(audit).toEqual([
        {
          action: 'create',
          script_id: script.id,
          actor_id: 'alice',
          details: {
            connector_id: connector,
            execution_order: 0,
            after: { hook_phase: 'before', operation_type: 'update', failure_policy: 'abort', max_retries: 0, timeout_seconds: 30, enabled: true },
          },
        },
      ]);
    });

    it('appends within one hook (connector, operation, phase); other hooks have their own order', async () => {
      const { target, bindings } = await hook(3);
      expect(bindings.map((b) => b.execution_order)).toEqual([0, 1, 2]);
      const after = await bind(alice, { script_id: bindings[0].script_id, ...target, hook_phase: 'after' });
      const update = await bind(alice, { script_id: bindings[0].script_id, ...target, operation_type: 'update' });
      expect([after.execution_order, update.execution_order]).toEqual([0, 0]);
    });

    it('gives concurrent creates distinct, consecutive positions', async () => {
      const target = { connector_id: await createConnector(t, alice.tenantId), operation_type: 'delete', hook_phase: 'after' };
      const scripts = await Promise.all(Array.from({ length: 8 }, () => hookScript()));
      const created = await Promise.all(scripts.map((s) => alice.post('/bindings', { script_id: s.id, ...target })));
      expect(created.map((r) => r.status)).toEqual(Array(8).fill(201));
      expect(created.map((r) => r.body.execution_order).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    });

    it.each([
      [{ failure_policy: 'retry' }, { failure_policy: 'retry', max_retries: 3 }],
      [{ failure_policy: 'retry', max_retries: 10 }, { failure_policy: 'retry', max_retries: 10 }],
      [{ failure_policy: 'continue', max_retries: 0, timeout_seconds: 300, enabled: false }, { failure_policy: 'continue', max_retries: 0, timeout_seconds: 300, enabled: false }],
    ])('takes failure policy, retries, timeout and enabled: %j', async (fields, expected) => {
      expect(await bind(alice, { script_id: (await hookScript()).id, connector_id: connector, hook_phase: 'after', operation_type: 'create', ...fields })).toMatchObject(expected);
    });

    it.each([
      [{ failure_policy: 'abort', max_retries: 2 }, 'max_retries', /applies only to failure_policy retry/],
      [{ max_retries: 1 }, 'max_retries', /applies only to failure_policy retry/],
      [{ failure_policy: 'retry', max_retries: 0 }, 'max_retries', /at least 1/],
      [{ failure_policy: 'retry', max_retries: 11 }, 'max_retries', /must not be greater than 10/],
      [{ timeout_seconds: 0 }, 'timeout_seconds', /must not be less than 1/],
      [{ timeout_seconds: 301 }, 'timeout_seconds', /must not be greater than 300/],
      [{ timeout_seconds: 1.5 }, 'timeout_seconds', /integer/],
      [{ failure_policy: 'ignore' }, 'failure_policy', /must be one of/],
      [{ hook_phase: 'during' }, 'hook_phase', /must be one of/],
      [{ operation_type: 'rename' }, 'operation_type', /must be one of/],
      [{ enabled: 'yes' }, 'enabled', /boolean/],
      [{ script_id: 'nope' }, 'script_id', /UUID/],
      [{ execution_order: 3 }, 'execution_order', /should not exist/],
    ])('refuses %j (400 %s) and writes nothing', async (fields, field, message) => {
      const body = { script_id: (await hookScript()).id, connector_id: connector, hook_phase: 'before', operation_type: 'enable', ...fields };
      const before = await counts();
      expect((await alice.post('/bindings', body).expect(400)).body).toMatchObject({ code: 'validation_failed', field, message: expect.stringMatching(message) });
      expect(await counts()).toEqual(before);
    });

    it('binds only an existing, embedded, live script of the tenant to an existing connector of the tenant', async () => {
      const stranger = t.caller();
      const theirScript = await hookScript(stranger);
      const theirConnector = await createConnector(t, stranger.tenantId);
      const mine = await hookScript();
      const event = await alice.createScript({ type: 'event', event_types: ['user.created'] });
      const archived = await hookScript();
      await alice.post(`/scripts/${archived.id}/status`, { status: 'archived' }).expect(200);
      const base = { connector_id: connector, hook_phase: 'before', operation_type: 'disable' };
      const before = await counts();
      expect((await alice.post('/bindings', { ...base, script_id: randomUUID() }).expect(404)).body).toMatchObject({ code: 'not_found', field: 'script_id' });
      expect((await alice.post('/bindings', { ...base, script_id: theirScript.id }).expect(404)).body).toMatchObject({ code: 'not_found', field: 'script_id' });
      expect((await alice.post('/bindings', { ...base, script_id: mine.id, connector_id: theirConnector }).expect(404)).body).toMatchObject({ code: 'not_found', field: 'connector_id' });
      expect((await alice.post('/bindings', { ...base, script_id: mine.id, connector_id: randomUUID() }).expect(404)).body).toMatchObject({ field: 'connector_id' });
      expect((await alice.post('/bindings', { ...base, script_id: event.id }).expect(400)).body).toMatchObject({ field: 'script_id', message: expect.stringMatching(/only embedded/) });
      expect((await alice.post('/bindings', { ...base, script_id: archived.id }).expect(409)).body).toMatchObject({ code: 'conflict', field: 'script_id' });
      expect(await counts()).toEqual(before);

      await bind(alice, { ...base, script_id: mine.id });
      expect((await alice.post('/bindings', { ...base, script_id: mine.id, failure_policy: 'continue' }).expect(409)).body).toMatchObject({ code: 'conflict', field: 'script_id' });
    });
  });

  describe('update', () => {
    it('changes settings; leaving retry resets max_retries; audits before and after', async () => {
      const created = await bind(alice, { script_id: (await hookScript()).id, connector_id: connector, hook_phase: 'after', operation_type: 'update', failure_policy: 'retry', max_retries: 4 });
      const changed = await alice.patch(`/bindings/${created.id}`, { timeout_seconds: 60, enabled: false }).expect(200);
      expect(changed.body).toMatchObject({ failure_policy: 'retry', max_retries: 4, timeout_seconds: 60, enabled: false, execution_order: created.execution_order });
      expect((await alice.patch(`/bindings/${created.id}`, { max_retries: 7 }).expect(200)).body.max_retries).toBe(7);
      expect((await alice.patch(`/bindings/${created.id}`, { failure_policy: 'continue' }).expect(200)).body).toMatchObject({ failure_policy: 'continue', max_retries: 0 });
      expect((await alice.patch(`/bindings/${created.id}`, { max_retries: 2 }).expect(400)).body.field).toBe('max_retries');
      expect((await alice.patch(`/bindings/${created.id}`, { failure_policy: 'retry' }).expect(200)).body.max_retries).toBe(3);
      const audit = await q(`SELECT details FROM audit_events WHERE entity_type = 'hook_binding' AND entity_id = $1 AND action = 'update' ORDER BY created_at`, [created.id]);
      expect(audit[0].details).toEqual({ connector_id: connector, changed: ['timeout_seconds', 'enabled'], before: { timeout_seconds: 30, enabled: true }, after: { timeout_seconds: 60, enabled: false } });
      expect(audit[2].details).toMatchObject({ changed: ['failure_policy', 'max_retries'], before: { failure_policy: 'retry', max_retries: 7 }, after: { failure_policy: 'continue', max_retries: 0 } });
      // An unchanged value changes nothing (no audit event).
      await alice.patch(`/bindings/${created.id}`, { enabled: false }).expect(200);
      expect((await q(`SELECT count(*)::int AS n FROM audit_events WHERE entity_id = $1 AND action = 'update'`, [created.id]))[0].n).toBe(4);
    });

    it('moving a binding to another phase or operation puts it last there and closes the gap it leaves', async () => {
      const { target, bindings } = await hook(3);
      const { bindings: others } = await hook(2, { ...target, hook_phase: 'after' });
      const moved = await alice.patch(`/bindings/${bindings[0].id}`, { hook_phase: 'after' }).expect(200);
      expect(moved.body).toMatchObject({ hook_phase: 'after', execution_order: 2 });
      expect(await orderOf(target)).toEqual([
        [bindings[1].id, 0],
        [bindings[2].id, 1],
      ]);
      expect(await orderOf({ ...target, hook_phase: 'after' })).toEqual([
        [others[0].id, 0],
        [others[1].id, 1],
        [bindings[0].id, 2],
      ]);
    });

    it.each([
      [{}, undefined],
      [{ script_id: randomUUID() }, 'script_id'],
      [{ connector_id: randomUUID() }, 'connector_id'],
      [{ execution_order: 0 }, 'execution_order'],
      [{ hook_phase: null }, 'hook_phase'],
      [{ timeout_seconds: 999 }, 'timeout_seconds'],
    ])('refuses %j (400 %s)', async (body, field) => {
      const created = await bind(alice, { script_id: (await hookScript()).id, connector_id: connector, hook_phase: 'before', operation_type: 'delete' });
      const response = await alice.patch(`/bindings/${created.id}`, body).expect(400);
      expect({ code: response.body.code, field: response.body.field }).toEqual({ code: 'validation_failed', field });
    });

    it('answers 409 when the move would bind the script twice to the same hook', async () => {
      const script = await hookScript();
      await bind(alice, { script_id: script.id, connector_id: connector, hook_phase: 'after', operation_type: 'enable' });
      const other = await bind(alice, { script_id: script.id, connector_id: connector, hook_phase: 'before', operation_type: 'enable' });
      expect((await alice.patch(`/bindings/${other.id}`, { hook_phase: 'after' }).expect(409)).body).toMatchObject({ code: 'conflict', field: 'script_id' });
    });
  });

  describe('delete and reorder', () => {
    it('deleting closes up the hook and audits the binding', async () => {
      const { target, bindings } = await hook(4);
      await alice.delete(`/bindings/${bindings[1].id}`).expect(204);
      await alice.get(`/bindings/${bindings[1].id}`).expect(404);
      await alice.delete(`/bindings/${bindings[1].id}`).expect(404);
      expect(await orderOf(target)).toEqual([
        [bindings[0].id, 0],
        [bindings[2].id, 1],
        [bindings[3].id, 2],
      ]);
      const [audit] = await q(`SELECT action, script_id, details FROM audit_events WHERE entity_id = $1 AND action = 'delete'`, [bindings[1].id]);
      expect(audit).toMatchObject({ script_id: bindings[1].script_id, details: { execution_order: 1, before: { hook_phase: 'before', operation_type: 'create' } } });
    });

    it('heals gaps a cascade left (a bound script deleted) at the next change of the hook', async () => {
      const { target, bindings } = await hook(3);
      await alice.delete(`/scripts/${bindings[0].script_id}`).expect(204);
      const next = await bind(alice, { script_id: (await hookScript()).id, ...target });
      expect(next.execution_order).toBe(2);
      expect((await orderOf(target)).map(([, order]) => order)).toEqual([0, 1, 2]);
    });

    it('reorder sets the order from the full list, and audits each binding that moved', async () => {
      const { target, bindings } = await hook(3);
      const [a, b, c] = bindings.map((x) => x.id);
      const response = await alice.post('/bindings/reorder', { ...target, binding_ids: [c, a, b] }).expect(200);
      expect(response.body).toMatchObject({ ...target, items: [{ id: c, execution_order: 0 }, { id: a, execution_order: 1 }, { id: b, execution_order: 2 }] });
      expect(await orderOf(target)).toEqual([
        [c, 0],
        [a, 1],
        [b, 2],
      ]);
      const audit = await q(`SELECT entity_id, details FROM audit_events WHERE action = 'reorder' AND entity_id = ANY($1::uuid[]) ORDER BY details->>'to'`, [[a, b, c]]);
      expect(audit).toEqual([
        { entity_id: c, details: { ...target, from: 2, to: 0 } },
        { entity_id: a, details: { ...target, from: 0, to: 1 } },
        { entity_id: b, details: { ...target, from: 1, to: 2 } },
      ]);
      // The same order again moves nothing.
      await alice.post('/bindings/reorder', { ...target, binding_ids: [c, a, b] }).expect(200);
      expect((await q(`SELECT count(*)::int AS n FROM audit_events WHERE action = 'reorder' AND entity_id = ANY($1::uuid[])`, [[a, b, c]]))[0].n).toBe(3);
    });

    it('reorder must list exactly the current bindings of the hook', async () => {
      const { target, bindings } = await hook(2);
      const [a, b] = bindings.map((x) => x.id);
      const { bindings: elsewhere } = await hook(1);
      const cases: [Body, string, RegExp][] = [
        [{ binding_ids: [a] }, 'binding_ids', /missing/],
        [{ binding_ids: [a, b, elsewhere[0].id] }, 'binding_ids', /not bindings of this hook/],
        [{ binding_ids: [a, a] }, 'binding_ids', /must not repeat/],
        [{ binding_ids: [a, 'x'] }, 'binding_ids', /UUID/],
        [{ binding_ids: 'a,b' }, 'binding_ids', /array|UUID/],
        [{ hook_phase: 'during', binding_ids: [a, b] }, 'hook_phase', /must be one of/],
      ];
      for (const [body, field, message] of cases) {
        const response = await alice.post('/bindings/reorder', { ...target, ...body });
        expect({ body, status: response.status, field: response.body.field }).toEqual({ body, status: 400, field });
        expect(response.body.message).toMatch(message);
      }
      expect((await alice.post('/bindings/reorder', { ...target, connector_id: randomUUID(), binding_ids: [] }).expect(404)).body.field).toBe('connector_id');
      expect(await orderOf(target)).toEqual([
        [a, 0],
        [b, 1],
      ]);
    });
  });

  describe('lists and tenancy', () => {
    it('lists by connector, operation, phase and order, filtered and paged', async () => {
      const caller = t.caller();
      const conn = await createConnector(t, caller.tenantId);
      const s1 = await hookScript(caller);
      const s2 = await hookScript(caller);
      const b1 = await bind(caller, { script_id: s1.id, connector_id: conn, hook_phase: 'before', operation_type: 'create' });
      const b2 = await bind(caller, { script_id: s2.id, connector_id: conn, hook_phase: 'before', operation_type: 'create', enabled: false });
      const b3 = await bind(caller, { script_id: s1.id, connector_id: conn, hook_phase: 'after', operation_type: 'create' });
      const ids = async (query: Body) => (await caller.get('/bindings', query).expect(200)).body.items.map((b: Body) => b.id);
      expect(await ids({})).toEqual([b3.id, b1.id, b2.id]);
      expect(await ids({ script_id: s1.id })).toEqual([b3.id, b1.id]);
      expect(await ids({ hook_phase: 'before' })).toEqual([b1.id, b2.id]);
      expect(await ids({ enabled: 'false' })).toEqual([b2.id]);
      expect((await caller.get('/bindings', { limit: 1, offset: 1 }).expect(200)).body).toMatchObject({ items: [{ id: b1.id }], total: 3, limit: 1, offset: 1 });
      for (const [query, field] of [
        [{ script_id: 'x' }, 'script_id'],
        [{ enabled: 'maybe' }, 'enabled'],
        [{ limit: 500 }, 'limit'],
      ] as const) {
        expect((await caller.get('/bindings', query).expect(400)).body.field).toBe(field);
      }
      // Another tenant sees none of them, and cannot reach them.
      expect((await alice.get('/bindings', { connector_id: conn }).expect(200)).body).toMatchObject({ items: [], total: 0 });
      await alice.get(`/bindings/${b1.id}`).expect(404);
      await alice.patch(`/bindings/${b1.id}`, { enabled: false }).expect(404);
      await alice.delete(`/bindings/${b1.id}`).expect(404);
      expect((await alice.post('/bindings/reorder', { connector_id: conn, operation_type: 'create', hook_phase: 'before', binding_ids: [b2.id, b1.id] }).expect(404)).body.field).toBe('connector_id');
      expect((await caller.get(`/bindings/${b1.id}`).expect(200)).body.enabled).toBe(true);
    });

    it('needs a token and binding:read / binding:write', async () => {
      const created = await bind(alice, { script_id: (await hookScript()).id, connector_id: connector, hook_phase: 'after', operation_type: 'disable' });
      expect((await request(t.app.getHttpServer()).get('/bindings')).status).toBe(401);
      const reader = alice.with([Permission.BindingRead]);
      await reader.get(`/bindings/${created.id}`).expect(200);
      await reader.patch(`/bindings/${created.id}`, { enabled: false }).expect(403);
      await reader.post('/bindings/reorder', { connector_id: connector, operation_type: 'disable', hook_phase: 'after', binding_ids: [created.id] }).expect(403);
      const writer = alice.with([Permission.BindingWrite]);
      await writer.get('/bindings').expect(403);
      await writer.patch(`/bindings/${created.id}`, { enabled: false }).expect(200);
      await alice.with([Permission.BindingManage]).delete(`/bindings/${created.id}`).expect(204);
      await alice.get('/bindings/not-a-uuid').expect(400);
    });
  });
});
