// The provisioning queue's Prometheus metrics, scraped from /metrics of the running app (real PostgreSQL,
// Redis and Kafka, the project's SCIM server in-process): queue depth by status and the age of the oldest
// pending operation with operations of known status and age in the database, the circuit of a connector
// whose target is down and then up again, and the attempts by outcome.
import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { eventually } from '@provisio/platform/testing';
import { createScimServer, ScimServer } from '../../../../test/targets/scim-server';
import { Caller, ProvisioningTestApp, startProvisioningQueue } from '../testing/provisioning-app';

/** The value of the first sample of a scrape (`name{labels} value`) that has `labels` (among others: `service`), or undefined. */
function sample(scrape: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of scrape.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_:]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = (match[2] ?? '').split(',').filter(Boolean);
    if (wanted.every((label) => present.includes(label))) return Number(match[3]);
  }
  return undefined;
}

describe('provisioning-queue: Prometheus metrics of the queue (real stack)', () => {
  let t: ProvisioningTestApp;
  let scim: ScimServer;
  let scimUrl: string;
  let closeScim: () => Promise<void>;
  let own: Caller;
  const token = randomBytes(16).toString('hex');

  const scrape = async () => (await request(t.app.getHttpServer()).get('/metrics').expect(200)).text;
  const connector = () =>
    own.createConnector({
      type: 'scim',
      config: { baseUrl: scimUrl, auth: 'bearer', limits: { timeoutMs: 5_000 } },
      credentials: { token },
      attribute_mapping: [{ target: 'userName', from: 'username', required: true }],
    });

  beforeAll(async () => {
    scim = createScimServer({ token });
    const listening = await scim.listen(0);
    scimUrl = listening.url;
    closeScim = listening.close;
    t = await startProvisioningQueue({ PROVISIONING_PROBE_INTERVAL_MS: '300' });
    own = t.caller();
  });
  afterAll(async () => {
    await t?.close();
    await closeScim?.();
  });

  it('queue depth by status and the age of the oldest pending operation, as the database holds them', async () => {
    const { id: connectorId, name } = await connector();
    // Operations of one account: the one in progress holds the pending ones back (per-account ordering), so
    // they stay pending while the metrics are read; a failed one waits an hour for its retry. Finished ones,
    // older than all of them, must count nowhere.
    const insert = (status: string, ageSeconds: number, extra: { started?: boolean; retryInSeconds?: number } = {}) =>
      t.db.dataSource.query(
        `INSERT INTO provisioning_operations (tenant_id, connector_id, connector_name, operation_type, account_key, status, payload, created_at, started_at, next_attempt_at)
         VALUES ($1, $2, $3, 'create', $4, $5, $6::jsonb, now() - make_interval(secs => $7), CASE WHEN $8 THEN now() END, now() + make_interval(secs => $9::float8))`,
        [own.tenantId, connectorId, name, status === 'failed' ? `other-${randomUUID()}` : 'held', status, JSON.stringify({ hook_operation: 'create', attributes: { userName: `m-${randomUUID().slice(0, 6)}` } }), ageSeconds, !!extra.started, extra.retryInSeconds ?? null],
      );
    await insert('in_progress', 400, { started: true });
    for (const age of [300, 200, 100]) await insert('pending', age);
    for (let i = 0; i < 2; i++) await insert('failed', 50, { retryInSeconds: 3_600 });
    await insert('completed', 1_000);
    await insert('dead_letter', 2_000);

    await eventually(async () => sample(await scrape(), 'provisio_provisioning_queue_depth', { status: 'pending' }) === 3, { what: 'three pending in the metrics', timeoutMs: 10_000, intervalMs: 300 });
    const text = await scrape();
    expect(sample(text, 'provisio_provisioning_queue_depth', { status: 'pending' })).toBe(3);
    expect(sample(text, 'provisio_provisioning_queue_depth', { status: 'in_progress' })).toBe(1);
    expect(sample(text, 'provisio_provisioning_queue_depth', { status: 'failed' })).toBe(2);
    expect(sample(text, 'provisio_provisioning_queue_depth', { status: 'awaiting_system' })).toBe(0);
    const oldest = sample(text, 'provisio_provisioning_oldest_pending_seconds');
    expect(oldest).toBeGreaterThanOrEqual(300);
    expect(oldest).toBeLessThan(330); // the pending one of 300 s, not the in-progress (400 s) nor the finished ones
    const [{ status }] = await t.db.dataSource.query(`SELECT DISTINCT status FROM provisioning_operations WHERE connector_id = $1 AND account_key = 'held' AND status = 'pending'`, [connectorId]);
    expect(status).toBe('pending'); // still held back: the figures were of pending operations

    // Once nothing is pending, the age is 0.
    await t.db.dataSource.query(`UPDATE provisioning_operations SET status = 'cancelled' WHERE connector_id = $1 AND status IN ('pending', 'in_progress', 'failed')`, [connectorId]);
    await eventually(async () => sample(await scrape(), 'provisio_provisioning_queue_depth', { status: 'pending' }) === 0, { what: 'nothing pending', timeoutMs: 10_000, intervalMs: 300 });
    expect(sample(await scrape(), 'provisio_provisioning_oldest_pending_seconds')).toBe(0);
  });

  it("a connector's circuit: 1 while its target answers 503 (its operation awaiting_system), 0 once it answers; attempts by outcome", async () => {
    const { id: connectorId } = await connector();
    const before = await scrape();
    const count = (text: string, outcome: string) => sample(text, 'provisio_provisioning_operations_total', { outcome, operation_type: 'create' }) ?? 0;
    scim.faults.set({ unavailable: { retryAfterSeconds: 0 } });
    const op = (await own.post('/operations', { connector_id: connectorId, operation_type: 'create', attributes: { userName: `c-${randomUUID().slice(0, 6)}` } }).expect(201)).body;
    await eventually(async () => (await own.get(`/operations/${op.id}`).expect(200)).body.status === 'awaiting_system', { what: 'awaiting its target', timeoutMs: 15_000, intervalMs: 200 });
    await eventually(async () => sample(await scrape(), 'provisio_provisioning_queue_depth', { status: 'awaiting_system' }) === 1, { what: 'awaiting in the metrics', timeoutMs: 10_000, intervalMs: 300 });
    const down = await scrape();
    expect(sample(down, 'provisio_provisioning_circuit_open', { connector_id: connectorId })).toBe(1);
    expect(count(down, 'awaiting_system') - count(before, 'awaiting_system')).toBeGreaterThanOrEqual(1);

    scim.faults.clear();
    await eventually(async () => (await own.get(`/operations/${op.id}`).expect(200)).body.status === 'completed', { what: 'completed once the target answers', timeoutMs: 15_000, intervalMs: 200 });
    await eventually(async () => sample(await scrape(), 'provisio_provisioning_queue_depth', { status: 'awaiting_system' }) === 0, { what: 'none awaiting in the metrics', timeoutMs: 10_000, intervalMs: 300 });
    const up = await scrape();
    expect(sample(up, 'provisio_provisioning_circuit_open', { connector_id: connectorId })).toBe(0);
    expect(count(up, 'completed') - count(before, 'completed')).toBe(1);
  });
});
