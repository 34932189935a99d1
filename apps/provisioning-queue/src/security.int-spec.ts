/**
 * The provisioning queue's security matrix: EVERY route the app serves has a row, and every row is checked for
 *   - 401 without a token (and with a token signed by someone else),
 *   - 403 with a token holding every permission except the endpoint's (and its `:manage`),
 *   - 404 (or absence, for collections) when aimed at another tenant's object,
 *   - 400 naming the field for a malformed body, query or path parameter,
 *   - success with the permission (so the 401/403/404 above are not accidents of a wrong request).
 * The routes are read from Express's router, so a new endpoint without a row fails "every route has a
 * row". Below the matrix: failed requests leave nothing half-written.
 */
import { randomUUID } from 'node:crypto';
import type { Response } from 'supertest';
import { Permission } from '@provisio/contracts';
import { describeSecurityMatrix, SecurityRow } from '@provisio/platform/testing';
import { ALL_PERMISSIONS, Caller, ProvisioningTestApp, startProvisioningQueue } from './testing/provisioning-app';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Entity = Record<string, any>;

interface Fixture {
  own: Caller;
  ownIdentity(): Promise<Entity>;
  ownConnector(): Promise<Entity>;
  /** An operation of the caller's tenant in `status` (dead_letter, or awaiting_system on an unreachable target). */
  ownOperation(status: 'dead_letter' | 'awaiting_system'): Promise<Entity>;
  /** A pending conflict of the caller's tenant (two operator updates of one account). */
  ownConflict(): Promise<Entity>;
  foreignIdentity: Entity;
  foreignConnector: Entity;
  foreignOperation: Entity;
  foreignConflict: Entity;
}

type Row = SecurityRow<Fixture>;

/** A SCIM connector nothing listens for: its operations wait as awaiting_system. */
const unreachable = () => ({ type: 'scim', config: { baseUrl: 'http://127.0.0.1:1/scim', auth: 'bearer' }, credentials: { token: 'token' } });
const scim = () => ({ type: 'scim', config: { baseUrl: process.env.SCIM_TARGET_URL ?? 'http://127.0.0.1:1/scim', auth: 'bearer' }, credentials: { token: process.env.SCIM_TARGET_TOKEN ?? 'token' } });
const idsOf = (response: Response) => (response.body.items ?? []).map((item: { id: string }) => item.id);
const createdInOwnTenant = (response: Response, { own }: Fixture) => expect({ status: response.status, tenant: response.body.tenant_id }).toEqual({ status: 201, tenant: own.tenantId });

