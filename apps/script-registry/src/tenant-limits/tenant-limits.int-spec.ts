import { Permission } from '@provisio/contracts';
import { DEFAULT_TENANT_LIMIT_CAPS } from '@provisio/persistence';
import { Caller, RegistryTestApp, startRegistry } from '../common/testing/registry-app';

const MiB = 1024 * 1024;

describe('script-registry: tenant limit caps', () => {
  let t: RegistryTestApp;
  let admin: Caller;
  let writer: Caller;

  beforeAll(async () => {
    t = await startRegistry();
    admin = t.caller({ subject: 'admin' });
    writer = admin.with([Permission.ScriptRead, Permission.ScriptWrite, Permission.ScriptExecute]);
  });
  afterAll(async () => t?.close());

  it('shows the defaults until an administrator sets caps; keys left out fall back to their default', async () => {
    expect((await writer.get('/tenant/limits').expect(200)).body).toEqual({ tenant_id: admin.tenantId, ...DEFAULT_TENANT_LIMIT_CAPS, set: [] });
    await writer.post('/scripts', { name: 'x', type: 'oneoff', source: 'x' }).expect(201); // makes the tenant row
    expect((await writer.put('/tenant/limits', { max_memory_bytes: 16 * MiB })).status).toBe(403);
    const set = await admin.put('/tenant/limits', { max_memory_bytes: 16 * MiB, max_concurrent_runs: 3 }).expect(200);
    expect(set.body).toEqual({ tenant_id: admin.tenantId, ...DEFAULT_TENANT_LIMIT_CAPS, max_memory_bytes: 16 * MiB, max_concurrent_runs: 3, set: ['max_memory_bytes', 'max_concurrent_runs'] });
    const [audit] = await t.db.dataSource.query(`SELECT action, entity_type FROM audit_events WHERE tenant_id = $1 AND entity_type = 'tenant'`, [admin.tenantId]);
    expect(audit).toEqual({ action: 'update_limits', entity_type: 'tenant' });
    // Another tenant keeps its defaults.
    expect((await t.caller().get('/tenant/limits').expect(200)).body).toMatchObject(DEFAULT_TENANT_LIMIT_CAPS);
  });

  it('refuses a script asking for more than a cap: 400 naming the field and the cap; at the cap it is fine', async () => {
    await admin.put('/tenant/limits', { max_memory_bytes: 16 * MiB, max_concurrent_runs: 3 }).expect(200);
    const over = await writer.post('/scripts', { name: 'big', type: 'oneoff', source: 'x', resource_limits: { max_memory_bytes: 32 * MiB } }).expect(400);
    expect(over.body).toMatchObject({ code: 'validation_failed', field: 'resource_limits.max_memory_bytes', details: { cap: 16 * MiB } });
    expect(over.body.message).toContain(String(16 * MiB));
    const script = await writer.createScript({ resource_limits: { max_memory_bytes: 16 * MiB, max_concurrent_runs: 3 } });
    const raised = await writer.patch(`/scripts/${script.id}`, { resource_limits: { max_concurrent_runs: 4 } }).expect(400);
    expect(raised.body.field).toBe('resource_limits.max_concurrent_runs');
    // A cap below seed 001's default lowers the default of a script that asks for nothing.
    await admin.put('/tenant/limits', { max_execution_time_ms: 1000 }).expect(200);
    expect((await writer.createScript()).resource_limits.max_execution_time_ms).toBe(1000);
    await admin.put('/tenant/limits', {}).expect(200);
  });

  it('holds a script saved under a higher cap to the current one when it runs (dry run)', async () => {
    const script = await writer.createScript({ source: 'export default async () => { for (;;) {} };', resource_limits: { max_execution_time_ms: 20_000 } });
    await admin.put('/tenant/limits', { max_execution_time_ms: 300 }).expect(200);
    const started = Date.now();
    const run = await writer.post(`/scripts/${script.id}/dry-run`, {}).expect(200);
    expect(run.body.status).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(10_000);
    await admin.put('/tenant/limits', {}).expect(200);
  });

  it('answers 429 with Retry-After to unsaved dry runs beyond the per-tenant cap, and serves the others', async () => {
    const busy = 'export default async () => { const end = Date.now() + 1500; while (Date.now() < end) {} return 1; };';
    const answers = await Promise.all(Array.from({ length: 4 }, () => writer.post('/scripts/dry-run', { source: busy })));
    const refused = answers.filter((a) => a.status === 429);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(2);
    expect(refused).toHaveLength(2);
    expect(refused[0].headers['retry-after']).toBe('1');
    expect(refused[0].body).toMatchObject({ code: 'rate_limited', message: expect.stringContaining('for this tenant (2)') });
    // Another tenant is not held up by this one's cap.
    expect((await t.caller().post('/scripts/dry-run', { source: 'export default () => 1' })).status).toBe(200);
  });
});
