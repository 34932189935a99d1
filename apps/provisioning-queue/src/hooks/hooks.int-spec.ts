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
    // A hook run's operation_id is written with its row: any later change of it fails the statement (and the test).
    await t.db.dataSource.query(`CREATE FUNCTION refuse_late_operation_id() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'operation_id set after the insert'; END $$`);
    await t.db.dataSource.query(
      `CREATE TRIGGER refuse_late_operation_id BEFORE UPDATE OF operation_id ON script_executions FOR EACH ROW
         WHEN (OLD.trigger_type = 'hook' AND OLD.operation_id IS DISTINCT FROM NEW.operation_id) EXECUTE FUNCTION refuse_late_operation_id()`,
    );
  });
  afterEach(() => scim.faults.clear());
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

  it('records the hooks an operation never ran as skipped, with why: after an abort, a skip, and a failed connector call', async () => {
    const { own, connectorId, bindingIds } = await setUp([
      { phase: 'before', order: 1, policy: 'abort', source: `export default async ({ operation }) => { if (operation.attributes.userName.startsWith('no-')) throw new Error('no manager'); if (operation.attributes.userName.startsWith('skip-')) return { skip: true, reason: 'not ours' }; return null; }` },
      { phase: 'before', order: 2, source: `export default async () => null` },
      { phase: 'after', order: 1, source: `export default async () => null` },
    ]);
    const [first, second, after] = bindingIds;
    const create = async (userName: string) => (await own.post('/operations', { connector_id: connectorId, operation_type: 'create', attributes: { userName } }).expect(201)).body;
    const chain = async (operationId: string) => (await runsOf(operationId)).map((r) => [r.binding_id, r.status, r.script_version, r.connector_id]);

    // A before hook aborts: the later before hook and the after hook did not run.
    const aborted = await create(`no-${randomUUID().slice(0, 6)}`);
    await finished(own, aborted.id, 'dead_letter');
    expect(await chain(aborted.id)).toEqual([
      [first, 'failed', 2, connectorId],
      [second, 'skipped', 2, connectorId],
      [after, 'skipped', 2, connectorId],
    ]);
    const skippedRows = (await runsOf(aborted.id)).filter((r) => r.status === 'skipped');
    for (const row of skippedRows) expect(row.error).toMatch(/^not run: before hook .* failed \(abort\): failed: .*no manager/);

    // A before hook skips the operation: nothing after it runs either.
    const skipped = await create(`skip-${randomUUID().slice(0, 6)}`);
    await finished(own, skipped.id, 'completed');
    expect(await chain(skipped.id)).toEqual([
      [first, 'completed', 2, connectorId],
      [second, 'skipped', 2, connectorId],
      [after, 'skipped', 2, connectorId],
    ]);
    expect((await runsOf(skipped.id))[2].error).toContain('skipped the operation: not ours');

    // The connector call fails (permanently: no account to update): the after hook did not run.
    const refused = (await own.post('/operations', { connector_id: connectorId, operation_type: 'create', attributes: { userName: `ok-${randomUUID().slice(0, 6)}` } }).expect(201)).body;
    await finished(own, refused.id, 'completed'); // the chain in full when nothing stops it
    expect((await chain(refused.id)).map(([, status]) => status)).toEqual(['completed', 'completed', 'completed']);
    scim.faults.set({ serverError: { status: 500 } });
    const failing = (await own.post('/operations', { connector_id: connectorId, operation_type: 'create', attributes: { userName: `down-${randomUUID().slice(0, 6)}` }, max_retries: 0 }).expect(201)).body;
    await finished(own, failing.id, 'dead_letter');
    const failedChain = await runsOf(failing.id);
    expect(failedChain.map((r) => [r.binding_id, r.status])).toEqual([
      [first, 'completed'],
      [second, 'completed'],
      [after, 'skipped'],
    ]);
    expect(failedChain[2].error).toMatch(/^not run: the connector call failed \(server_error: /);
    const detail = (await own.get(`/operations/${failing.id}`).expect(200)).body;
    expect(detail.logs.map((l: { message: string }) => l.message)).toContainEqual(expect.stringContaining(`after hooks not run (recorded skipped): ${after}`));
  });

  it('a retry runs each hook at the script version it ran with; hook_versions latest runs the live version', async () => {
    const own = t.caller();
    const connector = await own.createConnector({
      type: 'scim',
      config: { baseUrl: scimUrl, auth: 'bearer', limits: { timeoutMs: 5_000 } },
      credentials: { token },
      attribute_mapping: [{ target: 'userName', from: 'username', required: true }],
    });
    const [{ id: organizationId }] = await t.db.dataSource.query('SELECT id FROM organizations WHERE tenant_id = $1 AND is_default', [own.tenantId]);
    const source = (title: string) => `export default async ({ operation }) => ({ ...operation.attributes, title: '${title}' })`;
    const [{ id: scriptId }] = await t.db.dataSource.query(
      `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, current_version) VALUES ($1, $2, $3, $4, 'embedded', 'active', 1) RETURNING id`,
      [own.tenantId, organizationId, `titles-${randomUUID().slice(0, 6)}`, source('from v1')],
    );
    await t.db.dataSource.query(`INSERT INTO script_versions (tenant_id, script_id, version_number, source) VALUES ($1, $2, 1, $3)`, [own.tenantId, scriptId, source('from v1')]);
    const [{ id: bindingId }] = await t.db.dataSource.query(
      `INSERT INTO hook_bindings (tenant_id, script_id, connector_id, hook_phase, operation_type, failure_policy, timeout_seconds) VALUES ($1, $2, $3, 'before', 'create', 'abort', 5) RETURNING id`,
      [own.tenantId, scriptId, connector.id],
    );

    // Both operations run the hook at v1, then the target refuses them (no retries left): dead letters.
    scim.faults.set({ serverError: { status: 500 } });
    const names = [`pin-${randomUUID().slice(0, 6)}`, `live-${randomUUID().slice(0, 6)}`];
    const [pinned, live] = await Promise.all(names.map(async (userName) => (await own.post('/operations', { connector_id: connector.id, operation_type: 'create', attributes: { userName }, max_retries: 0 }).expect(201)).body));
    await finished(own, pinned.id, 'dead_letter');
    await finished(own, live.id, 'dead_letter');

    // The script changes (the registry appends v2 and makes it live), the target recovers.
    await t.db.dataSource.query(`INSERT INTO script_versions (tenant_id, script_id, version_number, source) VALUES ($1, $2, 2, $3)`, [own.tenantId, scriptId, source('from v2')]);
    await t.db.dataSource.query(`UPDATE scripts SET source = $2, current_version = 2 WHERE id = $1`, [scriptId, source('from v2')]);
    scim.faults.clear();
    await sleep(2_500); // the runner's bindings cache (2 s) sees v2

    await own.post(`/operations/${pinned.id}/retry`, { hook_versions: 'sometimes' }).expect(400);
    await own.post(`/operations/${pinned.id}/retry`).expect(200);
    await finished(own, pinned.id, 'completed');
    expect(await account(names[0])).toMatchObject({ title: 'from v1' });
    expect((await runsOf(pinned.id)).map((r) => [r.binding_id, r.status, r.script_version])).toEqual([
      [bindingId, 'completed', 1],
      [bindingId, 'completed', 1],
    ]);

    const bulk = (await own.post('/operations/retry', { connector_id: connector.id, hook_versions: 'latest' }).expect(200)).body;
    expect(bulk).toEqual({ retried: 1, operation_ids: [live.id] });
    const done = await finished(own, live.id, 'completed');
    expect(done.payload.hook_versions).toBe('latest');
    expect(await account(names[1])).toMatchObject({ title: 'from v2' });
    expect((await runsOf(live.id)).map((r) => [r.status, r.script_version])).toEqual([
      ['completed', 1],
      ['completed', 2],
    ]);
    expect(done.logs.map((l: { message: string }) => l.message)).toContainEqual(expect.stringContaining("with the hooks' live script versions"));
  });
});