const ROWS: Row[] = [
  // ---- identities ---------------------------------------------------------------------------
  {
    route: 'POST /identities',
    permission: Permission.IdentityWrite,
    valid: () => ({ path: '/identities', body: { username: `u-${randomUUID()}` } }),
    // Usernames are per tenant: B's is free in A, and the identity lands in A.
    foreign: (f) => ({ path: '/identities', body: { username: f.foreignIdentity.username }, expect: createdInOwnTenant }),
    malformed: () => ({ path: '/identities', body: { username: '' }, field: 'username' }),
  },
  {
    route: 'GET /identities',
    permission: Permission.IdentityRead,
    valid: () => ({ path: '/identities' }),
    foreign: (f) => ({ path: '/identities', query: { username: f.foreignIdentity.username }, expect: (response) => expect(idsOf(response)).not.toContain(f.foreignIdentity.id) }),
    malformed: () => ({ path: '/identities', query: { status: 'gone' }, field: 'status' }),
  },
  {
    route: 'GET /identities/:id',
    permission: Permission.IdentityRead,
    valid: async (f) => ({ path: `/identities/${(await f.ownIdentity()).id}` }),
    foreign: (f) => ({ path: `/identities/${f.foreignIdentity.id}` }),
    malformed: () => ({ path: '/identities/not-a-uuid', field: 'id' }),
  },
  {
    route: 'PATCH /identities/:id',
    permission: Permission.IdentityWrite,
    valid: async (f) => ({ path: `/identities/${(await f.ownIdentity()).id}`, body: { display_name: 'changed' } }),
    foreign: (f) => ({ path: `/identities/${f.foreignIdentity.id}`, body: { display_name: 'hijacked', attributes: { owned: true } } }),
    malformed: async (f) => ({ path: `/identities/${(await f.ownIdentity()).id}`, body: { email: 'not-an-email' }, field: 'email' }),
  },
  {
    route: 'DELETE /identities/:id',
    permission: Permission.IdentityManage,
    valid: async (f) => ({ path: `/identities/${(await f.ownIdentity()).id}` }),
    foreign: (f) => ({ path: `/identities/${f.foreignIdentity.id}` }),
    malformed: () => ({ path: '/identities/42', field: 'id' }),
  },
  {
    route: 'GET /identities/:id/accounts',
    permission: Permission.IdentityRead,
    valid: async (f) => ({ path: `/identities/${(await f.ownIdentity()).id}/accounts` }),
    foreign: (f) => ({ path: `/identities/${f.foreignIdentity.id}/accounts` }),
    malformed: async (f) => ({ path: `/identities/${(await f.ownIdentity()).id}/accounts`, query: { limit: 0 }, field: 'limit' }),
  },
  // ---- connectors ---------------------------------------------------------------------------
  {
    route: 'POST /connectors',
    permission: Permission.ConnectorWrite,
    valid: () => ({ path: '/connectors', body: { name: `c-${randomUUID()}`, ...scim() } }),
    foreign: (f) => ({ path: '/connectors', body: { name: f.foreignConnector.name, ...scim() }, expect: createdInOwnTenant }),
    malformed: () => ({ path: '/connectors', body: { name: `c-${randomUUID()}`, ...scim(), type: 'ftp' }, field: 'type' }),
  },
  {
    route: 'GET /connectors',
    permission: Permission.ConnectorRead,
    valid: () => ({ path: '/connectors' }),
    foreign: (f) => ({ path: '/connectors', query: { name: f.foreignConnector.name }, expect: (response) => expect(idsOf(response)).not.toContain(f.foreignConnector.id) }),
    malformed: () => ({ path: '/connectors', query: { type: 'ftp' }, field: 'type' }),
  },
  {
    route: 'POST /connectors/credentials/re-encrypt',
    permission: Permission.ConnectorManage,
    valid: () => ({ path: '/connectors/credentials/re-encrypt', body: { dry_run: true } }),
    // Tenant-wide: it touches the caller's connectors only (B's ciphertext is checked below, for every row).
    foreign: () => ({ path: '/connectors/credentials/re-encrypt', body: {}, expect: (response) => expect(response.status).toBe(200) }),
    malformed: () => ({ path: '/connectors/credentials/re-encrypt', body: { dry_run: 'yes' }, field: 'dry_run' }),
  },
  {
    route: 'GET /connectors/:id',
    permission: Permission.ConnectorRead,
    valid: async (f) => ({ path: `/connectors/${(await f.ownConnector()).id}` }),
    foreign: (f) => ({ path: `/connectors/${f.foreignConnector.id}` }),
    malformed: () => ({ path: '/connectors/not-a-uuid', field: 'id' }),
  },
  {
    route: 'PATCH /connectors/:id',
    permission: Permission.ConnectorWrite,
    valid: async (f) => ({ path: `/connectors/${(await f.ownConnector()).id}`, body: { status: 'inactive' } }),
    foreign: (f) => ({ path: `/connectors/${f.foreignConnector.id}`, body: { name: 'hijacked', credentials: { token: 'mine now' } } }),
    malformed: async (f) => ({ path: `/connectors/${(await f.ownConnector()).id}`, body: { config: 'x' }, field: 'config' }),
  },
  {
    route: 'DELETE /connectors/:id',
    permission: Permission.ConnectorManage,
    valid: async (f) => ({ path: `/connectors/${(await f.ownConnector()).id}` }),
    foreign: (f) => ({ path: `/connectors/${f.foreignConnector.id}` }),
    malformed: () => ({ path: '/connectors/1', field: 'id' }),
  },
  {
    route: 'POST /connectors/:id/test',
    permission: Permission.ConnectorWrite,
    valid: async (f) => ({ path: `/connectors/${(await f.ownConnector()).id}/test` }),
    foreign: (f) => ({ path: `/connectors/${f.foreignConnector.id}/test` }),
    malformed: () => ({ path: '/connectors/x/test', field: 'id' }),
  },
  {
    route: 'GET /connectors/:id/schema',
    permission: Permission.ConnectorRead,
    valid: async (f) => ({ path: `/connectors/${(await f.ownConnector()).id}/schema` }),
    foreign: (f) => ({ path: `/connectors/${f.foreignConnector.id}/schema` }),
    malformed: () => ({ path: '/connectors/x/schema', field: 'id' }),
  },
  {
    route: 'POST /connectors/:id/preview',
    permission: Permission.ConnectorRead,
    valid: async (f) => ({ path: `/connectors/${(await f.ownConnector()).id}/preview`, body: { identity: { username: 'zoe' } } }),
    foreign: (f) => ({ path: `/connectors/${f.foreignConnector.id}/preview`, body: { identity: { username: 'zoe' } } }),
    malformed: async (f) => ({ path: `/connectors/${(await f.ownConnector()).id}/preview`, body: { identity: { username: 'zoe', status: 'gone' } }, field: 'identity.status' }),
  },
  // ---- operations and conflicts -------------------------------------------------------------
  {
    route: 'GET /operations',
    permission: Permission.ProvisioningRead,
    valid: () => ({ path: '/operations' }),
    foreign: (f) => ({ path: '/operations', query: { connector_id: f.foreignConnector.id }, expect: (response) => expect(response.body.total).toBe(0) }),
    malformed: () => ({ path: '/operations', query: { operation_type: 'explode' }, field: 'operation_type' }),
  },
  {
    route: 'POST /operations',
    permission: Permission.ProvisioningWrite,
    valid: async (f) => ({ path: '/operations', body: { connector_id: (await f.ownConnector()).id, operation_type: 'delete', target_uid: randomUUID() } }),
    foreign: (f) => ({ path: '/operations', body: { connector_id: f.foreignConnector.id, operation_type: 'delete', target_uid: randomUUID() } }),
    malformed: async (f) => ({ path: '/operations', body: { connector_id: (await f.ownConnector()).id, operation_type: 'delete', target_uid: 'x', priority: 5000 }, field: 'priority' }),
  },
  {
    route: 'GET /operations/dead-letters',
    permission: Permission.ProvisioningRead,
    valid: () => ({ path: '/operations/dead-letters' }),
    foreign: (f) => ({ path: '/operations/dead-letters', query: { connector_id: f.foreignConnector.id }, expect: (response) => expect(response.body.total).toBe(0) }),
    malformed: () => ({ path: '/operations/dead-letters', query: { limit: 1000 }, field: 'limit' }),
  },
  {
    route: 'GET /operations/statistics',
    permission: Permission.ProvisioningRead,
    valid: () => ({ path: '/operations/statistics' }),
    foreign: (f) => ({ path: '/operations/statistics', expect: (response) => expect(response.body.connectors.map((c: Entity) => c.connector_id)).not.toContain(f.foreignConnector.id) }),
    malformed: () => ({ path: '/operations/statistics', query: { connector_id: 'x' }, field: 'connector_id' }),
  },
  {
    route: 'POST /operations/retry',
    permission: Permission.ProvisioningManage,
    valid: () => ({ path: '/operations/retry', body: {} }),
    foreign: (f) => ({ path: '/operations/retry', body: { connector_id: f.foreignConnector.id, from_status: 'failed' }, expect: (response) => expect(response.body.retried).toBe(0) }),
    malformed: () => ({ path: '/operations/retry', body: { from_status: 'completed' }, field: 'from_status' }),
  },
  {
    route: 'GET /operations/:id',
    permission: Permission.ProvisioningRead,
    valid: async (f) => ({ path: `/operations/${(await f.ownOperation('awaiting_system')).id}` }),
    foreign: (f) => ({ path: `/operations/${f.foreignOperation.id}` }),
    malformed: () => ({ path: '/operations/not-a-uuid', field: 'id' }),
  },
  {
    route: 'POST /operations/:id/retry',
    permission: Permission.ProvisioningWrite,
    valid: async (f) => ({ path: `/operations/${(await f.ownOperation('dead_letter')).id}/retry` }),
    foreign: (f) => ({ path: `/operations/${f.foreignOperation.id}/retry` }),
    malformed: () => ({ path: '/operations/x/retry', field: 'id' }),
  },
  {
    route: 'POST /operations/:id/cancel',
    permission: Permission.ProvisioningWrite,
    valid: async (f) => ({ path: `/operations/${(await f.ownOperation('awaiting_system')).id}/cancel` }),
    foreign: (f) => ({ path: `/operations/${f.foreignOperation.id}/cancel` }),
    malformed: () => ({ path: '/operations/x/cancel', field: 'id' }),
  },
  {
    route: 'POST /operations/:id/resolve',
    permission: Permission.ProvisioningManage,
    valid: async (f) => ({ path: `/operations/${(await f.ownOperation('dead_letter')).id}/resolve`, body: { notes: 'fixed by hand' } }),
    foreign: (f) => ({ path: `/operations/${f.foreignOperation.id}/resolve`, body: { notes: 'mine' } }),
    malformed: async (f) => ({ path: `/operations/${(await f.ownOperation('dead_letter')).id}/resolve`, body: { notes: '' }, field: 'notes' }),
  },
  {
    route: 'GET /connectors/:id/operations/statistics',
    permission: Permission.ProvisioningRead,
    valid: async (f) => ({ path: `/connectors/${(await f.ownConnector()).id}/operations/statistics` }),
    foreign: (f) => ({ path: `/connectors/${f.foreignConnector.id}/operations/statistics` }),
    malformed: () => ({ path: '/connectors/x/operations/statistics', field: 'id' }),
  },
  {
    route: 'GET /conflicts',
    permission: Permission.ProvisioningRead,
    valid: () => ({ path: '/conflicts' }),
    foreign: (f) => ({ path: '/conflicts', query: { operation_id: f.foreignConflict.operation_id_b }, expect: (response) => expect(response.body.total).toBe(0) }),
    malformed: () => ({ path: '/conflicts', query: { status: 'open' }, field: 'status' }),
  },
  {
    route: 'POST /conflicts/:id/resolve',
    permission: Permission.ProvisioningManage,
    valid: async (f) => ({ path: `/conflicts/${(await f.ownConflict()).id}/resolve`, body: { outcome: 'applied' } }),
    foreign: (f) => ({ path: `/conflicts/${f.foreignConflict.id}/resolve`, body: { outcome: 'rejected' } }),
    malformed: async (f) => ({ path: `/conflicts/${(await f.ownConflict()).id}/resolve`, body: { outcome: 'won' }, field: 'outcome' }),
  },
];

