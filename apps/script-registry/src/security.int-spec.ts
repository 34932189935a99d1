/**
 * The registry's security matrix: EVERY route the app serves has a row, and every row is checked for
 *   - 401 without a token (and with a token signed by someone else),
 *   - 403 with a token holding every permission except the endpoint's (and its `:manage`),
 *   - 404 (or absence, for collections) when aimed at another tenant's object,
 *   - 400 naming the field for a malformed body, query or path parameter,
 *   - success with the permission (so the 401/403/404 above are not accidents of a wrong request).
 * The routes are read from Express's router, so a new endpoint without a row fails "every route has a
 * row". Below the matrix: failed requests leave nothing half-written.
 *
 * Adding an endpoint = adding one object to ROWS: its route exactly as Express registers it
 * (`METHOD /path/:param`), its permission, and three request builders (valid / foreign / malformed).
 * Builders get a `Fixture`: `own` (a caller with every permission in tenant A), `ownScript()` (a fresh
 * script of tenant A with versions 1 and 2), and `foreign` (a script of tenant B, with versions 1 and 2).
 */
import { randomUUID } from 'node:crypto';
import request, { Response } from 'supertest';
import { Permission } from '@provisio/contracts';
import jwt from 'jsonwebtoken';
import { describeSecurityMatrix, TEST_JWT_SECRET } from '@provisio/platform/testing';
import { ALL_PERMISSIONS, Caller, RegistryTestApp, startRegistry } from './common/testing/registry-app';
import { FEATURE_SECURITY_ROWS, MatrixFixture, prepareFeatureSecurity, SecurityRow } from './common/testing/feature-security-rows';
import { prepareRunSecurity, RUN_SECURITY_ROWS } from './common/testing/run-security-rows';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Script = Record<string, any>;
/** `own` (every permission, tenant A), `ownScript()` (a fresh script of A with versions 1 and 2), `foreign` (tenant B's). */
type Fixture = MatrixFixture;
type Row = SecurityRow;

const idsOf = (response: Response) => (response.body.items ?? []).map((item: { id?: string; entity_id?: string }) => item.id ?? item.entity_id);

