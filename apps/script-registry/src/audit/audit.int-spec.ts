import { randomUUID } from 'node:crypto';
import { Caller, RegistryTestApp, startRegistry } from '../common/testing/registry-app';

interface Event {
  action: string;
  actor_id: string;
  script_id: string | null;
  entity_type: string;
  entity_id: string;
  details: string;
  created_at: string;
}

describe('script-registry: audit', () => {
  let t: RegistryTestApp;
  let erin: Caller;
  let frank: Caller;
  let scriptId: string;
  let midpoint: string;

  beforeAll(async () => {
    t = await startRegistry();
    erin = t.caller({ subject: 'erin' });
    frank = t.caller({ tenantId: erin.tenantId, subject: 'frank' });
    scriptId = (await erin.createScript({ name: 'audited', source: 'v1' })).id;
    await erin.patch(`/scripts/${scriptId}`, { description: 'now described', source: 'v2' }).expect(200);
    await frank.post(`/scripts/${scriptId}/status`, { status: 'active', reason: 'go live' }).expect(200);
    midpoint = new Date().toISOString();
    await frank.post(`/scripts/${scriptId}/status`, { status: 'paused' }).expect(200);
    await frank.post(`/scripts/${scriptId}/status`, { status: 'inactive' }).expect(200);
    await erin.post(`/scripts/${scriptId}/versions`, { source: 'v3' }).expect(201);
    await erin.post(`/scripts/${scriptId}/versions/1/rollback`, {}).expect(201);
    await frank.post(`/scripts/${scriptId}/status`, { status: 'archived' }).expect(200);
    await erin.delete(`/scripts/${scriptId}`).expect(204);
    await t.caller().createScript({ name: 'elsewhere' }); // another tenant's trail
  });
  afterAll(async () => t?.close());

  it('records every change with its actor (JWT subject) and details, newest first, and keeps it after the delete', async () => {
    const response = await erin.get(`/scripts/${scriptId}/audit`).expect(200);
    const events: Event[] = response.body.items;
    expect(events.map((e) => [e.action, e.actor_id])).toEqual([
      ['delete', 'erin'],
      ['archive', 'frank'],
      ['rollback', 'erin'],
      ['create_version', 'erin'],
      ['disable', 'frank'],
      ['pause', 'frank'],
      ['activate', 'frank'],
      ['update', 'erin'],
      ['create', 'erin'],
    ]);
    expect(response.body).toMatchObject({ total: 9, limit: 50, offset: 0 });
    expect(events.every((e) => e.entity_type === 'script' && e.entity_id === scriptId && e.script_id === null)).toBe(true);
    const details = (action: string) => JSON.parse(events.find((e) => e.action === action)!.details);
    expect(details('update')).toEqual({
      changed: ['description', 'source'],
      before: { description: null },
      after: { description: 'now described' },
      version_number: 2,
      previous_version: 1,
    });
    expect(details('activate')).toEqual({ from: 'draft', to: 'active', reason: 'go live' });
    expect(details('disable')).toEqual({ from: 'paused', to: 'disabled', requested: 'inactive' });
    expect(details('create')).toMatchObject({ version_number: 1, after: { name: 'audited', status: 'draft', type: 'oneoff' } });
  });

  it('lists the tenant trail with filters and pages', async () => {
    const list = async (query: Record<string, unknown>) => (await erin.get('/audit', query).expect(200)).body;
    expect((await list({})).total).toBe(9);
    expect((await list({ action: 'pause,disable' })).items.map((e: Event) => e.action)).toEqual(['disable', 'pause']);
    expect((await list({ actor: 'frank' })).total).toBe(4);
    expect((await list({ entity_type: 'script', entity_id: scriptId })).total).toBe(9);
    expect((await list({ entity_type: 'hook_binding' })).total).toBe(0);
    expect((await list({ from: midpoint })).items.map((e: Event) => e.action)).toEqual(['delete', 'archive', 'rollback', 'create_version', 'disable', 'pause']);
    expect((await list({ to: midpoint })).items.map((e: Event) => e.action)).toEqual(['activate', 'update', 'create']);
    const page = await list({ limit: 2, offset: 2 });
    expect(page).toMatchObject({ total: 9, limit: 2, offset: 2 });
    expect(page.items.map((e: Event) => e.action)).toEqual(['rollback', 'create_version']);
  });

  it('refuses malformed filters with 400 naming the field, and unknown scripts with 404', async () => {
    for (const [query, field] of [
      [{ from: 'yesterday' }, 'from'],
      [{ to: '2026-13-01' }, 'to'],
      [{ script_id: 'x' }, 'script_id'],
      [{ action: 'Drop Table' }, 'action'],
      [{ limit: 500 }, 'limit'],
    ] as const) {
      const response = await erin.get('/audit', query);
      expect({ field, status: response.status, got: response.body.field }).toEqual({ field, status: 400, got: field });
    }
    expect((await erin.get(`/scripts/${randomUUID()}/audit`)).status).toBe(404);
    expect((await erin.get(`/scripts/not-a-uuid/audit`)).body).toMatchObject({ status: 400, field: 'id' });
  });
});