describe('provisioning-queue: security matrix', () => {
  let t: ProvisioningTestApp;
  let fixture: Fixture;

  const stateOfForeign = async () => ({
    identity: await t.db.dataSource.query('SELECT username, display_name, status, attributes, updated_at FROM identities WHERE id = $1', [fixture.foreignIdentity.id]),
    connector: await t.db.dataSource.query('SELECT name, status, last_error, config, credentials_encrypted, updated_at FROM connectors WHERE id = $1', [fixture.foreignConnector.id]),
  });

  beforeAll(async () => {
    t = await startProvisioningQueue();
    const own = t.caller({ subject: 'owner' });
    const stranger = t.caller({ subject: 'stranger' });
    const operation = async (caller: Caller, status: 'dead_letter' | 'awaiting_system') => {
      // A dead letter: an update of an account the SCIM target does not have (permanent). Awaiting: a target nothing listens for.
      const connector = await caller.createConnector(status === 'dead_letter' ? scim() : unreachable());
      const created = await caller.post('/operations', { connector_id: connector.id, operation_type: 'update', target_uid: randomUUID(), attributes: { title: 'x' } });
      for (let i = 0; i < 200; i++) {
        const [row] = await t.db.dataSource.query('SELECT status FROM provisioning_operations WHERE id = $1', [created.body.id]);
        if (row?.status === status) return created.body as Entity;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`operation ${created.body.id} did not become ${status}`);
    };
    const conflict = async (caller: Caller) => {
      const connector = await caller.createConnector(unreachable());
      const uid = randomUUID();
      await caller.post('/operations', { connector_id: connector.id, operation_type: 'update', target_uid: uid, attributes: { title: 'a' } });
      const b = (await caller.post('/operations', { connector_id: connector.id, operation_type: 'update', target_uid: uid, attributes: { title: 'b' } })).body;
      return (await caller.get('/conflicts', { operation_id: b.id, status: 'pending' })).body.items[0] as Entity;
    };
    fixture = {
      own,
      ownIdentity: () => own.createIdentity(),
      ownConnector: () => own.createConnector(scim()),
      ownOperation: (status) => operation(own, status),
      ownConflict: () => conflict(own),
      foreignIdentity: await stranger.createIdentity({ attributes: { department: 'Finance' } }),
      foreignConnector: await stranger.createConnector(scim()),
      foreignOperation: await operation(stranger, 'awaiting_system'),
      foreignConflict: await conflict(stranger),
    };
  });
  afterAll(async () => t?.close());

  describeSecurityMatrix({ rows: ROWS, allPermissions: ALL_PERMISSIONS, app: () => t.app, fixture: () => fixture, foreignState: stateOfForeign });

  describe('a failed request leaves nothing half-written', () => {
    const TABLES = ['tenants', 'organizations', 'users', 'identities', 'connectors', 'account_links'];
    const counts = async () => {
      // The outbox without the operations' own announcements: the fixture's operations keep running (and announcing) meanwhile.
      const [row] = await t.db.dataSource.query(
        `SELECT ${TABLES.map((name) => `(SELECT count(*)::int FROM ${name}) AS ${name}`).join(', ')},
                (SELECT count(*)::int FROM outbox WHERE event_type NOT LIKE 'provisio.operation.%') AS outbox`,
      );
      return row as Record<string, number>;
    };
    const unchangedAfter = async (work: () => Promise<Response>, status: number, field?: string) => {
      const before = await counts();
      const response = await work();
      expect({ status: response.status, field: response.body.field }).toEqual({ status, field });
      expect(await counts()).toEqual(before);
    };

    it("a first-time caller's refused writes leave no tenant, organization or user behind", async () => {
      const newcomer = t.caller({ subject: 'newcomer' });
      const taken = await fixture.own.createIdentity();
      await unchangedAfter(() => newcomer.patch(`/identities/${randomUUID()}`, { display_name: 'x' }), 404);
      await unchangedAfter(() => newcomer.post('/connectors', { name: 'n', ...scim(), mapping_script_id: randomUUID() }), 400, 'mapping_script_id');
      await unchangedAfter(() => fixture.own.post('/identities', { username: taken.username }), 409, 'username');
      const connector = await fixture.own.createConnector(scim());
      await unchangedAfter(() => fixture.own.post('/connectors', { name: connector.name, ...scim() }), 409, 'name');
    });
  });
});
