// Provisioning operations end to end: identity changes through the API and the identity store become
// operations, the queue runs them against the project's SCIM server (started in-process on a free port for
// this suite, so its fault injector can be switched per case), and the API shows and steers them.
import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { EventType, Topic } from '@provisio/contracts';
import { readTopic, sleep, testKafka } from '@provisio/platform/testing';
import { createScimServer, ScimServer } from '../../../../test/targets/scim-server';
import { Caller, ProvisioningTestApp, startProvisioningQueue } from '../testing/provisioning-app';

/** Retries `probe` until it stops throwing (its expectations hold), or rethrows its last failure. */
async function settled<T>(probe: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
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

const MAPPING = [
  { target: 'userName', from: 'username', required: true },
  { target: 'emails', template: '{{email}}' },
  { target: 'title', from: 'attributes.title' },
];

const finishedOf = (m: { value: string | null }, id: string) => {
  const event = JSON.parse(m.value ?? '{}');
  return event.type === EventType.OperationFinished && event.subject === id;
};

describe('provisioning-queue: operations against a SCIM target (real stack)', () => {
  let t: ProvisioningTestApp;
  let scim: ScimServer;
  let scimUrl: string;
  let closeScim: () => Promise<void>;
  let own: Caller;
  const token = randomBytes(16).toString('hex');

  const scimConnector = (extra: Record<string, unknown> = {}, limits: Record<string, unknown> = {}) =>
    own.createConnector({
      type: 'scim',
      config: { baseUrl: scimUrl, auth: 'bearer', limits: { maxConcurrency: 16, maxConnections: 8, timeoutMs: 5_000, ...limits } },
      credentials: { token },
      attribute_mapping: MAPPING.filter((rule) => rule.target !== 'emails'),
      ...extra,
    });
  const operationsOf = async (caller: Caller, query: Record<string, unknown>) => (await caller.get('/operations', { limit: 200, ...query }).expect(200)).body;
  const detail = async (id: string) => (await own.get(`/operations/${id}`).expect(200)).body;
  const scimUser = (userName: string) => [...(scim.stores.User as unknown as { records?: Map<string, { userName: string }> }).records?.values() ?? []].find((u) => u.userName === userName);
  const usersNamed = async (userName: string) => {
    const response = await fetch(`${scimUrl}/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`, { headers: { authorization: `Bearer ${token}` } });
    return ((await response.json()) as { totalResults: number; Resources?: Record<string, unknown>[] }).Resources ?? [];
  };

  beforeAll(async () => {
    scim = createScimServer({ token });
    const listening = await scim.listen(0);
    scimUrl = listening.url;
    closeScim = listening.close;
    t = await startProvisioningQueue({ PROVISIONING_RETRY_BASE_MS: '100', PROVISIONING_RETRY_MAX_MS: '400', PROVISIONING_PROBE_INTERVAL_MS: '300', PROVISIONING_SWEEP_INTERVAL_MS: '500' });
    own = t.caller();
  });

  afterAll(async () => {
    await t?.close();
    await closeScim?.();
  });

  afterEach(() => scim.faults.clear());

  it('creates, updates, disables and deletes the account as the identity changes, keeping its link true', async () => {
    const connector = await scimConnector();
    const identity = await own.createIdentity({ username: `zoe-${randomUUID().slice(0, 6)}`, attributes: { title: 'Analyst' } });
    const created = await settled(async () => {
      const [op] = (await operationsOf(own, { user_id: identity.id, operation_type: 'create' })).items;
      expect(op?.status).toBe('completed');
      return op;
    });
    expect(created).toMatchObject({ connector_id: connector.id, connector_name: connector.name, object_class: 'account', retry_count: 0, max_retries: 3, priority: 0, error_message: null });
    expect(created.payload).toMatchObject({ hook_operation: 'create', attributes: { userName: identity.username, title: 'Analyst' } });
    const [account] = await usersNamed(identity.username);
    expect(account).toMatchObject({ userName: identity.username, title: 'Analyst' });
    expect(created.target_uid).toBe(account.id);
    const links = (await own.get(`/identities/${identity.id}/accounts`).expect(200)).body.items;
    expect(links).toEqual([expect.objectContaining({ connector_id: connector.id, external_uid: account.id, attributes_hash: expect.any(String), last_synced_at: expect.any(String) })]);

    const view = await detail(created.id);
    expect(view.attempts).toEqual([expect.objectContaining({ attempt_number: 1, success: true, error_code: null, duration_ms: expect.any(Number), completed_at: expect.any(String) })]);
    expect(view.logs.map((l: { message: string }) => l.message)).toEqual([expect.stringMatching(/^created: create/), 'attempt 1 started', expect.stringMatching(/^completed: account created/)]);

    await own.patch(`/identities/${identity.id}`, { attributes: { title: 'Manager' } }).expect(200);
    await settled(async () => expect((await usersNamed(identity.username))[0]?.title).toBe('Manager'));
    // The link is refreshed when the operation's success is recorded, just after the target changed.
    await settled(async () => expect((await own.get(`/identities/${identity.id}/accounts`).expect(200)).body.items[0].attributes_hash).not.toBe(links[0].attributes_hash));

    await own.patch(`/identities/${identity.id}`, { status: 'suspended' }).expect(200);
    await settled(async () => expect((await usersNamed(identity.username))[0]?.active).toBe(false));
    // The target shows the change before the operation's row records it completed: wait for the row too.
    const disable = await settled(async () => {
      const [op] = (await operationsOf(own, { user_id: identity.id, operation_type: 'update', status: 'completed' })).items.filter((o: { payload: { hook_operation: string } }) => o.payload.hook_operation === 'disable');
      expect(op).toBeDefined();
      return op;
    });
    expect(disable.payload).toMatchObject({ enabled: false });

    await own.patch(`/identities/${identity.id}`, { status: 'deleted' }).expect(200);
    await settled(async () => expect(await usersNamed(identity.username)).toEqual([]));
    await settled(async () => expect((await own.get(`/identities/${identity.id}/accounts`).expect(200)).body.total).toBe(0));
    const all = (await operationsOf(own, { user_id: identity.id })).items;
    expect(all.map((o: { operation_type: string; status: string }) => `${o.operation_type}:${o.status}`).sort()).toEqual(['create:completed', 'delete:completed', 'update:completed', 'update:completed']);
  });

  it('retries transient failures with backoff, then dead-letters; a permanent failure is not retried', async () => {
    const connector = await scimConnector();
    scim.faults.set({ serverError: { status: 500 }, methods: ['POST'] });
    const op = (await own.post('/operations', { connector_id: connector.id, operation_type: 'create', attributes: { userName: `dl-${randomUUID().slice(0, 6)}` }, max_retries: 2 }).expect(201)).body;
    const dead = await settled(async () => {
      const view = await detail(op.id);
      expect(view.status).toBe('dead_letter');
      return view;
    }, 20_000);
    expect(dead.retry_count).toBe(2);
    expect(dead.attempts.map((a: { success: boolean; error_code: string }) => `${a.success}:${a.error_code}`)).toEqual(['false:server_error', 'false:server_error', 'false:server_error']);
    expect(dead.logs.map((l: { level: string }) => l.level)).toContain('error');
    expect((await own.get('/operations/dead-letters').expect(200)).body.items.map((o: { id: string }) => o.id)).toContain(op.id);

    // Retried from the dead-letter queue once the target is healthy: completed.
    scim.faults.clear();
    await own.post(`/operations/${op.id}/retry`).expect(200);
    await settled(async () => expect((await detail(op.id)).status).toBe('completed'));

    // A permanent refusal (the account exists, and cannot be adopted without a correlating attribute): one attempt, dead letter.
    const bad = (await own.post('/operations', { connector_id: connector.id, operation_type: 'update', target_uid: randomUUID(), attributes: { title: 'x' } }).expect(201)).body;
    const refused = await settled(async () => {
      const view = await detail(bad.id);
      expect(view.status).toBe('dead_letter');
      return view;
    });
    expect(refused.attempts).toHaveLength(1);
    expect(refused.retry_count).toBe(0);
    await own.post(`/operations/${bad.id}/resolve`, { notes: 'the account was removed by hand' }).expect(200);
    expect(await detail(bad.id)).toMatchObject({ status: 'resolved', resolution_notes: 'the account was removed by hand' });
    await own.post(`/operations/${bad.id}/resolve`, { notes: 'again' }).expect(409);
  });

  it('waits as awaiting_system while the target is down, without spending retries, and resumes when it answers', async () => {
    const connector = await scimConnector();
    scim.faults.set({ unavailable: { retryAfterSeconds: 0 } });
    const names = Array.from({ length: 5 }, () => `down-${randomUUID().slice(0, 6)}`);
    const ops = await Promise.all(names.map(async (userName) => (await own.post('/operations', { connector_id: connector.id, operation_type: 'create', attributes: { userName } }).expect(201)).body));
    await settled(async () => expect((await operationsOf(own, { connector_id: connector.id, status: 'awaiting_system' })).total).toBe(5));
    const stats = (await own.get(`/connectors/${connector.id}/operations/statistics`).expect(200)).body;
    expect(stats).toMatchObject({ awaiting_system: 5, circuit: { state: 'open' } });
    const metrics = (await request(t.app.getHttpServer()).get('/metrics')).text;
    expect(metrics).toContain(`provisio_provisioning_circuit_open{connector_id="${connector.id}"`);
    scim.faults.clear();
    await settled(async () => expect((await operationsOf(own, { connector_id: connector.id, status: 'completed' })).total).toBe(5), 15_000);
    for (const op of ops) expect((await detail(op.id)).retry_count).toBe(0);
    expect((await own.get(`/connectors/${connector.id}/operations/statistics`).expect(200)).body.circuit.state).toBe('closed');
    for (const userName of names) expect(await usersNamed(userName)).toHaveLength(1);
  });

  it('runs the operations of one account one at a time, in order, and records conflicts with their defaults', async () => {
    const connector = await scimConnector();
    scim.faults.set({ latencyMs: 150 });
    const identity = await own.createIdentity({ username: `ord-${randomUUID().slice(0, 6)}`, attributes: { title: 't0' } });
    for (let i = 1; i <= 4; i++) await own.patch(`/identities/${identity.id}`, { attributes: { title: `t${i}` } }).expect(200);
    await settled(async () => expect((await operationsOf(own, { user_id: identity.id, connector_id: connector.id, status: 'completed' })).total).toBe(5), 20_000);
    expect((await usersNamed(identity.username))[0]?.title).toBe('t4');
    const ops = (await operationsOf(own, { user_id: identity.id, connector_id: connector.id })).items.map((o: { id: string }) => o.id);
    const attempts = await Promise.all(ops.map(async (id: string) => (await detail(id)).attempts[0]));
    const spans = attempts.map((a: { started_at: string; completed_at: string }) => [Date.parse(a.started_at), Date.parse(a.completed_at)]).sort((a: number[], b: number[]) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
    // Each one held back is woken by the end of the one before it, not left to its recheck a second later.
    const gaps = spans.slice(1).map((span: number[], i: number) => span[0] - spans[i][1]).sort((a: number, b: number) => a - b);
    expect(gaps[Math.floor(gaps.length / 2)]).toBeLessThan(500);
    // Updates of one attribute queued behind one another: overlapping, the later supersedes (resolved by default).
    const conflicts = (await own.get('/conflicts', { operation_id: ops[0] }).expect(200)).body.items;
    for (const conflict of conflicts) expect(conflict).toMatchObject({ conflict_type: 'overlapping_update', affected_attributes: ['title'], status: 'resolved', outcome: 'superseded' });
  });

  it('lets an operator resolve a pending conflict, and cancels what has not started', async () => {
    const connector = await scimConnector({ status: 'active' });
    scim.faults.set({ unavailable: { retryAfterSeconds: 0 } });
    const uid = randomUUID();
    const a = (await own.post('/operations', { connector_id: connector.id, operation_type: 'update', target_uid: uid, attributes: { title: 'a' } }).expect(201)).body;
    const b = (await own.post('/operations', { connector_id: connector.id, operation_type: 'update', target_uid: uid, attributes: { title: 'b' } }).expect(201)).body;
    const [conflict] = (await own.get('/conflicts', { operation_id: b.id }).expect(200)).body.items;
    expect(conflict).toMatchObject({ operation_id_a: a.id, operation_id_b: b.id, conflict_type: 'overlapping_update', affected_attributes: ['title'], status: 'pending', outcome: null });
    const resolved = (await own.post(`/conflicts/${conflict.id}/resolve`, { outcome: 'rejected', notes: 'keep the first' }).expect(200)).body;
    expect(resolved).toMatchObject({ status: 'resolved', outcome: 'rejected', resolved_by: own.subject });
    expect((await detail(b.id)).status).toBe('cancelled');
    await own.post(`/conflicts/${conflict.id}/resolve`, { outcome: 'applied' }).expect(409);
    await own.post(`/conflicts/${conflict.id}/resolve`, { outcome: 'won' }).expect(400);
    await settled(async () => expect((await detail(a.id)).status).toBe('awaiting_system'));
    expect((await own.post(`/operations/${a.id}/cancel`).expect(200)).body.status).toBe('cancelled');
    await own.post(`/operations/${a.id}/cancel`).expect(409);
    // Both cancels are announced once, so whoever waits for these operations hears how they ended.
    const ends = (await readTopic(testKafka(), t.prefix + Topic.ProvisioningOperations, (all) => [a.id, b.id].every((id) => all.some((m) => finishedOf(m, id)))))
      .map((m) => JSON.parse(m.value!))
      .filter((e) => e.type === EventType.OperationFinished && [a.id, b.id].includes(e.subject));
    expect(ends.map((e) => [e.subject, e.data.status]).sort()).toEqual([[a.id, 'cancelled'], [b.id, 'cancelled']].sort());
    expect(ends.find((e) => e.subject === a.id).data.error_message).toBe(`cancelled by ${own.subject}`);
  });

  it('validates requests, scopes every endpoint to the tenant and checks permissions', async () => {
    const connector = await scimConnector();
    await own.post('/operations', { connector_id: connector.id, operation_type: 'delete' }).expect(400);
    await own.post('/operations', { connector_id: connector.id, operation_type: 'explode', target_uid: 'x' }).expect(400);
    await own.post('/operations', { connector_id: randomUUID(), operation_type: 'delete', target_uid: 'x' }).expect(404);
    await own.get('/operations', { status: 'nope' }).expect(400);
    await own.get('/operations/not-a-uuid').expect(400);
    const op = (await own.post('/operations', { connector_id: connector.id, operation_type: 'delete', target_uid: `gone-${randomUUID()}`, priority: 5 }).expect(201)).body;
    const stranger = t.caller();
    await stranger.get(`/operations/${op.id}`).expect(404);
    expect((await operationsOf(stranger, {})).total).toBe(0);
    await stranger.post(`/operations/${op.id}/retry`).expect(404);
    const reader = own.with(['provisioning:read']);
    await reader.get(`/operations/${op.id}`).expect(200);
    await reader.post('/operations', { connector_id: connector.id, operation_type: 'delete', target_uid: 'x' }).expect(403);
    await own.with(['provisioning:write']).post('/operations/retry', {}).expect(403);
    await request(t.app.getHttpServer()).get('/operations').expect(401);
    const stats = (await own.get('/operations/statistics').expect(200)).body;
    expect(stats).toMatchObject({ pending: expect.any(Number), dead_letter: expect.any(Number), avg_processing_time_secs: expect.any(Number) });
    expect(stats.connectors.map((c: { connector_id: string }) => c.connector_id)).toContain(connector.id);
    // Hostile text is stored, not choked on.
    await own.post('/operations', { connector_id: connector.id, operation_type: 'create', attributes: { userName: `nul\u0000-${'x'.repeat(50)}`, title: '\ud800' } }).expect(201);
    void scimUser;
  });

  it('bulk-retries dead letters by filter', async () => {
    const connector = await scimConnector();
    const ops = await Promise.all(
      [1, 2, 3].map(async () => (await own.post('/operations', { connector_id: connector.id, operation_type: 'update', target_uid: randomUUID(), attributes: { title: 'x' } }).expect(201)).body),
    );
    await settled(async () => expect((await operationsOf(own, { connector_id: connector.id, status: 'dead_letter' })).total).toBe(3));
    const result = (await own.post('/operations/retry', { connector_id: connector.id }).expect(200)).body;
    expect(result.retried).toBe(3);
    expect(result.operation_ids.sort()).toEqual(ops.map((o) => o.id).sort());
    await settled(async () => expect((await operationsOf(own, { connector_id: connector.id, status: 'dead_letter' })).total).toBe(3));
    for (const op of ops) expect((await detail(op.id)).attempts).toHaveLength(2);
  });
});
