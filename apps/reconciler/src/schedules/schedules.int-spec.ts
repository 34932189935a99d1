/**
 * The reconciliation schedules API against the real stack: validation naming the field, permissions,
 * tenant scope, next_run_at of each frequency (UTC) kept true through updates, enable and disable.
 */
import { randomUUID } from 'node:crypto';
import { Permission } from '@provisio/contracts';
import { compileReconciliationSchedule } from '@provisio/platform';
import { Caller, ReconcilerTestApp, startReconciler } from '../testing/reconciler-app';

jest.setTimeout(60_000);

describe('reconciliation schedules API', () => {
  let t: ReconcilerTestApp;
  let manager: Caller;
  let connector: () => Promise<string>;

  beforeAll(async () => {
    t = await startReconciler();
    manager = t.caller({ permissions: [Permission.ReconciliationManage] });
    connector = () => t.insertConnector(manager.tenantId, { type: 'sql', config: {} });
  });

  afterAll(async () => {
    await t?.close();
  });

  /** The next occurrence the shared timing gives, from just before the request (the server's "now" is a little later). */
  const expectedNext = (definition: Record<string, unknown>, before: Date) =>
    compileReconciliationSchedule({ hour_of_day: 0, day_of_week: null, day_of_month: null, cron_expression: null, ...definition } as never).next(before)!.toISOString();

  async function create(body: Record<string, unknown>, caller = manager) {
    return caller.post('/reconciliation/schedules', { connector_id: await connector(), ...body });
  }

  it.each([
    [{ frequency: 'hourly' }],
    [{ frequency: 'daily', hour_of_day: 3 }],
    [{ frequency: 'weekly', day_of_week: 0, hour_of_day: 22 }],
    [{ frequency: 'monthly', day_of_month: 31, hour_of_day: 1 }],
    [{ frequency: 'cron', cron_expression: '15 */6 * * *' }],
  ])('creates %j with next_run_at its first occurrence after now (UTC)', async (definition) => {
    const before = new Date();
    const created = await create({ mode: 'delta', ...definition });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ mode: 'delta', enabled: true, dry_run: false, timezone: 'UTC', last_run_at: null, last_outcome: null, next_run_at: expectedNext(definition, before), ...definition });
    expect(Date.parse(created.body.next_run_at)).toBeGreaterThan(before.getTime());
    expect(created.body.connector_name).toMatch(/^c-/);
    expect((await manager.get(`/reconciliation/schedules/${created.body.id}`)).body).toEqual(created.body);
  });

  it('previews the next occurrences (count 1-100), the same the scheduler fires', async () => {
    const created = await create({ frequency: 'monthly', day_of_month: 31, hour_of_day: 6 });
    const before = new Date();
    const preview = await manager.get(`/reconciliation/schedules/${created.body.id}/occurrences`, { count: 4 });
    expect(preview.status).toBe(200);
    const expected = compileReconciliationSchedule({ frequency: 'monthly', day_of_month: 31, hour_of_day: 6, day_of_week: null, cron_expression: null }).upcoming(before, 4).map((d) => d.toISOString());
    expect(preview.body).toEqual({ schedule_id: created.body.id, timezone: 'UTC', enabled: true, next_run_at: expected[0], items: expected });
    // Each on the 31st, or the last day of a shorter month, at 06:00 UTC.
    for (const at of preview.body.items as string[]) {
      const d = new Date(at);
      expect([d.getUTCDate(), d.getUTCHours()]).toEqual([Math.min(31, new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate()), 6]);
    }
    const tooMany = await manager.get(`/reconciliation/schedules/${created.body.id}/occurrences`, { count: 101 });
    expect({ status: tooMany.status, field: tooMany.body.field }).toEqual({ status: 400, field: 'count' });
  });

  it.each([
    [{ frequency: 'weekly' }, 'day_of_week', /needs day_of_week/],
    [{ frequency: 'monthly', hour_of_day: 2 }, 'day_of_month', /needs day_of_month/],
    [{ frequency: 'cron' }, 'cron_expression', /needs cron_expression/],
    [{ frequency: 'cron', cron_expression: '61 * * * *' }, 'cron_expression', /minute field "61": 61 is outside 0-59/],
    [{ frequency: 'cron', cron_expression: '* * *' }, 'cron_expression', /has 3 fields/],
    [{ frequency: 'cron', cron_expression: 'x\u0000y * * * *' }, 'cron_expression', /cron_expression/],
    [{ frequency: 'cron', cron_expression: '*'.repeat(10_000) }, 'cron_expression', /255/],
    [{ frequency: 'daily', day_of_week: 2 }, 'day_of_week', /does not apply to a daily schedule/],
    [{ frequency: 'weekly', day_of_week: 1, cron_expression: '* * * * *' }, 'cron_expression', /does not apply/],
    [{ frequency: 'hourly', hour_of_day: 5 }, 'hour_of_day', /does not apply to a hourly/],
    [{ frequency: 'daily', hour_of_day: 24 }, 'hour_of_day', /hour_of_day/],
    [{ frequency: 'daily', hour_of_day: '3' }, 'hour_of_day', /hour_of_day/],
    [{ frequency: 'weekly', day_of_week: 7 }, 'day_of_week', /day_of_week/],
    [{ frequency: 'monthly', day_of_month: 0 }, 'day_of_month', /day_of_month/],
    [{ frequency: 'yearly' }, 'frequency', /frequency/],
    [{ frequency: 'daily', mode: 'partial' }, 'mode', /mode/],
    [{ frequency: 'daily', timezone: 'Europe/Paris' }, 'timezone', /timezone/],
  ])('refuses %j: 400 naming %s', async (definition, field, message) => {
    const response = await create(definition);
    expect({ status: response.status, field: response.body.field }).toEqual({ status: 400, field });
    expect(response.body.message).toMatch(message);
  });

  it("refuses another tenant's connector (404 naming connector_id), a second schedule of a connector (409), a bad connector_id (400)", async () => {
    const foreign = await t.insertConnector(randomUUID(), { type: 'sql', config: {} });
    const other = await manager.post('/reconciliation/schedules', { connector_id: foreign, frequency: 'hourly' });
    expect({ status: other.status, field: other.body.field }).toEqual({ status: 404, field: 'connector_id' });
    const id = await connector();
    expect((await manager.post('/reconciliation/schedules', { connector_id: id, frequency: 'hourly' })).status).toBe(201);
    const twice = await manager.post('/reconciliation/schedules', { connector_id: id, frequency: 'daily' });
    expect({ status: twice.status, field: twice.body.field }).toEqual({ status: 409, field: 'connector_id' });
    const bad = await manager.post('/reconciliation/schedules', { connector_id: 'nope', frequency: 'daily' });
    expect({ status: bad.status, field: bad.body.field }).toEqual({ status: 400, field: 'connector_id' });
  });

  it('permissions: read lists and reads; writing needs reconciliation:manage (write is not enough); no token is 401', async () => {
    const created = await create({ frequency: 'hourly' });
    const reader = manager.with([Permission.ReconciliationRead]);
    const writer = manager.with([Permission.ReconciliationWrite]);
    const path = `/reconciliation/schedules/${created.body.id}`;
    expect((await reader.get(path)).status).toBe(200);
    expect((await reader.get('/reconciliation/schedules')).status).toBe(200);
    expect((await manager.with([Permission.ConnectorRead]).get(path)).status).toBe(403);
    for (const who of [reader, writer]) {
      expect((await who.post('/reconciliation/schedules', { connector_id: await connector(), frequency: 'hourly' })).status).toBe(403);
      expect((await who.patch(path, { mode: 'delta' })).status).toBe(403);
      expect((await who.post(`${path}/disable`)).status).toBe(403);
      expect((await who.post(`${path}/enable`)).status).toBe(403);
      expect((await who.delete(path)).status).toBe(403);
    }
    const noToken = await manager.get(path).set('Authorization', '');
    expect(noToken.status).toBe(401);
  });

  it("another tenant's schedule is a 404 everywhere", async () => {
    const created = await create({ frequency: 'hourly' });
    const stranger = t.caller({ permissions: [Permission.ReconciliationManage] });
    const path = `/reconciliation/schedules/${created.body.id}`;
    expect((await stranger.get(path)).status).toBe(404);
    expect((await stranger.patch(path, { mode: 'delta' })).status).toBe(404);
    expect((await stranger.post(`${path}/disable`)).status).toBe(404);
    expect((await stranger.delete(path)).status).toBe(404);
    expect((await stranger.get('/reconciliation/schedules')).body.items.map((s: { id: string }) => s.id)).not.toContain(created.body.id);
    expect((await manager.get(path)).body.enabled).toBe(true);
  });

  it('update: fields the new frequency does not use are cleared, next_run_at is computed again; disable and enable', async () => {
    const created = await create({ frequency: 'weekly', day_of_week: 3, hour_of_day: 4 });
    const path = `/reconciliation/schedules/${created.body.id}`;
    let before = new Date();
    const daily = await manager.patch(path, { frequency: 'daily' });
    expect(daily.status).toBe(200);
    expect(daily.body).toMatchObject({ frequency: 'daily', day_of_week: null, hour_of_day: 4, next_run_at: expectedNext({ frequency: 'daily', hour_of_day: 4 }, before) });

    before = new Date();
    const cron = await manager.patch(path, { frequency: 'cron', cron_expression: '0 12 1 1 *', dry_run: true });
    expect(cron.body).toMatchObject({ frequency: 'cron', cron_expression: '0 12 1 1 *', hour_of_day: 0, dry_run: true, next_run_at: expectedNext({ frequency: 'cron', cron_expression: '0 12 1 1 *' }, before) });
    const wrong = await manager.patch(path, { day_of_month: 3 });
    expect({ status: wrong.status, field: wrong.body.field }).toEqual({ status: 400, field: 'day_of_month' });
    const unknown = await manager.patch(path, { connector_id: randomUUID() });
    expect({ status: unknown.status, field: unknown.body.field }).toEqual({ status: 400, field: 'connector_id' });

    const disabled = await manager.post(`${path}/disable`);
    expect(disabled.body).toMatchObject({ enabled: false, next_run_at: null });
    expect((await manager.post(`${path}/disable`)).body).toMatchObject({ enabled: false, next_run_at: null });
    expect((await manager.patch(path, { mode: 'delta' })).body).toMatchObject({ mode: 'delta', enabled: false, next_run_at: null });
    before = new Date();
    const enabled = await manager.post(`${path}/enable`);
    expect(enabled.body).toMatchObject({ enabled: true, next_run_at: expectedNext({ frequency: 'cron', cron_expression: '0 12 1 1 *' }, before) });

    const listed = await manager.get('/reconciliation/schedules', { connector_id: created.body.connector_id });
    expect(listed.body).toMatchObject({ total: 1, limit: 50, offset: 0, items: [{ id: created.body.id, mode: 'delta' }] });
    expect((await manager.get('/reconciliation/schedules', { enabled: 'false', frequency: 'cron' })).body.items.map((s: { id: string }) => s.id)).not.toContain(created.body.id);

    expect((await manager.delete(path)).status).toBe(204);
    expect((await manager.get(path)).status).toBe(404);
    expect((await manager.delete(path)).status).toBe(404);
  });
});
