/**
 * Reconciliation through the SCIM connector against the stack's SCIM target server (SCIM_TARGET_*): a
 * full dry run classifies planted differences exactly, and a delta reads only the Users whose
 * `meta.lastModified` is at or after the full run's watermark. The server is shared with other suites:
 * this one names its Users with a prefix of its own (removed after) and holds any other User it reads to
 * be what it is for this tenant, an orphan.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Connector, createConnector } from '@provisio/connectors';
import { Caller, insertIdentities, insertLinks, ReconcilerTestApp, startReconciler, waitForRun } from '../testing/reconciler-app';

jest.setTimeout(120_000);

const url = process.env.SCIM_TARGET_URL ?? '';
const token = process.env.SCIM_TARGET_TOKEN ?? '';
const endedRun = (run: { status: string; progress: { phase: string } }) => ['completed', 'failed', 'cancelled'].includes(run.status) || run.progress.phase === 'awaiting_approval';

interface Discrepancy {
  discrepancy_type: string;
  external_uid: string | null;
  identity_id: string | null;
  attribute_name: string | null;
  expected_value: string | null;
  actual_value: string | null;
}

describe('reconciliation runs (SCIM target)', () => {
  let t: ReconcilerTestApp;
  let scim: Connector;
  let caller: Caller;
  const prefix = `rs-${randomBytes(4).toString('hex')}-`;
  const uid: Record<string, string> = {};

  const discrepancies = async (runId: string): Promise<Discrepancy[]> => {
    const items: Discrepancy[] = [];
    for (let offset = 0; ; offset += 100) {
      const page = (await caller.get('/reconciliation/discrepancies', { run_id: runId, limit: 100, offset })).body;
      items.push(...page.items);
      if (items.length >= page.total || page.items.length === 0) return items;
    }
  };
  const ours = (items: Discrepancy[]) => {
    const names = new Map(Object.entries(uid).map(([name, id]) => [id, name]));
    return items
      .filter((d) => d.external_uid === null || names.has(d.external_uid))
      .map((d) => [d.discrepancy_type, d.external_uid === null ? null : names.get(d.external_uid)!, d.identity_id, d.attribute_name, d.expected_value, d.actual_value])
      .sort();
  };

  beforeAll(async () => {
    if (!url || !token) throw new Error('SCIM_TARGET_URL / SCIM_TARGET_TOKEN are not set (source .stack/stack.env)');
    scim = createConnector('scim', { baseUrl: url, auth: 'bearer' }, { token });
    t = await startReconciler({ RECONCILIATION_PAGE_SIZE: '2' });
    caller = t.caller();
  });

  afterAll(async () => {
    await fetch(`${url.replace(/\/scim$/, '')}/_admin/resources?resourceType=User&prefix=${encodeURIComponent(prefix)}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
    await scim?.close();
    await t?.close();
  });

  it('classifies SCIM Users exactly in a full run, and a delta reads only what changed by meta.lastModified', async () => {
    const connectorId = await t.insertConnector(caller.tenantId, {
      type: 'scim',
      config: { baseUrl: url, auth: 'bearer', pageSize: 2 },
      credentials: { token },
      attribute_mapping: [
        { target: 'userName', from: 'username', required: true },
        { target: 'displayName', from: 'display_name' },
      ],
    });
    const name = (n: string) => `${prefix}${n}`;
    const ids = await insertIdentities(t.db, caller.tenantId, ['alice', 'bob', 'carol', 'dave', 'gone'].map((n) => ({ username: name(n), display_name: `Name ${n}` })));
    // alice matches, bob's displayName differs, carol is unlinked (correlates by userName), stray is nobody's; created in this order.
    for (const [n, displayName] of [['alice', 'Name alice'], ['bob', 'Wrong Bob'], ['carol', 'Name carol'], ['stray', 'Stray']]) {
      uid[n] = (await scim.create('account', { userName: name(n), displayName })).uid;
    }
    uid.gone = randomUUID(); // linked, but the target holds no such User: deleted
    await insertLinks(t.db, caller.tenantId, connectorId, ['alice', 'bob', 'gone'].map((n) => ({ identity_id: ids.get(name(n))!, external_uid: uid[n] })));

    const created = await caller.post('/reconciliation/runs', { connector_id: connectorId, dry_run: true });
    expect(created.status).toBe(201);
    const full = await waitForRun(caller, created.body.id, endedRun);
    expect(full.status).toBe('completed');
    const fullItems = await discrepancies(full.id);
    expect(ours(fullItems)).toEqual(
      [
        ['mismatch', 'bob', ids.get(name('bob')), 'displayName', 'Name bob', 'Wrong Bob'],
        ['unlinked', 'carol', ids.get(name('carol')), 'username=userName', null, null],
        ['orphan', 'stray', null, null, null, null],
        ['deleted', 'gone', ids.get(name('gone')), null, null, null],
        ['missing', null, ids.get(name('dave')), null, null, null],
      ].sort(),
    );
    // Whatever else the shared server holds is nobody's here: one orphan each, and it was read.
    const foreign = fullItems.filter((d) => d.external_uid !== null && !Object.values(uid).includes(d.external_uid));
    expect(foreign.every((d) => d.discrepancy_type === 'orphan')).toBe(true);
    expect(full.accounts_processed).toBe(4 + foreign.length);
    expect(full.discrepancies_found).toBe(fullItems.length);
    expect(full.watermark).toEqual(expect.any(String));

    // meta.lastModified has a resolution of a millisecond: the changes land after the full run's watermark.
    await new Promise((r) => setTimeout(r, 50));
    await scim.update('account', uid.alice, { replace: { displayName: 'Alicia' }, remove: [] });
    uid.erin = (await scim.create('account', { userName: name('erin'), displayName: 'Erin' })).uid;
    const delta = await caller.post('/reconciliation/runs', { connector_id: connectorId, mode: 'delta', dry_run: true });
    expect(delta.status).toBe(201);
    const done = await waitForRun(caller, delta.body.id, endedRun);
    expect(done.status).toBe('completed');
    const deltaItems = await discrepancies(done.id);
    const mine = ours(deltaItems);
    // alice changed, erin is new; stray, the newest User of the full run, sits at its watermark and is read again (`ge`).
    expect(mine).toContainEqual(['mismatch', 'alice', ids.get(name('alice')), 'displayName', 'Name alice', 'Alicia']);
    expect(mine).toContainEqual(['orphan', 'erin', null, null, null, null]);
    expect(mine.every((d) => ['alice', 'erin', 'stray'].includes(d[1] as string))).toBe(true);
    // Every User the delta read gives one discrepancy here (changed, new, or another suite's): bob and carol were not read.
    const read = new Set(deltaItems.map((d) => d.external_uid));
    expect(done.accounts_processed).toBe(read.size);
    expect(read.has(uid.bob)).toBe(false);
    expect(read.has(uid.carol)).toBe(false);
    // A delta tells neither deleted nor missing.
    expect(deltaItems.filter((d) => ['deleted', 'missing'].includes(d.discrepancy_type))).toEqual([]);
  });
});
