import request from 'supertest';
import { Permission } from '@provisio/contracts';
import { Caller, RegistryTestApp, startRegistry } from '../common/testing/registry-app';
import { createConnector, insertExecution } from '../common/testing/row-fixtures';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Body = Record<string, any>;

describe('script-registry: execution logs', () => {
  let t: RegistryTestApp;
  let alice: Caller;
  let script: Body;
  let other: Body;
  let bindingId: string;
  let connectorId: string;
  const ids: Record<string, string> = {};
  const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000);

  beforeAll(async () => {
    t = await startRegistry();
    alice = t.caller({ subject: 'alice' });
    script = await alice.createScript({ type: 'embedded' });
    other = await alice.createScript({ type: 'embedded' });
    connectorId = await createConnector(t, alice.tenantId);
    bindingId = (await alice.post('/bindings', { script_id: script.id, connector_id: connectorId, hook_phase: 'before', operation_type: 'create' }).expect(201)).body.id;
    const tenant = alice.tenantId;
    ids.success = await insertExecution(t, tenant, script.id, {
      status: 'completed',
      trigger_type: 'hook',
      started_at: at(10),
      duration_ms: 42,
      input: { identity: { id: 'u-1' } },
      output: { attributes: { uid: 'jdoe' } },
      binding_id: bindingId,
      connector_id: connectorId,
      script_version: 1,
      logs: [{ level: 'info', message: 'mapped', timestamp: at(10).toISOString() }],
    });
    ids.failure = await insertExecution(t, tenant, script.id, { status: 'failed', started_at: at(20), duration_ms: 7, error: 'TypeError: boom (line 3)' });
    ids.timeout = await insertExecution(t, tenant, script.id, { status: 'timeout', started_at: at(30), duration_ms: 5000, error: 'timeout: the run exceeded max_execution_time_ms (5000 ms)' });
    ids.cancelled = await insertExecution(t, tenant, script.id, { status: 'cancelled', started_at: at(40), duration_ms: null });
    ids.skipped = await insertExecution(t, tenant, other.id, { status: 'skipped', started_at: at(50), duration_ms: 0 });
    ids.running = await insertExecution(t, tenant, script.id, { status: 'running', started_at: at(1) });
    ids.pending = await insertExecution(t, tenant, script.id, { status: 'pending', started_at: at(2) });
    ids.old = await insertExecution(t, tenant, script.id, { status: 'completed', started_at: at(60 * 24 * 3), duration_ms: 10 });
    // A dry run, recorded by the registry itself.
    ids.dry = (await alice.post(`/scripts/${script.id}/dry-run`, { context: { input: { n: 1 } } }).expect(200)).body.execution_id;
  });
  afterAll(async () => t?.close());

  const list = async (query: Body = {}, caller = alice) => (await caller.get('/execution-logs', { limit: 200, ...query }).expect(200)).body;
  const listed = async (query: Body = {}) => (await list(query)).items.map((item: Body) => item.id);

  it("lists the tenant's finished executions newest first, in seed 000's ExecutionLog shape", async () => {
    const page = await list();
    expect(page).toMatchObject({ total: 7, limit: 200, offset: 0 });
    expect(page.items.map((i: Body) => i.id)).toEqual([ids.dry, ids.success, ids.failure, ids.timeout, ids.cancelled, ids.skipped, ids.old]);
    expect(page.items[1]).toEqual({
      id: ids.success,
      tenant_id: alice.tenantId,
      script_id: script.id,
      binding_id: bindingId,
      connector_id: connectorId,
      script_version: 1,
      status: 'success',
      dry_run: false,
      input_context: JSON.stringify({ identity: { id: 'u-1' } }),
      output: JSON.stringify({ attributes: { uid: 'jdoe' } }),
      error: null,
      duration_ms: 42,
      executed_by: null,
      executed_at: expect.any(String),
      trigger_type: 'hook',
    });
    expect(new Date(page.items[1].executed_at).getTime()).toBeGreaterThan(Date.now() - 11 * 60_000);
    expect(page.items.map((i: Body) => i.status)).toEqual(['success', 'success', 'failure', 'timeout', 'skipped', 'skipped', 'success']);
    expect(page.items[0]).toMatchObject({ dry_run: true, executed_by: 'alice', trigger_type: 'manual', input_context: '{"input":{"n":1}}', output: '1' });
    // No duration in metrics: none to report (a cancelled run never ran).
    expect(page.items[4]).toMatchObject({ status: 'skipped', duration_ms: null });
  });

  it('filters by script, binding, connector, status, dry run and time, and pages', async () => {
    expect(await listed({ script_id: other.id })).toEqual([ids.skipped]);
    expect(await listed({ binding_id: bindingId })).toEqual([ids.success]);
    expect(await listed({ connector_id: connectorId })).toEqual([ids.success]);
    expect(await listed({ status: 'failure,timeout' })).toEqual([ids.failure, ids.timeout]);
    expect(await listed({ status: ['skipped'] })).toEqual([ids.cancelled, ids.skipped]);
    expect(await listed({ dry_run: 'true' })).toEqual([ids.dry]);
    expect(await listed({ dry_run: 'false', status: 'success' })).toEqual([ids.success, ids.old]);
    expect(await listed({ from: at(35).toISOString(), to: at(15).toISOString() })).toEqual([ids.failure, ids.timeout]);
    expect(await listed({ to: at(60 * 24).toISOString() })).toEqual([ids.old]);
    const page = await list({ limit: 2, offset: 2 });
    expect(page).toMatchObject({ total: 7, limit: 2, offset: 2 });
    expect(page.items.map((i: Body) => i.id)).toEqual([ids.failure, ids.timeout]);
  });

  it.each([
    [{ status: 'completed' }, 'status'],
    [{ dry_run: 'maybe' }, 'dry_run'],
    [{ from: 'yesterday' }, 'from'],
    [{ from: '2025-01-02T00:00:00Z', to: '2025-01-01T00:00:00Z' }, 'to'],
    [{ script_id: '42' }, 'script_id'],
    [{ limit: 0 }, 'limit'],
    [{ sort: 'status' }, 'sort'],
  ])('answers 400 naming the field for %j', async (query, field) => {
    expect((await alice.get('/execution-logs', query).expect(400)).body).toMatchObject({ code: 'validation_failed', field });
  });

  it('shows one log with the lines the script wrote; unfinished runs are not logs yet', async () => {
    const one = (await alice.get(`/execution-logs/${ids.success}`).expect(200)).body;
    expect(one).toMatchObject({ id: ids.success, status: 'success', logs: [{ level: 'info', message: 'mapped' }] });
    await alice.get(`/execution-logs/${ids.running}`).expect(404);
    await alice.get(`/execution-logs/${ids.pending}`).expect(404);
    expect((await alice.get('/execution-logs/nope').expect(400)).body.field).toBe('id');
  });

  it("keeps other tenants' executions out of reach", async () => {
    const stranger = t.caller();
    const theirs = await stranger.createScript();
    const theirRun = await insertExecution(t, stranger.tenantId, theirs.id, { status: 'failed', error: 'x' });
    await alice.get(`/execution-logs/${theirRun}`).expect(404);
    expect(await listed({ script_id: theirs.id })).toEqual([]);
    expect((await list({}, stranger)).items.map((i: Body) => i.id)).toEqual([theirRun]);
  });

  it('needs a token and script_execution:read', async () => {
    expect((await request(t.app.getHttpServer()).get('/execution-logs')).status).toBe(401);
    await alice.with([Permission.ScriptRead]).get('/execution-logs').expect(403);
    await alice.with([Permission.ScriptRead]).get(`/execution-logs/${ids.success}`).expect(403);
    await alice.with([Permission.ScriptExecutionRead]).get(`/execution-logs/${ids.success}`).expect(200);
    await alice.with([Permission.ScriptExecutionManage]).get('/execution-logs').expect(200);
  });
});
