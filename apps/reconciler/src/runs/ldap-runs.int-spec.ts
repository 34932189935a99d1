/**
 * Reconciliation through the LDAP connector against the stack's LDAP target: accounts are DNs in a
 * container of this suite's own, links name them, the mapping's uid correlates an unlinked entry, and a
 * delta reads by modifyTimestamp.
 */
import { randomBytes } from 'node:crypto';
import { Attribute, Change, Client, Control } from 'ldapts';
import { insertIdentities, insertLinks, ReconcilerTestApp, startReconciler, waitForRun } from '../testing/reconciler-app';

jest.setTimeout(120_000);

const target = {
  url: process.env.LDAP_TARGET_URL ?? '',
  bindDn: process.env.LDAP_TARGET_BIND_DN ?? '',
  password: process.env.LDAP_TARGET_PASSWORD ?? '',
  baseDn: process.env.LDAP_TARGET_BASE_DN ?? '',
};
const endedRun = (run: { status: string; progress: { phase: string } }) => ['completed', 'failed', 'cancelled'].includes(run.status) || run.progress.phase === 'awaiting_approval';

describe('reconciliation runs (LDAP target)', () => {
  let t: ReconcilerTestApp;
  let admin: Client;
  const ou = `recon-${randomBytes(4).toString('hex')}`;
  const container = `ou=${ou},ou=people,${target.baseDn}`;
  const dn = (uid: string) => `uid=${uid},${container}`;

  beforeAll(async () => {
    if (!target.url || !target.password) throw new Error('LDAP_TARGET_* are not set (source .stack/stack.env)');
    admin = new Client({ url: target.url });
    await admin.bind(target.bindDn, target.password);
    await admin.add(container, { objectClass: ['top', 'organizationalUnit'], ou });
    for (const [uid, cn] of [['alice', 'Alice'], ['bob', 'Wrong Bob'], ['carol', 'Carol'], ['stray', 'Stray']]) {
      await admin.add(dn(uid), { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], uid, cn, sn: 'Test' });
    }
    t = await startReconciler({ RECONCILIATION_PAGE_SIZE: '2' });
  });

  afterAll(async () => {
    await admin?.del(container, new Control('1.2.840.113556.1.4.805', { critical: true })).catch(() => undefined);
    await admin?.unbind().catch(() => undefined);
    await t?.close();
  });

  it('classifies LDAP entries by DN, correlates by uid, and deltas by modifyTimestamp', async () => {
    const caller = t.caller();
    const connectorId = await t.insertConnector(caller.tenantId, {
      type: 'ldap',
      config: { url: target.url, bindDn: target.bindDn, baseDn: target.baseDn, accounts: { container: `ou=${ou},ou=people` } },
      credentials: { password: target.password },
      attribute_mapping: [
        { target: 'uid', from: 'username', required: true },
        { target: 'cn', from: 'display_name' },
      ],
    });
    const ids = await insertIdentities(t.db, caller.tenantId, [
      { username: 'alice', display_name: 'Alice' },
      { username: 'bob', display_name: 'Bob' },
      { username: 'carol', display_name: 'Carol' },
    ]);
    await insertLinks(t.db, caller.tenantId, connectorId, [
      { identity_id: ids.get('alice')!, external_uid: dn('alice') },
      { identity_id: ids.get('bob')!, external_uid: dn('bob') },
    ]);

    const created = await caller.post('/reconciliation/runs', { connector_id: connectorId, dry_run: true });
    expect(created.status).toBe(201);
    const full = await waitForRun(caller, created.body.id, endedRun);
    expect(full).toMatchObject({ status: 'completed', accounts_processed: 4, discrepancies_found: 3 });
    const items = (await caller.get('/reconciliation/discrepancies', { run_id: full.id })).body.items as { discrepancy_type: string; external_uid: string; identity_id: string | null; attribute_name: string | null; actual_value: string | null }[];
    const seen = items.map((d) => [d.discrepancy_type, d.external_uid.toLowerCase(), d.identity_id, d.attribute_name, d.actual_value]).sort();
    expect(seen).toEqual(
      [
        ['mismatch', dn('bob').toLowerCase(), ids.get('bob'), 'cn', 'Wrong Bob'],
        ['orphan', dn('stray').toLowerCase(), null, null, null],
        ['unlinked', dn('carol').toLowerCase(), ids.get('carol'), 'username=uid', null],
      ].sort(),
    );

    // modifyTimestamp has a resolution of a second: the change lands after the full run's watermark.
    await new Promise((r) => setTimeout(r, 1_100));
    await admin.modify(dn('alice'), new Change({ operation: 'replace', modification: new Attribute({ type: 'cn', values: ['Alicia'] }) }));
    const delta = await caller.post('/reconciliation/runs', { connector_id: connectorId, mode: 'delta', dry_run: true });
    const done = await waitForRun(caller, delta.body.id, endedRun);
    expect(done.status).toBe('completed');
    expect(done.accounts_processed).toBeLessThan(4);
    const changed = (await caller.get('/reconciliation/discrepancies', { run_id: done.id, discrepancy_type: 'mismatch' })).body.items;
    expect(changed.map((d: { external_uid: string; actual_value: string }) => [d.external_uid.toLowerCase(), d.actual_value])).toContainEqual([dn('alice').toLowerCase(), 'Alicia']);
  });
});
