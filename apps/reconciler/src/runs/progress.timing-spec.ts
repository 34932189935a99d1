/**
 * Progress of a running run through the API: once a tenth of the target's accounts is read, the finish
 * the ETA predicts (the moment of the sample plus `eta_seconds`) lies within ±10% of the run's duration
 * of the moment it actually completed. A full run over a SCIM target (which tells its total) of many
 * small pages, each answered after a fixed latency as a remote service's are, so the run lasts several
 * seconds whatever else loads the machine. A first run of the connector teaches the ETA what comes
 * after reading (classification, guard); the second is judged.
 */
import { randomBytes } from 'node:crypto';
import { createScimServer } from '../../../../test/targets/scim-server';
import { insertIdentities, insertLinks, ReconcilerTestApp, startReconciler, waitForRun } from '../testing/reconciler-app';

jest.setTimeout(180_000);

const ACCOUNTS = Number(process.env.PROGRESS_TEST_ACCOUNTS ?? 20_000);
const PAGE = 100;
/** Each page's answer waits this long (a timer: it does not compete for the CPU). */
const PAGE_LATENCY_MS = 150;

interface Sample {
  at: number;
  status: string;
  phase: string;
  processed: number;
  total: number | null;
  eta_seconds: number | null;
}

describe('reconciliation progress: the ETA', () => {
  let t: ReconcilerTestApp;
  let closeScim: () => Promise<void>;
  let scimUrl: string;
  const token = randomBytes(16).toString('hex');
  const scim = createScimServer({ token, maxResults: PAGE });

  beforeAll(async () => {
    const listening = await scim.listen(0);
    scimUrl = listening.url;
    closeScim = listening.close;
    t = await startReconciler({ RECONCILIATION_PAGE_SIZE: String(PAGE) });
  });

  afterAll(async () => {
    await t?.close();
    await closeScim?.();
  });

  it('predicts the finish within ±10% once 10% of the accounts are read', async () => {
    const caller = t.caller();
    const connectorId = await t.insertConnector(caller.tenantId, {
      type: 'scim',
      config: { baseUrl: scimUrl, auth: 'bearer', pageSize: PAGE },
      credentials: { token },
      attribute_mapping: [
        { target: 'userName', from: 'username', required: true },
        { target: 'displayName', from: 'display_name' },
      ],
    });
    // Every account linked to an identity whose mapping it matches: the run reads, expects and classifies all of them.
    const names = Array.from({ length: ACCOUNTS }, (_, i) => `eta-${i}`);
    const uids = names.map((name) => scim.stores.User.create({ userName: name, displayName: `Name ${name}`, active: true }).id);
    const ids = await insertIdentities(t.db, caller.tenantId, names.map((name) => ({ username: name, display_name: `Name ${name}` })));
    await insertLinks(t.db, caller.tenantId, connectorId, names.map((name, i) => ({ identity_id: ids.get(name)!, external_uid: uids[i] })));

    // The first run (at the server's own pace) leaves what comes after reading, per account, for the next one's ETA.
    const first = await caller.post('/reconciliation/runs', { connector_id: connectorId, dry_run: true });
    expect(await waitForRun(caller, first.body.id, (run) => ['completed', 'failed', 'cancelled'].includes(run.status), 150_000)).toMatchObject({ status: 'completed' });
    scim.faults.set({ latencyMs: PAGE_LATENCY_MS, methods: ['GET'] });

    const created = await caller.post('/reconciliation/runs', { connector_id: connectorId, dry_run: true });
    expect(created.status).toBe(201);
    const samples: Sample[] = [];
    const done = await waitForRun(
      caller,
      created.body.id,
      (run) => {
        samples.push({ at: Date.now(), status: run.status, ...run.progress });
        return ['completed', 'failed', 'cancelled'].includes(run.status);
      },
      150_000,
    );
    expect(done).toMatchObject({ status: 'completed', accounts_processed: ACCOUNTS, discrepancies_found: 0 });

    const startedAt = new Date(done.started_at).getTime();
    const finishedAt = new Date(done.completed_at).getTime();
    const duration = finishedAt - startedAt;
    const judged = samples.filter((s) => s.status === 'running' && s.total !== null && s.processed >= 0.1 * s.total);
    const errors = judged.map((s) => ({ percent: Math.round((100 * s.processed) / s.total!), phase: s.phase, eta_s: s.eta_seconds, error: s.eta_seconds === null ? null : (s.at + 1000 * s.eta_seconds - finishedAt) / duration }));
    console.log(JSON.stringify({ duration_s: duration / 1000, samples: samples.length, judged: judged.length, worst: Math.max(...errors.map((e) => Math.abs(e.error ?? 1))), errors: errors.filter((e, i) => i % 10 === 0 || Math.abs(e.error ?? 1) > 0.1) }));
    expect(duration).toBeGreaterThan(10_000);
    expect(judged.length).toBeGreaterThan(10);
    for (const e of errors) {
      expect(e.eta_s).not.toBeNull();
      expect(Math.abs(e.error!)).toBeLessThanOrEqual(0.1);
    }
  });
});
