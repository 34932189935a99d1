/**
 * The expected side of a connector with a mapping script: the script runs after the declarative rules
 * through the shared script execution, in batches (one sandbox run per RECONCILIATION_MAPPING_SCRIPT_BATCH
 * identities), so `mismatch` compares against what the script maps. A script that throws or loops fails
 * the run with an error naming it, and the reconciler goes on working other runs.
 */
import { ensureTenant } from '@provisio/persistence';
import { Caller, insertIdentities, insertLinks, ReconcilerTestApp, SQL_MAPPING, SqlTargetTable, startReconciler, waitForRun } from '../testing/reconciler-app';

jest.setTimeout(120_000);

const endedRun = (run: { status: string; progress: { phase: string } }) => ['completed', 'failed', 'cancelled'].includes(run.status) || run.progress.phase === 'awaiting_approval';

// The account's displayName is the identity's display name upper-cased; the rest as the rules mapped it.
const UPPER_SCRIPT = `export default async ({ items, batch }) => {
  if (!batch) throw new Error('the reconciler maps in batches');
  return items.map((i) => ({ ...i.attributes, displayName: String(i.attributes.displayName).toUpperCase() }));
}`;

describe('reconciliation: connector mapping scripts in the expected side', () => {
  let t: ReconcilerTestApp;
  let target: SqlTargetTable;
  let caller: Caller;
  let organizationId: string;
  let ids: Map<string, string>;
  const people = Array.from({ length: 10 }, (_, i) => `p${i}`);

  const script = async (source: string, limits: Record<string, unknown> = {}): Promise<string> =>
    (
      await t.db.dataSource.query(
        `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, current_version, resource_limits) VALUES ($1, $2, $3, $4, 'embedded', 'active', 1, $5) RETURNING id`,
        [caller.tenantId, organizationId, `map-${Math.random().toString(36).slice(2, 10)}`, source, JSON.stringify(limits)],
      )
    )[0].id;
  const connector = async (mappingScriptId: string): Promise<string> => {
    const id = await t.insertConnector(caller.tenantId, { type: 'sql', config: target.config(), credentials: { password: '' }, attribute_mapping: SQL_MAPPING });
    await t.db.dataSource.query('UPDATE connectors SET mapping_script_id = $2 WHERE id = $1', [id, mappingScriptId]);
    await insertLinks(t.db, caller.tenantId, id, people.map((u) => ({ identity_id: ids.get(u)!, external_uid: u })));
    return id;
  };
  const run = async (connectorId: string) => {
    const created = await caller.post('/reconciliation/runs', { connector_id: connectorId, dry_run: true });
    expect(created.status).toBe(201);
    return waitForRun(caller, created.body.id, endedRun, 60_000);
  };

  beforeAll(async () => {
    // Batches of at most 4 identities: ten identities are a few sandbox runs, not ten.
    t = await startReconciler({ RECONCILIATION_PAGE_SIZE: '3', RECONCILIATION_MAPPING_SCRIPT_BATCH: '4', RECONCILIATION_SANDBOX_POOL_SIZE: '1' });
    target = await SqlTargetTable.create();
    caller = t.caller();
    organizationId = await ensureTenant(t.db.dataSource, caller.tenantId);
    ids = await insertIdentities(t.db, caller.tenantId, people.map((u) => ({ username: u, email: `${u}@example.test`, display_name: `Name ${u}` })));
    // What the script maps, except p3 (holds what the rules alone would map) and p7 (holds something else).
    await target.insert(people.map((u) => ({ user_name: u, email: `${u}@example.test`, display_name: u === 'p3' ? `Name ${u}` : u === 'p7' ? 'Somebody Else' : `NAME ${u.toUpperCase()}` })));
  });

  afterAll(async () => {
    await target?.drop();
    await t?.close();
  });

  it('compares against the attributes the script maps, one sandbox run per batch of identities', async () => {
    const scriptId = await script(UPPER_SCRIPT);
    const connectorId = await connector(scriptId);
    const done = await run(connectorId);
    expect(done).toMatchObject({ status: 'completed', accounts_processed: 10, discrepancies_found: 2 });
    const items = (await caller.get('/reconciliation/discrepancies', { run_id: done.id })).body.items as Record<string, unknown>[];
    expect(items.map((d) => [d.discrepancy_type, d.external_uid, d.identity_id, d.attribute_name, d.expected_value, d.actual_value]).sort()).toEqual([
      ['mismatch', 'p3', ids.get('p3'), 'displayName', 'NAME P3', 'Name p3'],
      ['mismatch', 'p7', ids.get('p7'), 'displayName', 'NAME P7', 'Somebody Else'],
    ]);
    const runs = await t.db.dataSource.query(`SELECT status, trigger_type, connector_id, trigger_data FROM script_executions WHERE script_id = $1 ORDER BY started_at`, [scriptId]);
    // Batches of at most 4 within each identity segment of the run: every identity mapped once, in a few sandbox runs.
    const sizes: number[] = runs.map((r: { trigger_data: { batch_size: number } }) => r.trigger_data.batch_size);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(10);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4);
    expect(runs.length).toBeLessThan(10);
    for (const r of runs) {
      expect(r).toMatchObject({ status: 'completed', trigger_type: 'api', connector_id: connectorId, trigger_data: { kind: 'connector_mapping', reconciliation_run_id: done.id } });
    }
  });

  it('fails the run, naming the script, when the script throws, loops past its limit or answers no attributes; other runs go on', async () => {
    const throws = await script(`export default async () => { throw new Error('no mapping today'); }`);
    const loops = await script(`export default async () => { for (;;) {} }`, { max_execution_time_ms: 300 });
    const garbage = await script(`export default async ({ items }) => items.map(() => 'not attributes')`);
    const [thrown, looped, wrong] = await Promise.all([connector(throws), connector(loops), connector(garbage)].map(async (c) => run(await c)));
    expect(thrown).toMatchObject({ status: 'failed', discrepancies_found: 0 });
    expect(thrown.error_message).toContain(`mapping script ${throws}`);
    expect(thrown.error_message).toContain('no mapping today');
    expect(looped).toMatchObject({ status: 'failed' });
    expect(looped.error_message).toContain(`mapping script ${loops}`);
    expect(looped.error_message).toMatch(/timeout/i);
    expect(wrong).toMatchObject({ status: 'failed' });
    expect(wrong.error_message).toContain(`mapping script ${garbage} (v1) answered no attributes: answer 0`);
    // Nothing of the failed runs stays staged, and the service still works runs.
    expect(Number((await t.db.dataSource.query('SELECT count(*) AS n FROM reconciliation_expected_accounts'))[0].n)).toBe(0);
    const fine = await run(await connector(await script(UPPER_SCRIPT)));
    expect(fine).toMatchObject({ status: 'completed', discrepancies_found: 2 });
  });
});