const ROWS: Row[] = [
  // Templates, bindings, validation/dry run, execution logs, analytics (common/testing/feature-security-rows.ts).
  ...FEATURE_SECURITY_ROWS,
  // Parameters, run now, executions, cancel (common/testing/run-security-rows.ts).
  ...RUN_SECURITY_ROWS,
  // ---- tenant limits: only ever the caller's own tenant ---------------------------------------
  {
    route: 'GET /tenant/limits',
    permission: Permission.ScriptRead,
    valid: () => ({ path: '/tenant/limits' }),
    foreign: () => ({ path: '/tenant/limits', expect: (response, f) => expect({ status: response.status, tenant_id: response.body.tenant_id }).toEqual({ status: 200, tenant_id: f.own.tenantId }) }),
    malformed: () => ({ path: '/tenant/limits', query: { tenant_id: 'someone-else' }, field: 'tenant_id' }),
  },
  {
    route: 'PUT /tenant/limits',
    permission: Permission.TenantManage,
    // The defaults, so that the other rows' scripts still fit.
    valid: () => ({ path: '/tenant/limits', body: {} }),
    foreign: () => ({ path: '/tenant/limits', body: {}, expect: (response, f) => expect({ status: response.status, tenant_id: response.body.tenant_id }).toEqual({ status: 200, tenant_id: f.own.tenantId }) }),
    malformed: () => ({ path: '/tenant/limits', body: { max_memory_bytes: 1 }, field: 'max_memory_bytes' }),
  },
  // ---- scripts ------------------------------------------------------------------------------
  {
    route: 'POST /scripts',
    permission: Permission.ScriptWrite,
    valid: () => ({ path: '/scripts', body: { name: `s-${randomUUID()}`, type: 'oneoff', source: 'export default 1' } }),
    // Names are per tenant: B's name is free in A, and the script lands in A.
    foreign: (f) => ({
      path: '/scripts',
      body: { name: f.foreign.name, type: 'oneoff', source: 'export default 1' },
      expect: (response, { own }) => expect({ status: response.status, tenant: response.body.tenant_id }).toEqual({ status: 201, tenant: own.tenantId }),
    }),
    malformed: () => ({ path: '/scripts', body: { name: `s-${randomUUID()}`, type: 'cron', source: 'x' }, field: 'type' }),
  },
  {
    route: 'GET /scripts',
    permission: Permission.ScriptRead,
    valid: () => ({ path: '/scripts' }),
    foreign: (f) => ({ path: '/scripts', query: { q: f.foreign.name }, expect: (response) => expect(idsOf(response)).not.toContain(f.foreign.id) }),
    malformed: () => ({ path: '/scripts', query: { sort: 'size' }, field: 'sort' }),
  },
  {
    route: 'GET /scripts/:id',
    permission: Permission.ScriptRead,
    valid: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}` }),
    foreign: (f) => ({ path: `/scripts/${f.foreign.id}` }),
    malformed: () => ({ path: '/scripts/not-a-uuid', field: 'id' }),
  },
  {
    route: 'PATCH /scripts/:id',
    permission: Permission.ScriptWrite,
    valid: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}`, body: { description: 'changed' } }),
    foreign: (f) => ({ path: `/scripts/${f.foreign.id}`, body: { description: 'hijacked' } }),
    malformed: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}`, body: { tags: 'not-a-list' }, field: 'tags' }),
  },
  {
    route: 'DELETE /scripts/:id',
    permission: Permission.ScriptDelete,
    valid: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}` }),
    foreign: (f) => ({ path: `/scripts/${f.foreign.id}` }),
    malformed: () => ({ path: '/scripts/123', field: 'id' }),
  },
  {
    route: 'POST /scripts/:id/status',
    permission: Permission.ScriptManage,
    valid: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/status`, body: { status: 'active' } }),
    foreign: (f) => ({ path: `/scripts/${f.foreign.id}/status`, body: { status: 'archived' } }),
    malformed: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/status`, body: { status: 'gone' }, field: 'status' }),
  },
  // ---- versions -----------------------------------------------------------------------------
  {
    route: 'GET /scripts/:id/versions',
    permission: Permission.ScriptRead,
    valid: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/versions` }),
    foreign: (f) => ({ path: `/scripts/${f.foreign.id}/versions` }),
    malformed: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/versions`, query: { limit: 0 }, field: 'limit' }),
  },
  {
    route: 'POST /scripts/:id/versions',
    permission: Permission.ScriptWrite,
    valid: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/versions`, body: { source: 'export default 3' } }),
    foreign: (f) => ({ path: `/scripts/${f.foreign.id}/versions`, body: { source: 'export default "pwned"' } }),
    malformed: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/versions`, body: { source: 42 }, field: 'source' }),
  },
  {
    route: 'GET /scripts/:id/versions/diff',
    permission: Permission.ScriptRead,
    valid: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/versions/diff`, query: { from: 1, to: 2 } }),
    foreign: (f) => ({ path: `/scripts/${f.foreign.id}/versions/diff`, query: { from: 1, to: 2 } }),
    malformed: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/versions/diff`, query: { from: 'first' }, field: 'from' }),
  },
  {
    route: 'GET /scripts/:id/versions/:version',
    permission: Permission.ScriptRead,
    valid: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/versions/1` }),
    foreign: (f) => ({ path: `/scripts/${f.foreign.id}/versions/1` }),
    malformed: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/versions/one`, field: 'version' }),
  },
  {
    route: 'POST /scripts/:id/versions/:version/rollback',
    permission: Permission.ScriptWrite,
    valid: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/versions/1/rollback`, body: {} }),
    foreign: (f) => ({ path: `/scripts/${f.foreign.id}/versions/1/rollback`, body: {} }),
    malformed: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/versions/1/rollback`, body: { change_description: 7 }, field: 'change_description' }),
  },
  // ---- audit --------------------------------------------------------------------------------
  {
    route: 'GET /audit',
    permission: Permission.AuditRead,
    valid: () => ({ path: '/audit' }),
    foreign: (f) => ({ path: '/audit', query: { entity_id: f.foreign.id }, expect: (response) => expect({ status: response.status, total: response.body.total }).toEqual({ status: 200, total: 0 }) }),
    malformed: () => ({ path: '/audit', query: { from: 'last tuesday' }, field: 'from' }),
  },
  {
    route: 'GET /scripts/:id/audit',
    permission: Permission.AuditRead,
    valid: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/audit` }),
    foreign: (f) => ({ path: `/scripts/${f.foreign.id}/audit` }),
    malformed: () => ({ path: '/scripts/nope/audit', field: 'id' }),
  },
];

describe('script-registry: security matrix', () => {
  let t: RegistryTestApp;
  let fixture: Fixture;

  beforeAll(async () => {
    t = await startRegistry();
    const own = t.caller({ subject: 'owner' });
    const withTwoVersions = async (caller: Caller) => {
      const script = await caller.createScript({ type: 'event', event_types: ['user.created'], source: 'export default 1' });
      const patched = await caller.patch(`/scripts/${script.id}`, { source: 'export default 2' });
      if (patched.status !== 200) throw new Error(`fixture: ${JSON.stringify(patched.body)}`);
      return patched.body as Script;
    };
    fixture = { own, ownScript: () => withTwoVersions(own), foreign: await withTwoVersions(t.caller({ subject: 'stranger' })) };
    await prepareFeatureSecurity(t, fixture);
    await prepareRunSecurity(t, fixture);
  });
  afterAll(async () => t?.close());

  describeSecurityMatrix({
    rows: ROWS,
    allPermissions: ALL_PERMISSIONS,
    app: () => t.app,
    fixture: () => fixture,
    // Tenant B's script stays untouched by every foreign request.
    foreignState: () => t.db.dataSource.query('SELECT status, description, current_version FROM scripts WHERE id = $1', [fixture.foreign.id]),
  });

  describe('a failed request leaves nothing half-written', () => {
    const TABLES = ['tenants', 'organizations', 'users', 'scripts', 'script_versions', 'script_event_subscriptions', 'script_http_endpoints', 'script_scheduled_jobs', 'audit_events', 'outbox'];
    const counts = async () => {
      const [row] = await t.db.dataSource.query(`SELECT ${TABLES.map((name) => `(SELECT count(*)::int FROM ${name}) AS ${name}`).join(', ')}`);
      return row as Record<string, number>;
    };
    const unchangedAfter = async (work: () => Promise<Response>, status: number, field?: string) => {
      const before = await counts();
      const response = await work();
      expect({ status: response.status, field: response.body.field }).toEqual({ status, field });
      expect(await counts()).toEqual(before);
    };

    it('a create with a taken name writes no script, version, subscription, audit or outbox row', async () => {
      const { own } = fixture;
      const taken = await own.createScript({ type: 'event', event_types: ['user.created'] });
      await unchangedAfter(() => own.post('/scripts', { name: taken.name, type: 'event', event_types: ['user.deleted'], source: 'x' }), 409, 'name');
    });

    it('a create with a taken HTTP path writes nothing', async () => {
      const { own } = fixture;
      await own.createScript({ type: 'http', http_path: '/atomic', http_methods: ['GET'] });
      await unchangedAfter(() => own.post('/scripts', { name: `n-${randomUUID()}`, type: 'http', http_path: '/atomic', http_methods: ['POST'], source: 'x' }), 409, 'http_path');
    });

    it('an update failing at its last step (the version) rolls back its first (the fields)', async () => {
      const { own } = fixture;
      const script = await own.createScript({ semantic_version: '1.0.0' });
      await unchangedAfter(() => own.patch(`/scripts/${script.id}`, { description: 'must not stick', source: 'new', semantic_version: '1.0.0' }), 409, 'semantic_version');
      expect((await own.get(`/scripts/${script.id}`)).body).toMatchObject({ description: null, current_version: 1, source: script.source });
    });

    it('refused status changes, deletes and rollbacks write nothing', async () => {
      const { own } = fixture;
      const script = await fixture.ownScript();
      await unchangedAfter(() => own.post(`/scripts/${script.id}/status`, { status: 'paused' }), 409, 'status');
      await unchangedAfter(() => own.post(`/scripts/${script.id}/versions/2/rollback`, {}), 409, 'version');
      const system = await own.createScript({ is_system: true, type: 'embedded' });
      await unchangedAfter(() => own.delete(`/scripts/${system.id}`), 409, 'is_system');
      await unchangedAfter(() => own.post('/scripts', { name: `n-${randomUUID()}`, type: 'scheduled', cron_expression: '61 * * * *', source: 'x' }), 400, 'cron_expression');
    });

    it("a first-time caller's failed write leaves no tenant, organization or user behind", async () => {
      const newcomer = t.caller({ subject: 'newcomer' });
      await unchangedAfter(() => newcomer.patch(`/scripts/${randomUUID()}`, { description: 'x' }), 404, undefined);
      await unchangedAfter(() => newcomer.post(`/scripts/${randomUUID()}/status`, { status: 'active' }), 404, undefined);
    });
  });

  describe('tokens', () => {
    it('refuses a token without exp (401), even correctly signed', async () => {
      const token = jwt.sign({ sub: 'x', tenant_id: fixture.own.tenantId, permissions: ['*'] }, TEST_JWT_SECRET, { algorithm: 'HS256' });
      const response = await request(t.app.getHttpServer()).get('/scripts').set('Authorization', `Bearer ${token}`);
      expect({ status: response.status, code: response.body.code }).toEqual({ status: 401, code: 'unauthenticated' });
      expect(response.body.message).toMatch(/exp: is required/);
    });
  });

  describe('required_permissions (seed 004)', () => {
    const needs = ['hr:read', 'payroll:read'];

    it('a dry run of a saved script needs them: 403 naming the first one missing', async () => {
      const script = await fixture.own.createScript({ required_permissions: needs, source: 'export default async () => 1;' });
      const base = [Permission.ScriptExecute];
      const refused = await fixture.own.with([...base, 'hr:read']).post(`/scripts/${script.id}/dry-run`, {});
      expect({ status: refused.status, code: refused.body.code, field: refused.body.field }).toEqual({ status: 403, code: 'forbidden', field: 'required_permissions' });
      expect(refused.body.message).toContain('payroll:read');
      // An unsaved edit of the script runs as the script too.
      expect((await fixture.own.with(base).post('/scripts/dry-run', { source: 'export default 1', script_id: script.id })).status).toBe(403);
      // Nothing was recorded for the refused runs.
      expect(await t.db.dataSource.query('SELECT id FROM script_executions WHERE script_id = $1', [script.id])).toEqual([]);
      // `payroll:manage` implies payroll:read.
      const allowed = await fixture.own.with([...base, 'hr:read', 'payroll:manage']).post(`/scripts/${script.id}/dry-run`, {});
      expect(allowed.status).toBe(200);
    });

    it('a scheduled script is refused to a writer who lacks them; the schedule is stamped with its writer\'s permissions', async () => {
      const writer = fixture.own.with([Permission.ScriptWrite, Permission.ScriptManage, 'hr:read']);
      const body = { name: `sched-${randomUUID().slice(0, 8)}`, type: 'scheduled', cron_expression: '0 * * * *', source: 'export default async () => 1;', required_permissions: needs };
      const refused = await writer.post('/scripts', body);
      expect({ status: refused.status, field: refused.body.field }).toEqual({ status: 403, field: 'required_permissions' });
      expect(refused.body.message).toContain('payroll:read');

      const owner = fixture.own.with([Permission.ScriptWrite, Permission.ScriptManage, ...needs]);
      const script = (await owner.post('/scripts', body).expect(201)).body;
      const [job] = await t.db.dataSource.query('SELECT owner_permissions FROM script_scheduled_jobs WHERE script_id = $1', [script.id]);
      expect(job.owner_permissions).toEqual([...owner.permissions].sort());

      // Raising what it needs beyond what the writer holds is refused too; activating it as such a writer as well.
      const more = await owner.patch(`/scripts/${script.id}`, { required_permissions: [...needs, 'bank:write'] });
      expect({ status: more.status, field: more.body.field }).toEqual({ status: 403, field: 'required_permissions' });
      expect((await writer.post(`/scripts/${script.id}/status`, { status: 'active' })).status).toBe(403);
      await owner.post(`/scripts/${script.id}/status`, { status: 'active' }).expect(200);
    });
  });
});
