/**
 * Remediation end to end: the reconciler and the provisioning queue booted in this process on one
 * PostgreSQL schema and one Kafka topic prefix, against the stack's SQL target (PostgreSQL). Toward the
 * target every remediation is a request through the outbox and Kafka, an operation of the provisioning
 * queue (with a before hook), and a result settled from the queue's finished event; toward Provisio a
 * write of the identity store. Also: ignore, bulk by filter (each discrepancy once), dry runs that
 * write nothing but their audit rows, a run that remediates with the default actions, a dead-lettered
 * operation failing its result, the stack's SCIM target, 403 and 404.
 */
import { randomUUID } from 'node:crypto';
import { createConnector } from '@provisio/connectors';
import { eventually } from '@provisio/platform/testing';
import { ProvisioningTestApp, startProvisioningQueue } from '../../../provisioning-queue/src/testing/provisioning-app';
import { insertIdentities, insertLinks, ReconcilerTestApp, SQL_MAPPING, SqlTargetTable, startReconciler, waitForRun } from '../testing/reconciler-app';

jest.setTimeout(240_000);

type Caller = ReturnType<ReconcilerTestApp['caller']>;
interface Discrepancy {
  id: string;
  discrepancy_type: string;
  identity_id: string | null;
  external_uid: string | null;
  resolution_status: string;
}

const endedRun = (run: { status: string; progress: { phase: string } }) => ['completed', 'failed', 'cancelled'].includes(run.status) || (run.status === 'paused' && run.progress.phase === 'awaiting_approval');

