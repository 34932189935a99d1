/**
 * Reconciliation runs end to end against the stack's SQL target (PostgreSQL): the connector's paged
 * search, COPY into staging, set-based classification of all six types, the lifecycle (pause, resume from
 * a checkpoint, cancel, the guard rail's approve and reject), no overlap per connector, delta from the
 * last watermark, and the sweep taking back a run whose worker died.
 */
import { randomUUID } from 'node:crypto';
import { EventType, Topic } from '@provisio/contracts';
import { readTopic, testKafka } from '@provisio/platform/testing';
import { Caller, insertIdentities, insertLinks, ReconcilerTestApp, SQL_MAPPING, SqlTargetTable, startReconciler, waitForRun } from '../testing/reconciler-app';

jest.setTimeout(120_000);

const endedRun = (run: { status: string; progress: { phase: string } }) => ['completed', 'failed', 'cancelled'].includes(run.status) || (run.status === 'paused' && run.progress.phase === 'awaiting_approval');

describe('reconciliation runs (SQL target)', () => {
  let t: ReconcilerTestApp;
  let target: SqlTargetTable;
  let caller: Caller;
  let connectorId: string;
  let ids: Map<string, string>;

  beforeAll(async () => {
    t = await startReconciler({ RECONCILIATION_PAGE_SIZE: '3', RECONCILIATION_ABANDONED_AFTER_MS: '1000' });
    target = await SqlTargetTable.create();
    caller = t.caller();
    connectorId = await t.insertConnector(caller.tenantId, { type: 'sql', config: target.config(), credentials: { password: '' }, attribute_mapping: SQL_MAPPING });
    // linked a1..a8 (a1's display name differs), d1 linked but gone from the target, m1 without account,
    // u1 unlinked (correlates by email), c-x and c-y share the email of account c1 (collision), o1 orphan.
    const people = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'd1', 'm1', 'u1', 'cx', 'cy'].map((u) => ({
      username: u,
      email: u === 'cx' || u === 'cy' ? 'shared@example.test' : `${u}@example.test`,
      display_name: `Name ${u}`,
    }));
    ids = await insertIdentities(t.db, caller.tenantId, people);
    await target.insert([
      ...['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8'].map((u) => ({ user_name: u, email: `${u}@example.test`, display_name: u === 'a1' ? 'Wrong Name' : `Name ${u}` })),
      { user_name: 'u1-account', email: 'U1@Example.test ', display_name: 'Name u1' },
      { user_name: 'c1', email: 'shared@example.test', display_name: 'who' },
      { user_name: 'o1', email: 'nobody@example.test', display_name: 'Nobody' },
    ]);
    await insertLinks(t.db, caller.tenantId, connectorId, [...['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'd1'].map((u) => ({ identity_id: ids.get(u)!, external_uid: u }))]);
  });

  afterAll(async () => {
    await target?.drop();
    await t?.close();
  });

  async function run(body: Record<string, unknown>) {
    const created = await caller.post('/reconciliation/runs', { connector_id: connectorId, ...body });
    expect(created.status).toBe(201);
    return waitForRun(caller, created.body.id, endedRun);
  }

  async function discrepancies(runId: string) {
    const response = await caller.get('/reconciliation/discrepancies', { run_id: runId, limit: 200 });
    expect(response.status).toBe(200);
    return (response.body.items as { discrepancy_type: string; external_uid: string | null; identity_id: string | null; attribute_name: string | null; expected_value: string | null; actual_value: string | null }[])
      .map((d) => ({ type: d.discrepancy_type, uid: d.external_uid, identity: d.identity_id, attribute: d.attribute_name, expected: d.expected_value, actual: d.actual_value }))
      .sort((a, b) => `${a.type}${a.uid}`.localeCompare(`${b.type}${b.uid}`));
  }

  it('classifies a full dry run into the six types, exactly', async () => {
    const done = await run({ mode: 'full', dry_run: true });
    expect(done).toMatchObject({ status: 'completed', mode: 'full', dry_run: true, accounts_processed: 11, discrepancies_found: 6, progress: { phase: 'done', processed: 11 } });
    expect(done.duration_seconds).toBeGreaterThan(0);
    // 11 accounts in pages of 3: 4 pages.
    expect(done.api_calls_made).toBe(4);
    expect(await discrepancies(done.id)).toEqual([
      { type: 'collision', uid: 'c1', identity: null, attribute: 'email=email', expected: [ids.get('cx'), ids.get('cy')].sort().join(','), actual: null },
      { type: 'deleted', uid: 'd1', identity: ids.get('d1'), attribute: null, expected: null, actual: null },
      { type: 'mismatch', uid: 'a1', identity: ids.get('a1'), attribute: 'displayName', expected: 'Name a1', actual: 'Wrong Name' },
      { type: 'missing', uid: null, identity: ids.get('m1'), attribute: null, expected: null, actual: null },
      { type: 'orphan', uid: 'o1', identity: null, attribute: null, expected: null, actual: null },
      { type: 'unlinked', uid: 'u1-account', identity: ids.get('u1'), attribute: 'email=email', expected: null, actual: null },
    ]);
    // The end is announced once, with the run's figures, through the outbox.
    const ours = (m: { value: string | null }) => JSON.parse(m.value ?? '{}').subject === done.id;
    const finished = (await readTopic(testKafka(), t.prefix + Topic.ReconciliationRuns, (all) => all.some(ours))).filter(ours);
    expect(finished).toHaveLength(1);
    expect(JSON.parse(finished[0].value!)).toMatchObject({
      type: EventType.ReconciliationFinished,
      source: 'provisio/reconciler',
      tenantid: caller.tenantId,
      data: { run_id: done.id, connector_id: connectorId, status: 'completed', mode: 'full', dry_run: true, accounts_processed: 11, discrepancies_found: 6 },
    });
    const report = await caller.get(`/reconciliation/runs/${done.id}/report`);
    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({
      run_id: done.id,
      discrepancy_summary: { total: 6, by_type: { missing: 1, orphan: 1, mismatch: 1, collision: 1, unlinked: 1, deleted: 1 } },
      action_summary: { by_action: { would_create: 1, would_delete: 1, would_update: 1, would_link: 1, would_inactivate_identity: 1 } },
      top_mismatched_attributes: [{ attribute_name: 'displayName', count: 1 }],
      performance_metrics: { api_calls_made: 4 },
    });
    expect(report.body.performance_metrics.accounts_per_second).toBeGreaterThan(0);
    const trend = await caller.get('/reconciliation/trends', { days: 2 });
    expect(trend.status).toBe(200);
    expect(trend.body).toHaveLength(2);
    expect(trend.body[1]).toMatchObject({ date: new Date().toISOString().slice(0, 10), by_type: { mismatch: 1 } });
  });

  it('pauses a run over the guard threshold until approved; a rejected one is cancelled', async () => {
    // orphan + deleted = 2 of 9 linked accounts (22%): over the default 20%.
    const paused = await run({ mode: 'full' });
    expect(paused).toMatchObject({ status: 'paused', progress: { phase: 'awaiting_approval' }, guard: { would_delete: 1, would_inactivate: 1, linked_accounts: 9, threshold_percent: 20 } });
    expect(paused.pause_reason).toMatch(/delete 1 and inactivate 1 of 9 linked accounts/);
    expect((await caller.post(`/reconciliation/runs/${paused.id}/resume`)).status).toBe(409);
    expect((await caller.with(['reconciliation:read', 'reconciliation:write']).post(`/reconciliation/runs/${paused.id}/approve`)).status).toBe(403);
    const approved = await caller.post(`/reconciliation/runs/${paused.id}/approve`);
    expect(approved.status).toBe(200);
    const completed = await waitForRun(caller, paused.id, endedRun);
    expect(completed).toMatchObject({ status: 'completed', guard: { decision: 'approved', decided_by: caller.subject } });

    const again = await run({ mode: 'full', delete_threshold_percent: 10 });
    expect(again.status).toBe('paused');
    const rejected = await caller.post(`/reconciliation/runs/${again.id}/reject`);
    expect(rejected.status).toBe(200);
    expect(rejected.body).toMatchObject({ status: 'cancelled', guard: { decision: 'rejected' } });
    const ofRejected = (m: { value: string | null }) => JSON.parse(m.value ?? '{}').subject === again.id;
    const ended = (await readTopic(testKafka(), t.prefix + Topic.ReconciliationRuns, (all) => all.some(ofRejected))).filter(ofRejected);
    expect(ended.map((m) => JSON.parse(m.value!).data.status)).toEqual(['cancelled']);
    // A threshold above what the run would do lets it complete.
    expect(await run({ mode: 'full', delete_threshold_percent: 50 })).toMatchObject({ status: 'completed', guard: { decision: 'passed' } });
  });

  it('reads only what changed since the last successful run in a delta', async () => {
    await target.client.query(`UPDATE ${target.name} SET display_name = 'Changed', updated_at = clock_timestamp() + interval '2 seconds' WHERE user_name = 'a2'`);
    const delta = await run({ mode: 'delta', dry_run: true });
    expect(delta).toMatchObject({ status: 'completed', mode: 'delta' });
    // The changed account, and at most the one stamped exactly at the watermark (deltas read `>=` it: o1, the newest row).
    expect(delta.accounts_processed).toBeGreaterThanOrEqual(1);
    expect(delta.accounts_processed).toBeLessThanOrEqual(2);
    const found = await discrepancies(delta.id);
    expect(found).toContainEqual({ type: 'mismatch', uid: 'a2', identity: ids.get('a2'), attribute: 'displayName', expected: 'Name a2', actual: 'Changed' });
    expect(found.filter((d) => d.uid !== 'a2').map((d) => d.uid)).toEqual(delta.accounts_processed === 2 ? ['o1'] : []);
    // Deltas cannot see deletions or identities without accounts: no deleted, no missing.
    expect(found.map((d) => d.type)).not.toContain('deleted');
  });

  it('never runs two runs of one connector at once (409)', async () => {
    const first = await caller.post('/reconciliation/runs', { connector_id: connectorId, dry_run: true });
    expect(first.status).toBe(201);
    const second = await caller.post('/reconciliation/runs', { connector_id: connectorId, dry_run: true });
    expect(second.status).toBe(409);
    expect(second.body.field).toBe('connector_id');
    await waitForRun(caller, first.body.id, endedRun);
  });

  it('pauses, resumes from its checkpoint, and a sweep takes back a run whose worker died', async () => {
    const bigTenant = t.caller();
    const big = await SqlTargetTable.create();
    try {
      const bigConnector = await t.insertConnector(bigTenant.tenantId, { type: 'sql', config: big.config(), credentials: { password: '' }, attribute_mapping: SQL_MAPPING });
      const n = 600;
      const names = Array.from({ length: n }, (_, i) => `p${String(i).padStart(4, '0')}`);
      const people = await insertIdentities(t.db, bigTenant.tenantId, names.map((u) => ({ username: u, email: `${u}@x.test`, display_name: u })));
      await big.insert(names.map((u, i) => ({ user_name: u, email: `${u}@x.test`, display_name: i % 100 === 0 ? 'off' : u })));
      await insertLinks(t.db, bigTenant.tenantId, bigConnector, names.map((u) => ({ identity_id: people.get(u)!, external_uid: u })));

      const created = await bigTenant.post('/reconciliation/runs', { connector_id: bigConnector, dry_run: true });
      await waitForRun(bigTenant, created.body.id, (r) => r.accounts_processed >= 30);
      const paused = await bigTenant.post(`/reconciliation/runs/${created.body.id}/pause`);
      expect(paused.status).toBe(200);
      expect(paused.body.status).toBe('paused');
      await new Promise((r) => setTimeout(r, 300));
      const held = (await bigTenant.get(`/reconciliation/runs/${created.body.id}`)).body;
      expect(held.accounts_processed).toBeLessThan(n);
      expect(held.accounts_processed % 3).toBe(0);
      expect((await bigTenant.post(`/reconciliation/runs/${created.body.id}/resume`)).status).toBe(200);
      await waitForRun(bigTenant, created.body.id, (r) => r.accounts_processed >= held.accounts_processed + 60);

      // The worker "dies": its lease goes stale (another token, no heartbeat); the sweep re-enqueues it.
      await bigTenant.post(`/reconciliation/runs/${created.body.id}/pause`);
      await t.db.dataSource.query(`UPDATE reconciliation_runs SET status = 'running', lease_token = $2, heartbeat_at = now() - interval '1 hour' WHERE id = $1`, [created.body.id, randomUUID()]);
      const done = await waitForRun(bigTenant, created.body.id, endedRun, 60_000);
      // Every account once (a page read again is rolled back with its checkpoint), each planted mismatch once.
      expect(done).toMatchObject({ status: 'completed', accounts_processed: n, discrepancies_found: 6 });
      // 200 pages; each pause or takeover reads at most one page again per segment being read.
      // (one page per segment in flight: this process works RECONCILIATION_CONCURRENCY = 2 segments at once)
      expect(done.api_calls_made).toBeLessThanOrEqual(200 + 2 * 2);
      expect(done.api_calls_made).toBeGreaterThanOrEqual(200);
      const cancelled = await bigTenant.post(`/reconciliation/runs/${created.body.id}/cancel`);
      expect(cancelled.status).toBe(409);
    } finally {
      await big.drop();
    }
  });

  it('pauses a run whose target returned no accounts while links exist, and fails one whose target is unreachable', async () => {
    const other = t.caller();
    const empty = await SqlTargetTable.create();
    try {
      const emptyConnector = await t.insertConnector(other.tenantId, { type: 'sql', config: empty.config(), credentials: { password: '' }, attribute_mapping: SQL_MAPPING });
      const people = await insertIdentities(t.db, other.tenantId, [{ username: 'e1' }, { username: 'e2' }]);
      await insertLinks(t.db, other.tenantId, emptyConnector, [...people.values()].map((id, i) => ({ identity_id: id, external_uid: `e${i + 1}` })));
      const created = await other.post('/reconciliation/runs', { connector_id: emptyConnector, delete_threshold_percent: 100 });
      const paused = await waitForRun(other, created.body.id, endedRun);
      expect(paused).toMatchObject({ status: 'paused', accounts_processed: 0, guard: { empty_target: true, linked_accounts: 2 } });
      expect(paused.pause_reason).toBe('the target returned no accounts while 2 accounts are linked');

      const unreachable = await t.insertConnector(other.tenantId, { type: 'sql', config: { ...empty.config(), port: 1 }, credentials: { password: '' }, attribute_mapping: SQL_MAPPING });
      const failing = await other.post('/reconciliation/runs', { connector_id: unreachable, dry_run: true });
      const failed = await waitForRun(other, failing.body.id, endedRun);
      expect(failed.status).toBe('failed');
      expect(failed.error_message).toMatch(/^\w+: /);
      expect(failed.completed_at).not.toBeNull();
    } finally {
      await empty.drop();
    }
  });

  it('cancels a pending or running run', async () => {
    const created = await caller.post('/reconciliation/runs', { connector_id: connectorId, dry_run: true });
    const cancelled = await caller.post(`/reconciliation/runs/${created.body.id}/cancel`);
    // It may have completed already on this small target; otherwise it is cancelled.
    if (cancelled.status === 200) expect(cancelled.body.status).toBe('cancelled');
    else expect(cancelled.body.code).toBe('invalid_transition');
    const settled = await waitForRun(caller, created.body.id, endedRun);
    expect(['cancelled', 'completed']).toContain(settled.status);
  });
});
