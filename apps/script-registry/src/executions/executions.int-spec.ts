import { EventType, Permission, Topic } from '@provisio/contracts';
import { Caller, RegistryTestApp, startRegistry } from '../common/testing/registry-app';

/**
 * The registry's side of run-now and cancel: what is recorded and announced. That the execution worker
 * then runs (or interrupts) it is tested with the worker (docs/registry.md, "Run now").
 */
describe('script-registry: run now, executions, cancel', () => {
  let t: RegistryTestApp;
  let own: Caller;

  beforeAll(async () => {
    t = await startRegistry();
    own = t.caller();
  });
  afterAll(async () => t?.close());

  const q = (sql: string, params: unknown[]) => t.db.dataSource.query(sql, params);
  const requestsOf = (executionId: string) => q(`SELECT topic, event_type, payload FROM outbox WHERE payload->>'subject' = $1 ORDER BY seq`, [executionId]);

  async function scriptWithParameters(overrides: Record<string, unknown> = {}) {
    const script = await own.createScript(overrides);
    await own
      .put(`/scripts/${script.id}/parameters`, {
        parameters: [
          { name: 'user', type: 'email', required: true },
          { name: 'batch', type: 'integer', default_value: 10, validation_rules: { min: 1, max: 100 } },
          { name: 'api_key', type: 'string', is_secret: true },
        ],
      })
      .expect(200);
    return script;
  }

  it('records a pending execution (input checked, defaults filled, secrets sealed) and asks the worker to run that row', async () => {
    const script = await scriptWithParameters();
    const run = await own.post(`/scripts/${script.id}/executions`, { input: { user: 'ann@example.com', api_key: 'k-123-secret' } }).expect(202);
    expect(run.body).toMatchObject({ script_id: script.id, status: 'pending', trigger_type: 'api', executed_by: own.subject, finished: false, input: { user: 'ann@example.com', batch: 10, api_key: '********' } });
    const [row] = await q(`SELECT input::text AS input FROM script_executions WHERE id = $1`, [run.body.id]);
    expect(row.input).not.toContain('k-123-secret');
    expect(JSON.parse(row.input)).toMatchObject({ user: 'ann@example.com', batch: 10, api_key: { $sealed: expect.stringMatching(/^v1:test:/) } });
    const [request] = await requestsOf(run.body.id);
    expect(request).toMatchObject({ topic: Topic.ScriptExecutionRequests, event_type: EventType.ScriptExecutionRequested, payload: { data: { execution_id: run.body.id, script_id: script.id, trigger_type: 'api', input: {} } } });
    // The CLI or a console says it is a person: manual.
    const manual = await own.post(`/scripts/${script.id}/executions`, { input: { user: 'bob@example.com' } }).set('X-Provisio-Client', 'cli').expect(202);
    expect(manual.body.trigger_type).toBe('manual');
  });

  it('answers 400 naming the wrong parameter, and records nothing', async () => {
    const script = await scriptWithParameters();
    const missing = await own.post(`/scripts/${script.id}/executions`, { input: {} }).expect(400);
    expect(missing.body).toMatchObject({ field: 'input.user', message: 'input.user is required' });
    const range = await own.post(`/scripts/${script.id}/executions`, { input: { user: 'a@b.example', batch: 1000 } }).expect(400);
    expect(range.body.field).toBe('input.batch');
    const unknown = await own.post(`/scripts/${script.id}/executions`, { input: { user: 'a@b.example', surprise: 1 } }).expect(400);
    expect(unknown.body).toMatchObject({ field: 'input.surprise' });
    expect((await own.post(`/scripts/${script.id}/executions`, { input: 'x' }).expect(400)).body.field).toBe('input');
    expect(await q(`SELECT id FROM script_executions WHERE script_id = $1`, [script.id])).toEqual([]);
  });

  it("needs script:execute and the script's required_permissions; refuses types that run by their trigger", async () => {
    const guarded = await own.createScript({ required_permissions: ['identity:manage'] });
    const runner = own.with([Permission.ScriptExecute, Permission.ScriptExecutionRead]);
    const forbidden = await runner.post(`/scripts/${guarded.id}/executions`, {}).expect(403);
    expect(forbidden.body.message).toContain('identity:manage');
    await own.with([Permission.ScriptRead]).post(`/scripts/${guarded.id}/executions`, {}).expect(403);
    await runner.with([Permission.ScriptExecute, 'identity:manage']).post(`/scripts/${guarded.id}/executions`, {}).expect(202);
    const event = await own.createScript({ type: 'event', event_types: ['user.created'] });
    expect((await own.post(`/scripts/${event.id}/executions`, {}).expect(409)).body.field).toBe('type');
    expect((await t.caller().post(`/scripts/${guarded.id}/executions`, {})).status).toBe(404);
  });

  it('GET /executions/{id} waits at most ?wait seconds; lists filter by script, status and trigger', async () => {
    const script = await own.createScript();
    const run = await own.post(`/scripts/${script.id}/executions`, {}).expect(202);
    const started = Date.now();
    const waited = await own.get(`/executions/${run.body.id}`, { wait: 1 }).expect(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    expect(waited.body).toMatchObject({ id: run.body.id, status: 'pending', finished: false, logs: [] });
    expect((await own.get(`/executions/${run.body.id}`, { wait: 61 }).expect(400)).body.field).toBe('wait');
    // A run finishing during the wait is answered at once.
    setTimeout(() => void q(`UPDATE script_executions SET status = 'completed', output = '42', completed_at = now() WHERE id = $1`, [run.body.id]), 300);
    const done = await own.get(`/executions/${run.body.id}`, { wait: 30 }).expect(200);
    expect(done.body).toMatchObject({ status: 'completed', output: 42, finished: true });

    const list = await own.get('/executions', { script_id: script.id, status: 'completed', trigger_type: 'api' }).expect(200);
    expect(list.body).toMatchObject({ total: 1, items: [{ id: run.body.id }] });
    expect((await own.get('/executions', { script_id: script.id, status: 'pending' }).expect(200)).body.total).toBe(0);
    expect((await own.get('/executions', { status: 'nope' }).expect(400)).body.field).toBe('status');
    expect((await t.caller().get('/executions', { script_id: script.id }).expect(200)).body.total).toBe(0);
    expect((await t.caller().get(`/executions/${run.body.id}`)).status).toBe(404);
  });

  it('cancels a pending run (never started) and a running one (the worker is told); a finished one is 409', async () => {
    const script = await own.createScript();
    const pending = await own.post(`/scripts/${script.id}/executions`, {}).expect(202);
    const cancelled = await own.post(`/executions/${pending.body.id}/cancel`).expect(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', cancelled_by: own.subject, finished: true });
    expect(cancelled.body.cancelled_at).toEqual(expect.any(String));
    const events = (await requestsOf(pending.body.id)).map((r: { event_type: string }) => r.event_type);
    expect(events).toEqual([EventType.ScriptExecutionRequested, EventType.ScriptExecutionFinished]);
    const again = await own.post(`/executions/${pending.body.id}/cancel`).expect(409);
    expect(again.body).toMatchObject({ field: 'status', details: { status: 'cancelled' } });

    const running = await own.post(`/scripts/${script.id}/executions`, {}).expect(202);
    await q(`UPDATE script_executions SET status = 'running' WHERE id = $1`, [running.body.id]);
    await own.post(`/executions/${running.body.id}/cancel`).expect(200);
    const published = await requestsOf(running.body.id);
    expect(published.map((r: { topic: string }) => r.topic)).toEqual([Topic.ScriptExecutionRequests, Topic.ScriptExecutionCancellations, Topic.ScriptExecutions]);
    expect(published[1].payload.data).toEqual({ execution_id: running.body.id, script_id: script.id, cancelled_by: own.subject });
    const [audit] = await q(`SELECT action, entity_type, actor_id FROM audit_events WHERE entity_id = $1`, [running.body.id]);
    expect(audit).toEqual({ action: 'cancel', entity_type: 'script_execution', actor_id: own.subject });

    const finished = await own.post(`/scripts/${script.id}/executions`, {}).expect(202);
    await q(`UPDATE script_executions SET status = 'completed' WHERE id = $1`, [finished.body.id]);
    expect((await own.post(`/executions/${finished.body.id}/cancel`).expect(409)).body.details).toEqual({ status: 'completed' });
    expect((await t.caller().post(`/executions/${finished.body.id}/cancel`)).status).toBe(404);
  });

  it('activating a oneoff script records its one run with the parameter defaults', async () => {
    const script = await own.createScript({ type: 'oneoff' });
    await own.put(`/scripts/${script.id}/parameters`, { parameters: [{ name: 'n', type: 'integer', required: true }] }).expect(200);
    // A required parameter without default: activation is refused, naming it.
    expect((await own.post(`/scripts/${script.id}/status`, { status: 'active' }).expect(400)).body.field).toBe('input.n');
    await own.put(`/scripts/${script.id}/parameters`, { parameters: [{ name: 'n', type: 'integer', required: true, default_value: 7 }] }).expect(200);
    await own.post(`/scripts/${script.id}/status`, { status: 'active' }).expect(200);
    const runs = await own.get('/executions', { script_id: script.id }).expect(200);
    expect(runs.body.items).toEqual([expect.objectContaining({ trigger_type: 'oneoff', status: 'pending', input: { n: 7 } })]);
  });
});