describe('remediation (reconciler + provisioning queue, SQL target)', () => {
  let pq: ProvisioningTestApp;
  let rc: ReconcilerTestApp;
  const tables: SqlTargetTable[] = [];

  beforeAll(async () => {
    pq = await startProvisioningQueue({ PROVISIONING_RETRY_BASE_MS: '100', PROVISIONING_RETRY_MAX_MS: '300', HOOK_SANDBOX_POOL_SIZE: '1' });
    rc = await startReconciler({ DATABASE_SCHEMA: pq.db.schema, KAFKA_TOPIC_PREFIX: pq.prefix, CONNECTOR_CREDENTIALS_KEYS: pq.credentialKeys, RECONCILIATION_PAGE_SIZE: '4' });
  });

  afterAll(async () => {
    for (const table of tables) await table.drop();
    await rc?.close();
    await pq?.close();
  });

  /**
   * A tenant with one SQL connector (a before hook on create marks what it writes) and the six types:
   * a1..a10 linked (a1's display name differs), d1 linked but gone, m1 without account, u1 unlinked
   * (its email correlates), cx and cy sharing account c1's email (collision), o1 an orphan.
   */
  async function scenario() {
    const tenantId = randomUUID();
    const caller = rc.caller({ tenantId });
    const ops = pq.caller({ tenantId });
    const table = await SqlTargetTable.create();
    tables.push(table);
    const connector = await ops.createConnector({ type: 'sql', config: table.config(), credentials: { password: '' }, attribute_mapping: SQL_MAPPING });
    const [{ id: organizationId }] = await pq.db.dataSource.query('SELECT id FROM organizations WHERE tenant_id = $1 AND is_default', [tenantId]);
    const [{ id: scriptId }] = await pq.db.dataSource.query(
      `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, current_version) VALUES ($1, $2, $3, $4, 'embedded', 'active', 1) RETURNING id`,
      [tenantId, organizationId, `mark-${randomUUID().slice(0, 6)}`, `export default async ({ operation }) => ({ ...operation.attributes, displayName: operation.attributes.displayName + ' (hooked)' })`],
    );
    await pq.db.dataSource.query(
      `INSERT INTO hook_bindings (tenant_id, script_id, connector_id, hook_phase, operation_type, execution_order, failure_policy, max_retries, timeout_seconds)
       VALUES ($1, $2, $3, 'before', 'create', 1, 'abort', 0, 5)`,
      [tenantId, scriptId, connector.id],
    );
    const linked = Array.from({ length: 10 }, (_, i) => `a${i + 1}`);
    const people = [...linked, 'd1', 'm1', 'u1', 'cx', 'cy'].map((u) => ({ username: u, email: u === 'cx' || u === 'cy' ? 'shared@example.test' : `${u}@example.test`, display_name: `Name ${u}` }));
    const ids = await insertIdentities(pq.db, tenantId, people);
    await table.insert([
      ...linked.map((u) => ({ user_name: u, email: `${u}@example.test`, display_name: u === 'a1' ? 'Wrong Name' : `Name ${u}` })),
      { user_name: 'u1-account', email: 'u1@example.test', display_name: 'Name u1' },
      { user_name: 'c1', email: 'shared@example.test', display_name: 'who' },
      { user_name: 'o1', email: 'nobody@example.test', display_name: 'Nobody' },
    ]);
    await insertLinks(pq.db, tenantId, connector.id, [...linked, 'd1'].map((u) => ({ identity_id: ids.get(u)!, external_uid: u })));
    return { tenantId, caller, ops, table, connectorId: connector.id as string, ids };
  }

  async function run(caller: Caller, connectorId: string, dryRun: boolean) {
    const created = await caller.post('/reconciliation/runs', { connector_id: connectorId, mode: 'full', dry_run: dryRun });
    expect(created.status).toBe(201);
    return waitForRun(caller, created.body.id, endedRun, 60_000);
  }

  async function discrepancies(caller: Caller, runId: string): Promise<Record<string, Discrepancy>> {
    const response = await caller.get('/reconciliation/discrepancies', { run_id: runId, limit: 200 });
    expect(response.status).toBe(200);
    return Object.fromEntries((response.body.items as Discrepancy[]).map((d) => [d.discrepancy_type, d]));
  }

  const rows = async (table: SqlTargetTable) => (await table.client.query(`SELECT user_name, display_name, email FROM ${table.name} ORDER BY user_name`)).rows as { user_name: string; display_name: string | null; email: string | null }[];
  const identity = async (id: string) => (await pq.db.dataSource.query('SELECT username, status FROM identities WHERE id = $1', [id]))[0];
  const linkOf = async (connectorId: string, uid: string) => (await pq.db.dataSource.query('SELECT identity_id FROM account_links WHERE connector_id = $1 AND external_uid = $2', [connectorId, uid]))[0];
  const settledResult = (caller: Caller, discrepancyId: string) =>
    eventually(
      async () => {
        const [result] = (await caller.get('/reconciliation/remediation-results', { discrepancy_id: discrepancyId })).body.items;
        return result && result.status !== 'pending' ? result : null;
      },
      { timeoutMs: 60_000, what: `the result of ${discrepancyId} settled` },
    );

  it('remediates each type through its default action, toward the target through the provisioning queue', async () => {
    const s = await scenario();
    const dry = await run(s.caller, s.connectorId, true);
    expect(dry).toMatchObject({ status: 'completed', discrepancies_found: 6 });
    const found = await discrepancies(s.caller, dry.id);

    // missing → create: an operation of the provisioning queue, its before hook ran, the account is linked.
    const created = await s.caller.post(`/reconciliation/discrepancies/${found.missing.id}/remediate`, {});
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ action: 'create', direction: 'xavyo_to_target', status: 'pending', dry_run: false, result: { status: 'pending', success: null } });
    const operationId = created.body.result.operation_id;
    expect(created.body.changes).toMatchObject({ operation: 'create', operation_id: operationId, user_id: s.ids.get('m1') });
    expect(await settledResult(s.caller, found.missing.id)).toMatchObject({ status: 'succeeded', success: true, operation_id: operationId, action: 'create' });
    expect((await rows(s.table)).find((r) => r.user_name === 'm1')).toEqual({ user_name: 'm1', display_name: 'Name m1 (hooked)', email: 'm1@example.test' });
    expect(await linkOf(s.connectorId, 'm1')).toEqual({ identity_id: s.ids.get('m1') });
    const operation = (await s.ops.get(`/operations/${operationId}`)).body;
    expect(operation).toMatchObject({ id: operationId, operation_type: 'create', status: 'completed', user_id: s.ids.get('m1'), payload: { cause: { kind: 'reconciliation', discrepancy_id: found.missing.id } } });
    const hookRuns = await pq.db.dataSource.query(`SELECT status FROM script_executions WHERE operation_id = $1 AND trigger_type = 'hook'`, [operationId]);
    expect(hookRuns).toEqual([{ status: 'completed' }]);
    const discrepancy = (await s.caller.get('/reconciliation/discrepancies', { run_id: dry.id, discrepancy_type: 'missing' })).body.items[0];
    expect(discrepancy).toMatchObject({ resolution_status: 'resolved', resolved_by: s.caller.subject });
    // Once is enough.
    expect((await s.caller.post(`/reconciliation/discrepancies/${found.missing.id}/remediate`, {})).status).toBe(409);

    // orphan → delete, mismatch → update: the target changes through operations too.
    const deleted = await s.caller.post(`/reconciliation/discrepancies/${found.orphan.id}/remediate`, {});
    expect(deleted.body).toMatchObject({ action: 'delete', status: 'pending' });
    const updated = await s.caller.post(`/reconciliation/discrepancies/${found.mismatch.id}/remediate`, {});
    expect(updated.body).toMatchObject({ action: 'update', status: 'pending' });
    expect(await settledResult(s.caller, found.orphan.id)).toMatchObject({ status: 'succeeded' });
    expect(await settledResult(s.caller, found.mismatch.id)).toMatchObject({ status: 'succeeded' });
    const after = await rows(s.table);
    expect(after.find((r) => r.user_name === 'o1')).toBeUndefined();
    expect(after.find((r) => r.user_name === 'a1')).toMatchObject({ display_name: 'Name a1' });

    // unlinked → link, deleted → inactivate_identity: the identity store, at once.
    const linked = await s.caller.post(`/reconciliation/discrepancies/${found.unlinked.id}/remediate`, {});
    expect(linked.body).toMatchObject({ action: 'link', direction: 'target_to_xavyo', status: 'succeeded', result: { status: 'succeeded', success: true } });
    expect(await linkOf(s.connectorId, 'u1-account')).toEqual({ identity_id: s.ids.get('u1') });
    const inactivated = await s.caller.post(`/reconciliation/discrepancies/${found.deleted.id}/remediate`, {});
    expect(inactivated.body).toMatchObject({ action: 'inactivate_identity', status: 'succeeded', changes: { status: { from: 'active', to: 'inactive' } } });
    expect(await identity(s.ids.get('d1')!)).toMatchObject({ status: 'inactive' });

    // collision: no default; ignore it (audited).
    const refused = await s.caller.post(`/reconciliation/discrepancies/${found.collision.id}/remediate`, {});
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ code: 'validation_failed', field: 'action' });
    const ignored = await s.caller.post(`/reconciliation/discrepancies/${found.collision.id}/ignore`, { reason: 'two contractors share a mailbox' });
    expect(ignored.status).toBe(200);
    expect(ignored.body).toMatchObject({ resolution_status: 'ignored' });
    expect((await s.caller.post(`/reconciliation/discrepancies/${found.collision.id}/ignore`, {})).status).toBe(409);

    const actions = (await s.caller.get('/reconciliation/actions', { run_id: dry.id, limit: 50 })).body.items as { action_type: string; result: string; dry_run: boolean; performed_by: string }[];
    expect(actions.map((a) => `${a.action_type}:${a.result}`).sort()).toEqual(['create:succeeded', 'delete:succeeded', 'ignore:ignored', 'inactivate_identity:succeeded', 'link:succeeded', 'update:succeeded']);
    expect(actions.every((a) => !a.dry_run && a.performed_by === s.caller.subject)).toBe(true);
    const results = (await s.caller.get('/reconciliation/remediation-results', { run_id: dry.id })).body;
    expect(results.total).toBe(5);
  });

  it('dry runs write nothing to the target or the store; only dry-run actions', async () => {
    const s = await scenario();
    const dry = await run(s.caller, s.connectorId, true);
    const found = await discrepancies(s.caller, dry.id);
    const before = await rows(s.table);
    const one = await s.caller.post(`/reconciliation/discrepancies/${found.missing.id}/remediate`, { dry_run: true });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ dry_run: true, action: 'create', status: 'would_apply', result: null, changes: { operation: 'create', user_id: s.ids.get('m1') } });
    const bulk = await s.caller.post('/reconciliation/discrepancies/remediate', { run_id: dry.id, dry_run: true });
    expect(bulk.status).toBe(200);
    expect(bulk.body).toMatchObject({ dry_run: true, matched: 5, would_apply: 5, pending: 0, succeeded: 0, by_action: { create: 1, delete: 1, update: 1, link: 1, inactivate_identity: 1 } });
    await new Promise((r) => setTimeout(r, 2_000)); // what a request would have started has had time to land
    expect(await rows(s.table)).toEqual(before);
    expect(await linkOf(s.connectorId, 'u1-account')).toBeUndefined();
    expect(await identity(s.ids.get('d1')!)).toMatchObject({ status: 'active' });
    expect((await s.ops.get('/operations', { connector_id: s.connectorId })).body.total).toBe(0);
    expect((await s.caller.get('/reconciliation/remediation-results', { run_id: dry.id })).body.total).toBe(0);
    const actions = (await s.caller.get('/reconciliation/actions', { run_id: dry.id, dry_run: true, limit: 50 })).body;
    expect(actions.total).toBe(6);
    expect((await s.caller.get('/reconciliation/actions', { run_id: dry.id, dry_run: false })).body.total).toBe(0);
    expect((await s.caller.get('/reconciliation/discrepancies', { run_id: dry.id, resolution_status: 'pending' })).body.total).toBe(6);
  });

  it('bulk by filter remediates each discrepancy once; a non-dry run remediates with the default actions', async () => {
    const s = await scenario();
    const dry = await run(s.caller, s.connectorId, true);
    // By type first, then the rest of the run: what the first took is not taken again.
    const mismatches = await s.caller.post('/reconciliation/discrepancies/remediate', { run_id: dry.id, discrepancy_type: 'mismatch' });
    expect(mismatches.body).toMatchObject({ matched: 1, pending: 1, by_action: { update: 1 } });
    const rest = await s.caller.post('/reconciliation/discrepancies/remediate', { run_id: dry.id });
    expect(rest.body).toMatchObject({ matched: 4, pending: 2, succeeded: 2, failed: 0, by_action: { create: 1, delete: 1, link: 1, inactivate_identity: 1 } });
    expect((await s.caller.post('/reconciliation/discrepancies/remediate', { run_id: dry.id })).body).toMatchObject({ matched: 0 });
    const found = await discrepancies(s.caller, dry.id);
    for (const type of ['missing', 'orphan', 'mismatch']) expect(await settledResult(s.caller, found[type].id)).toMatchObject({ status: 'succeeded' });
    expect((await s.ops.get('/operations', { connector_id: s.connectorId })).body.total).toBe(3);

    // A second tenant: its run remediates itself after the guard (2 of 11 linked accounts: under 20%).
    const t = await scenario();
    const done = await run(t.caller, t.connectorId, false);
    expect(done).toMatchObject({ status: 'completed', guard: { decision: 'passed' }, progress: { phase: 'done' } });
    const own = await discrepancies(t.caller, done.id);
    for (const type of ['missing', 'orphan', 'mismatch']) expect(await settledResult(t.caller, own[type].id)).toMatchObject({ status: 'succeeded', run_id: done.id });
    expect((await rows(t.table)).map((r) => r.user_name)).toEqual(['a1', 'a10', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9', 'c1', 'm1', 'u1-account']);
    expect(await linkOf(t.connectorId, 'u1-account')).toEqual({ identity_id: t.ids.get('u1') });
    expect(await identity(t.ids.get('d1')!)).toMatchObject({ status: 'inactive' });
    expect((await discrepancies(t.caller, done.id)).collision.resolution_status).toBe('pending');
    const report = (await t.caller.get(`/reconciliation/runs/${done.id}/report`)).body;
    expect(report.action_summary.by_action).toEqual({ create: 1, delete: 1, update: 1, link: 1, inactivate_identity: 1 });
  });

  it('fails the result of an operation that is dead-lettered; a failed result can be remediated again', async () => {
    const s = await scenario();
    const dry = await run(s.caller, s.connectorId, true);
    const found = await discrepancies(s.caller, dry.id);
    const [{ id: organizationId }] = await pq.db.dataSource.query('SELECT id FROM organizations WHERE tenant_id = $1 AND is_default', [s.tenantId]);
    const [{ id: scriptId }] = await pq.db.dataSource.query(
      `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, current_version) VALUES ($1, $2, $3, $4, 'embedded', 'active', 1) RETURNING id`,
      [s.tenantId, organizationId, `refuse-${randomUUID().slice(0, 6)}`, `export default async () => ({ fail: 'no updates during the freeze' })`],
    );
    const [{ id: bindingId }] = await pq.db.dataSource.query(
      `INSERT INTO hook_bindings (tenant_id, script_id, connector_id, hook_phase, operation_type, execution_order, failure_policy, max_retries, timeout_seconds)
       VALUES ($1, $2, $3, 'before', 'update', 1, 'abort', 0, 5) RETURNING id`,
      [s.tenantId, scriptId, s.connectorId],
    );
    const first = await s.caller.post(`/reconciliation/discrepancies/${found.mismatch.id}/remediate`, {});
    expect(first.body).toMatchObject({ action: 'update', status: 'pending' });
    const failed = await settledResult(s.caller, found.mismatch.id);
    expect(failed).toMatchObject({ status: 'failed', success: false, operation_id: first.body.result.operation_id });
    expect(failed.error).toContain('dead_letter');
    expect((await s.ops.get(`/operations/${first.body.result.operation_id}`)).body).toMatchObject({ status: 'dead_letter' });
    expect((await s.caller.get('/reconciliation/actions', { discrepancy_id: found.mismatch.id })).body.items[0]).toMatchObject({ action_type: 'update', result: 'failed' });
    expect((await discrepancies(s.caller, dry.id)).mismatch.resolution_status).toBe('pending');
    expect((await rows(s.table)).find((r) => r.user_name === 'a1')).toMatchObject({ display_name: 'Wrong Name' });

    await pq.db.dataSource.query('DELETE FROM hook_bindings WHERE id = $1', [bindingId]);
    await new Promise((r) => setTimeout(r, 2_500)); // the queue caches a connector's bindings for 2 s
    const second = await s.caller.post(`/reconciliation/discrepancies/${found.mismatch.id}/remediate`, {});
    expect(second.body).toMatchObject({ status: 'pending' });
    expect(second.body.result.operation_id).not.toBe(first.body.result.operation_id);
    expect(await settledResult(s.caller, found.mismatch.id)).toMatchObject({ status: 'succeeded', error: null, operation_id: second.body.result.operation_id });
    expect((await rows(s.table)).find((r) => r.user_name === 'a1')).toMatchObject({ display_name: 'Name a1' });
  });

  it('remediates toward a SCIM target the same way (create, update, delete through operations)', async () => {
    const url = process.env.SCIM_TARGET_URL ?? '';
    const token = process.env.SCIM_TARGET_TOKEN ?? '';
    if (!url || !token) throw new Error('SCIM_TARGET_URL / SCIM_TARGET_TOKEN are not set (source .stack/stack.env)');
    const tenantId = randomUUID();
    const caller = rc.caller({ tenantId });
    const ops = pq.caller({ tenantId });
    const prefix = `rm-${randomUUID().slice(0, 8)}-`;
    const scim = createConnector('scim', { baseUrl: url, auth: 'bearer' }, { token });
    try {
      const connector = await ops.createConnector({
        type: 'scim',
        config: { baseUrl: url, auth: 'bearer', pageSize: 200 },
        credentials: { token },
        attribute_mapping: [
          { target: 'userName', from: 'username', required: true },
          { target: 'displayName', from: 'display_name' },
        ],
      });
      const name = (n: string) => `${prefix}${n}`;
      const ids = await insertIdentities(pq.db, tenantId, ['bob', 'mia'].map((n) => ({ username: name(n), display_name: `Name ${n}` })));
      const bob = (await scim.create('account', { userName: name('bob'), displayName: 'Wrong Bob' })).uid;
      const stray = (await scim.create('account', { userName: name('stray'), displayName: 'Stray' })).uid;
      await insertLinks(pq.db, tenantId, connector.id, [{ identity_id: ids.get(name('bob'))!, external_uid: bob }]);
      const dry = await run(caller, connector.id, true);
      expect(dry.status).toBe('completed');
      const pick = async (type: string, match: (d: Discrepancy) => boolean) => {
        const items = (await caller.get('/reconciliation/discrepancies', { run_id: dry.id, discrepancy_type: type, limit: 200 })).body.items as Discrepancy[];
        return items.find(match)!;
      };
      const missing = await pick('missing', (d) => d.identity_id === ids.get(name('mia')));
      const mismatch = await pick('mismatch', (d) => d.external_uid === bob);
      const orphan = await pick('orphan', (d) => d.external_uid === stray);
      for (const d of [missing, mismatch, orphan]) expect((await caller.post(`/reconciliation/discrepancies/${d.id}/remediate`, {})).body).toMatchObject({ status: 'pending' });
      for (const d of [missing, mismatch, orphan]) expect(await settledResult(caller, d.id)).toMatchObject({ status: 'succeeded' });
      const created = (await pq.db.dataSource.query('SELECT external_uid FROM account_links WHERE connector_id = $1 AND identity_id = $2', [connector.id, ids.get(name('mia'))]))[0];
      expect(await scim.get('account', created.external_uid)).toMatchObject({ attributes: { userName: name('mia'), displayName: 'Name mia' } });
      expect(await scim.get('account', bob)).toMatchObject({ attributes: { displayName: 'Name bob' } });
      expect(await scim.get('account', stray)).toBeNull();
    } finally {
      await fetch(`${url.replace(/\/scim$/, '')}/_admin/resources?resourceType=User&prefix=${encodeURIComponent(prefix)}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
      await scim.close();
    }
  });

  it('checks permissions, tenants and input', async () => {
    const s = await scenario();
    const dry = await run(s.caller, s.connectorId, true);
    const found = await discrepancies(s.caller, dry.id);
    const reader = s.caller.with(['reconciliation:read']);
    const writer = s.caller.with(['reconciliation:read', 'reconciliation:write']);
    expect((await reader.post(`/reconciliation/discrepancies/${found.missing.id}/remediate`, { dry_run: true })).status).toBe(403);
    expect((await reader.post(`/reconciliation/discrepancies/${found.missing.id}/ignore`, {})).status).toBe(403);
    expect((await writer.post('/reconciliation/discrepancies/remediate', { run_id: dry.id, dry_run: true })).status).toBe(403);
    expect((await writer.post(`/reconciliation/discrepancies/${found.missing.id}/remediate`, { dry_run: true })).status).toBe(200);
    expect((await reader.get('/reconciliation/actions')).status).toBe(200);
    expect((await reader.get('/reconciliation/remediation-results')).status).toBe(200);
    const stranger = rc.caller();
    expect((await stranger.post(`/reconciliation/discrepancies/${found.missing.id}/remediate`, {})).status).toBe(404);
    expect((await stranger.post(`/reconciliation/discrepancies/${found.missing.id}/ignore`, {})).status).toBe(404);
    expect((await stranger.post('/reconciliation/discrepancies/remediate', { run_id: dry.id })).body).toMatchObject({ matched: 0 });
    const bad = await s.caller.post(`/reconciliation/discrepancies/${found.missing.id}/remediate`, { action: 'purge' });
    expect(bad.body).toMatchObject({ status: 400, field: 'action' });
    const wrongWay = await s.caller.post(`/reconciliation/discrepancies/${found.missing.id}/remediate`, { action: 'link', direction: 'xavyo_to_target' });
    expect(wrongWay.body).toMatchObject({ status: 400, field: 'direction' });
    expect((await s.caller.post('/reconciliation/discrepancies/remediate', {})).body).toMatchObject({ status: 400, field: 'run_id' });
    expect((await s.caller.post('/reconciliation/discrepancies/not-a-uuid/remediate', {})).status).toBe(400);
    // A collision is linked to the owner an operator picks; the other candidate stays unlinked.
    const owner = s.ids.get('cx')!;
    const picked = await s.caller.post(`/reconciliation/discrepancies/${found.collision.id}/remediate`, { action: 'link', identity_id: owner });
    expect(picked.body).toMatchObject({ action: 'link', status: 'succeeded', changes: { linked: { identity_id: owner, external_uid: 'c1' } } });
    // An orphan becomes an identity of its own (target_to_xavyo create), linked to it.
    const adopted = await s.caller.post(`/reconciliation/discrepancies/${found.orphan.id}/remediate`, { action: 'create', direction: 'target_to_xavyo' });
    expect(adopted.body).toMatchObject({ action: 'create', direction: 'target_to_xavyo', status: 'succeeded', changes: { identity: { username: 'o1', email: 'nobody@example.test', display_name: 'Nobody' } } });
    expect(await linkOf(s.connectorId, 'o1')).toEqual({ identity_id: adopted.body.changes.identity_id });
    // A mismatch taken from the target: the identity's display name becomes the account's.
    const back = await s.caller.post(`/reconciliation/discrepancies/${found.mismatch.id}/remediate`, { action: 'update', direction: 'target_to_xavyo' });
    expect(back.body).toMatchObject({ status: 'succeeded', changes: { field: 'display_name', from: 'Name a1', to: 'Wrong Name' } });
    // A stale link removed (unlink of a deleted account).
    const unlinked = await s.caller.post(`/reconciliation/discrepancies/${found.deleted.id}/remediate`, { action: 'unlink' });
    expect(unlinked.body).toMatchObject({ status: 'succeeded', changes: { unlinked: { external_uid: 'd1', identity_id: s.ids.get('d1') } } });
    expect(await linkOf(s.connectorId, 'd1')).toBeUndefined();
  });
});
