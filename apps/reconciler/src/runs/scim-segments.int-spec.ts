/**
 * Reconciliation through the SCIM connector, on a private fixture SCIM server: a full run cut into
 * `startIndex` segments (from the server's totalResults) classifies exactly what was planted and counts
 * every account once.
 */
import { randomBytes } from 'node:crypto';
import { Connector, createConnector } from '@provisio/connectors';
import { collectSearch } from '@provisio/connectors/testing';
import { createScimServer } from '../../../../test/targets/scim-server';
import { insertIdentities, insertLinks, ReconcilerTestApp, startReconciler, waitForRun } from '../testing/reconciler-app';

jest.setTimeout(120_000);

const endedRun = (run: { status: string; progress: { phase: string } }) => ['completed', 'failed', 'cancelled'].includes(run.status) || run.progress.phase === 'awaiting_approval';
const PEOPLE = 300;

describe('reconciliation runs (SCIM target, in segments)', () => {
  let t: ReconcilerTestApp;
  let close: () => Promise<void>;
  let url: string;
  let scim: Connector;
  const token = randomBytes(16).toString('hex');

  beforeAll(async () => {
    const server = createScimServer({ token });
    ({ url, close } = await server.listen(0));
    const admin = (path: string, body: unknown) =>
      fetch(`${new URL(url).origin}/_admin${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await admin('/seed', { prefix: 'p', count: PEOPLE })).ok).toBe(true);
    expect((await admin('/seed', { prefix: 'stray', count: 1 })).ok).toBe(true);
    scim = createConnector('scim', { baseUrl: url, auth: 'bearer' }, { token });
    t = await startReconciler({ RECONCILIATION_PAGE_SIZE: '25', RECONCILIATION_SEGMENTS: '3' });
  });

  afterAll(async () => {
    await scim?.close();
    await t?.close();
    await close?.();
  });

  it('reads the startIndex segments side by side and finds exactly what was planted', async () => {
    const caller = t.caller();
    const uids = new Map((await collectSearch(scim.search('account'))).map((o) => [String(o.attributes.userName), o.uid]));
    expect(uids.size).toBe(PEOPLE + 1);
    const connectorId = await t.insertConnector(caller.tenantId, {
      type: 'scim',
      config: { baseUrl: url, auth: 'bearer' },
      credentials: { token },
      attribute_mapping: [
        { target: 'userName', from: 'username', required: true },
        { target: 'displayName', from: 'display_name' },
      ],
    });
    const names = Array.from({ length: PEOPLE }, (_, i) => `p${i}`);
    // p7's display name differs from its account's (mismatch); m1 has no account (missing); stray1… stray0 has no identity (orphan).
    const ids = await insertIdentities(t.db, caller.tenantId, [...names.map((u) => ({ username: u, display_name: u === 'p7' ? 'Someone Else' : u })), { username: 'm1', display_name: 'm1' }]);
    await insertLinks(t.db, caller.tenantId, connectorId, names.map((u) => ({ identity_id: ids.get(u)!, external_uid: uids.get(u)! })));

    const created = await caller.post('/reconciliation/runs', { connector_id: connectorId, mode: 'full', dry_run: true });
    expect(created.status).toBe(201);
    const done = await waitForRun(caller, created.body.id, endedRun, 60_000);
    expect(done).toMatchObject({ status: 'completed', accounts_processed: PEOPLE + 1, discrepancies_found: 3, progress: { total: PEOPLE + 1 } });

    const found = (await caller.get('/reconciliation/discrepancies', { run_id: done.id, limit: 50 })).body.items as { discrepancy_type: string; external_uid: string | null; identity_id: string | null; attribute_name: string | null }[];
    expect(found.map((d) => [d.discrepancy_type, d.external_uid, d.identity_id, d.attribute_name]).sort()).toEqual(
      [
        ['mismatch', uids.get('p7'), ids.get('p7'), 'displayName'],
        ['missing', null, ids.get('m1'), null],
        ['orphan', uids.get('stray0'), null, null],
      ].sort(),
    );

    const segments: { kind: string; bounds: string; accounts_read: number; pages: number; done: boolean }[] = await t.db.dataSource.query(
      `SELECT kind, bounds, accounts_read, pages, done FROM reconciliation_run_segments WHERE run_id = $1 AND kind = 'read' ORDER BY segment`,
      [done.id],
    );
    // 301 accounts in pages of 25, cut into three ranges of whole pages (a third, rounded up to pages: 125).
    expect(segments.map((s) => s.bounds)).toEqual(['1-126', '126-251', '251']);
    expect(segments.map((s) => s.accounts_read)).toEqual([125, 125, 51]);
    expect(segments.every((s) => s.done)).toBe(true);
    expect(done.api_calls_made).toBe(segments.reduce((n, s) => n + s.pages, 0));
  });
});
