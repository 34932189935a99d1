// Hook bindings around the connector call, end to end: scripts run in the provisioning queue's own
// sandbox pool through the shared script execution, against the project's SCIM server (in-process, free
// port), each run recorded as a script_executions row; each failure policy under a hook that throws,
// loops past its timeout, skips or fails the operation.
import { randomBytes, randomUUID } from 'node:crypto';
import { sleep } from '@provisio/platform/testing';
import { createScimServer, ScimServer } from '../../../../test/targets/scim-server';
import { Caller, ProvisioningTestApp, startProvisioningQueue } from '../testing/provisioning-app';

async function settled<T>(probe: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

interface Binding {
  phase: 'before' | 'after';
  operation?: string;
  order?: number;
  policy?: 'abort' | 'continue' | 'retry';
  retries?: number;
  timeout?: number;
  source: string;
}

describe('provisioning-queue: before and after hooks around the connector call', () => {
  let t: ProvisioningTestApp;
  let scim: ScimServer;
  let scimUrl: string;
  let closeScim: () => Promise<void>;
  const token = randomBytes(16).toString('hex');

  beforeAll(async () => {
    scim = createScimServer({ token });
    const listening = await scim.listen(0);
    scimUrl = listening.url;
    closeScim = listening.close;
    t = await startProvisioningQueue({ PROVISIONING_RETRY_BASE_MS: '100', PROVISIONING_RETRY_MAX_MS: '300', HOOK_SANDBOX_POOL_SIZE: '1' });
  });
  afterAll(async () => {
    await t?.close();
    await closeScim?.();
  });

  /** A tenant with one SCIM connector and the given bindings. */
  async function setUp(bindings: Binding[]): Promise<{ own: Caller; connectorId: string; bindingIds: string[] }> {
    const own = t.caller();
    const connector = await own.createConnector({
      type: 'scim',
      config: { baseUrl: scimUrl, auth: 'bearer', limits: { timeoutMs: 5_000 } },
      credentials: { token },
      attribute_mapping: [
        { target: 'userName', from: 'username', required: true },
        { target: 'title', from: 'attributes.title' },
      ],
    });
    const [{ id: organizationId }] = await t.db.dataSource.query('SELECT id FROM organizations WHERE tenant_id = $1 AND is_default', [own.tenantId]);
    const bindingIds: string[] = [];
    for (const [i, b] of bindings.entries()) {
      const [{ id: scriptId }] = await t.db.dataSource.query(
        `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, current_version) VALUES ($1, $2, $3, $4, 'embedded', 'active', 2) RETURNING id`,
        [own.tenantId, organizationId, `hook-${i}-${randomUUID().slice(0, 6)}`, b.source],
      );
      const [{ id }] = await t.db.dataSource.query(
        `INSERT INTO hook_bindings (tenant_id, script_id, connector_id, hook_phase, operation_type, execution_order, failure_policy, max_retries, timeout_seconds)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
        [own.tenantId, scriptId, connector.id, b.phase, b.operation ?? 'create', b.order ?? i, b.policy ?? 'abort', b.retries ?? 0, b.timeout ?? 5],
      );
      bindingIds.push(id);
    }
    return { own, connectorId: connector.id, bindingIds };
  }

  const finished = async (own: Caller, id: string, status: string) =>
    settled(async () => {
      const view = (await own.get(`/operations/${id}`).expect(200)).body;
      expect(view.status).toBe(status);
      return view;
    });
  const runsOf = async (operationId: string) =>
    t.db.dataSource.query(
      `SELECT binding_id, connector_id, script_version, status, trigger_type, error FROM script_executions WHERE operation_id = $1 ORDER BY completed_at, id`,
      [operationId],
    ) as Promise<{ binding_id: string; connector_id: string; script_version: number; status: string; trigger_type: string; error: string | null }[]>;
  const account = async (userName: string) => {
    const response = await fetch(`${scimUrl}/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`, { headers: { authorization: `Bearer ${token}` } });
    return (((await response.json()) as { Resources?: Record<string, unknown>[] }).Resources ?? [])[0];
  };

  it('runs two before hooks in order (mapping, then username) and an after hook that sees the result; every run recorded', async () => {
    const { own, connectorId, bindingIds } = await setUp([
      { phase: 'before', order: 1, source: `export default async ({ operation, identity }) => ({ ...operation.attributes, title: identity.department + ' / ' + operation.attributes.title })` },
      { phase: 'before', order: 2, source: `export default async ({ operation, identity }) => ({ ...operation.attributes, userName: helpers.username({ first: identity.first_name, last: identity.last_name }) })` },
      { phase: 'after', order: 1, source: `export default async ({ result, operation }) => { if (!result.uid || operation.attributes.userName !== 'zoe.muller') throw new Error('no result'); return null; }` },
    ]);
    const identity = await own.createIdentity({ username: `raw-${randomUUID().slice(0, 6)}`, attributes: { title: 'Analyst', department: 'Finance', first_name: 'Zoë', last_name: 'Müller' } });
    const op = await settled(async () => {
      const [found] = (await own.get('/operations', { user_id: identity.id }).expect(200)).body.items;
      expect(found?.status).toBe('completed');
      return found;
    });
    expect(await account('zoe.muller')).toMatchObject({ userName: 'zoe.muller', title: 'Finance / Analyst' });
    const runs = await runsOf(op.id);
    expect(runs).toEqual(bindingIds.map((binding_id) => ({ binding_id, connector_id: connectorId, script_version: 2, status: 'completed', trigger_type: 'hook', error: null })));
    const logs = (await own.get(`/operations/${op.id}`).expect(200)).body.logs.map((l: { message: string }) => l.message);
    expect(logs.filter((m: string) => m.includes('hook'))).toHaveLength(5); // 3 runs, 2 attribute changes
  });

  it('abort: a before hook that throws fails the operation permanently; nothing is written', async () => {
    const { own, connectorId } = await setUp([{ phase: 'before', policy: 'abort', source: `export default async () => { throw new Error('no manager for this user') }` }]);
    const userName = `abort-${randomUUID().slice(0, 6)}`;
    const op = (await own.post('/operations', { connector_id: connectorId, operation_type: 'create', attributes: { userName } }).expect(201)).body;
    const dead = await finished(own, op.id, 'dead_letter');
    expect(dead.attempts).toEqual([expect.objectContaining({ success: false, error_code: 'hook_failed' })]);
    expect(dead.error_message).toContain('no manager for this user');
    expect(await account(userName)).toBeUndefined();
    expect((await runsOf(op.id)).map((r) => r.status)).toEqual(['failed']);
  });

  it('continue: a hook that throws, and one that loops past its timeout, are logged and the operation goes on', async () => {
    const { own, connectorId } = await setUp([
      { phase: 'before', policy: 'continue', source: `export default async () => { throw new Error('flaky directory lookup') }` },
      { phase: 'before', policy: 'continue', timeout: 1, source: `export default async () => { for (;;) {} }` },
    ]);
    const userName = `cont-${randomUUID().slice(0, 6)}`;
    const op = (await own.post('/operations', { connector_id: connectorId, operation_type: 'create', attributes: { userName, title: 'kept' } }).expect(201)).body;
    await finished(own, op.id, 'completed');
    expect(await account(userName)).toMatchObject({ title: 'kept' });
    expect((await runsOf(op.id)).map((r) => r.status)).toEqual(['failed', 'timeout']);
  });

  it('retry: the hook runs 1 + max_retries times, then the operation fails', async () => {
    const { own, connectorId } = await setUp([{ phase: 'before', policy: 'retry', retries: 2, source: `export default async () => { throw new Error('still down') }` }]);
    const op = (await own.post('/operations', { connector_id: connectorId, operation_type: 'create', attributes: { userName: `retry-${randomUUID().slice(0, 6)}` } }).expect(201)).body;
    await finished(own, op.id, 'dead_letter');
    expect((await runsOf(op.id)).map((r) => r.status)).toEqual(['failed', 'failed', 'failed']);
  });

  it('a hook that loops is stopped at timeout_seconds: retried under retry, then abort fails the operation', async () => {
    const { own, connectorId } = await setUp([{ phase: 'before', policy: 'retry', retries: 1, timeout: 1, source: `export default async () => { for (;;) {} }` }]);
    const userName = `loop-${randomUUID().slice(0, 6)}`;
    const op = (await own.post('/operations', { connector_id: connectorId, operation_type: 'create', attributes: { userName } }).expect(201)).body;
    const dead = await finished(own, op.id, 'dead_letter');
    expect(dead.error_message).toContain('timeout');
    expect((await runsOf(op.id)).map((r) => r.status)).toEqual(['timeout', 'timeout']);
    expect(await account(userName)).toBeUndefined();
  });

  it('a before hook may skip the operation or fail it by answer; an after hook that aborts leaves the account linked', async () => {
    const skip = await setUp([{ phase: 'before', source: `export default async ({ operation }) => operation.attributes.userName.startsWith('svc-') ? { skip: true, reason: 'service accounts are not provisioned' } : null` }]);
    const skipped = (await skip.own.post('/operations', { connector_id: skip.connectorId, operation_type: 'create', attributes: { userName: `svc-${randomUUID().slice(0, 6)}` } }).expect(201)).body;
    const done = await finished(skip.own, skipped.id, 'completed');
    expect(done.logs.map((l: { message: string }) => l.message)).toContainEqual(expect.stringContaining('service accounts are not provisioned'));
    expect(await account(skipped.payload.attributes.userName)).toBeUndefined();

    const refuse = await setUp([{ phase: 'before', source: `export default async () => ({ fail: 'contractors need an end date' })` }]);
    const refused = (await refuse.own.post('/operations', { connector_id: refuse.connectorId, operation_type: 'create', attributes: { userName: `c-${randomUUID().slice(0, 6)}` } }).expect(201)).body;
    expect((await finished(refuse.own, refused.id, 'dead_letter')).error_message).toContain('contractors need an end date');

    const after = await setUp([{ phase: 'after', policy: 'abort', source: `export default async () => { throw new Error('could not notify the helpdesk') }` }]);
    const identity = await after.own.createIdentity({ username: `after-${randomUUID().slice(0, 6)}` });
    const op = await settled(async () => {
      const [found] = (await after.own.get('/operations', { user_id: identity.id }).expect(200)).body.items;
      expect(found?.status).toBe('dead_letter');
      return found;
    });
    expect(op.error_message).toContain('could not notify the helpdesk');
    expect(await account(identity.username)).toBeDefined();
    expect((await after.own.get(`/identities/${identity.id}/accounts`).expect(200)).body.total).toBe(1);
  });
});
