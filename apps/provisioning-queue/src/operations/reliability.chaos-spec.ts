// Reliability of the provisioning queue with real processes: the service runs as its own process (the
// built dist/), identities arrive as user.created domain events on the real broker, and accounts go to the
// project's SCIM server started in this test process on a free port (its fault injector switched per case).
// One case restarts Redis: a PRIVATE redis-server on a free port, never the shared one.
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, IncomingMessage, request as httpRequest, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { Producer } from 'kafkajs';
import { ConsumerGroup, createCloudEvent, messageKey, Topic } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, IsolatedSchema } from '@provisio/persistence/testing';
import { signDevToken } from '@provisio/platform';
import { eventually, freePort, sleep, TEST_JWT_SECRET, testEnv, testKafka, uniqueTopicPrefix } from '@provisio/platform/testing';
import { createScimServer, ScimServer } from '../../../../test/targets/scim-server';

const ROOT = join(__dirname, '..', '..', '..', '..');
const SERVICE = join(ROOT, 'apps', 'provisioning-queue', 'dist', 'main.js');

describe('provisioning-queue reliability (real processes, real broker, SCIM target)', () => {
  let db: IsolatedSchema;
  let scim: ScimServer;
  let scimUrl: string;
  let closeScim: () => Promise<void>;
  const kafka = testKafka();
  const token = randomBytes(16).toString('hex');
  const credentialKeys = `chaos:${randomBytes(32).toString('base64')}`;

  beforeAll(async () => {
    if (!existsSync(SERVICE)) throw new Error('build first (npm test does): the provisioning queue runs as a real process');
    db = await createIsolatedSchema(migrations);
    scim = createScimServer({ token });
    const listening = await scim.listen(0);
    scimUrl = listening.url;
    closeScim = listening.close;
  });
  afterAll(async () => {
    await closeScim?.();
    await db?.drop();
  });
  afterEach(() => scim.faults.clear());

  interface Service {
    child: ChildProcess;
    url: string;
  }

  async function startService(prefix: string, env: Record<string, string> = {}): Promise<Service> {
    const port = await freePort();
    const child = spawn(process.execPath, [SERVICE], {
      env: {
        PATH: process.env.PATH ?? '',
        ...testEnv({
          DATABASE_SCHEMA: db.schema,
          KAFKA_TOPIC_PREFIX: prefix,
          REDIS_KEY_PREFIX: `chaos:${prefix}`,
          PORT: String(port),
          LOG_LEVEL: 'error',
          CONNECTOR_CREDENTIALS_KEYS: credentialKeys,
          PROVISIONING_SWEEP_INTERVAL_MS: '1000',
          PROVISIONING_ABANDONED_AFTER_MS: '8000',
          PROVISIONING_PROBE_INTERVAL_MS: '500',
          PROVISIONING_RETRY_BASE_MS: '200',
          PROVISIONING_RETRY_MAX_MS: '2000',
          ...env,
        }),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const url = `http://127.0.0.1:${port}`;
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`the provisioning queue exited with ${child.exitCode} before it was ready`);
        return (await fetch(`${url}/health/ready`).catch(() => null))?.ok === true;
      },
      { what: 'service ready', timeoutMs: 60_000, intervalMs: 200 },
    );
    return { child, url };
  }

  async function stop(service: Service): Promise<void> {
    if (service.child.exitCode !== null) return;
    service.child.kill('SIGKILL');
    await new Promise((resolve) => service.child.once('exit', resolve));
  }

  async function waitJoined(prefix: string): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await eventually(async () => (await admin.describeGroups([prefix + ConsumerGroup.ProvisioningDomainEvents])).groups[0]?.members.length === 1, {
        what: 'consumer joined',
        timeoutMs: 60_000,
        intervalMs: 250,
      });
    } finally {
      await admin.disconnect();
    }
  }

  async function scimConnector(service: Service, tenantId: string, baseUrl = scimUrl, limits: Record<string, unknown> = {}): Promise<string> {
    const bearer = signDevToken(TEST_JWT_SECRET, { sub: 'chaos', tenant_id: tenantId, permissions: ['connector:write', 'connector:read'] });
    const response = await fetch(`${service.url}/connectors`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: `scim-${randomUUID().slice(0, 8)}`,
        type: 'scim',
        config: { baseUrl, auth: 'bearer', limits: { maxConcurrency: 32, maxConnections: 16, timeoutMs: 5_000, ...limits } },
        credentials: { token },
        attribute_mapping: [{ target: 'userName', from: 'username', required: true }, { target: 'displayName', from: 'display_name' }],
      }),
    });
    if (response.status !== 201) throw new Error(`create connector: ${response.status} ${await response.text()}`);
    return ((await response.json()) as { id: string }).id;
  }

  /** Publishes `count` user.created events for users named `<tag>-<n>`, in batches over `ms`. */
  async function burst(producer: Producer, prefix: string, tenantId: string, tag: string, count: number, ms: number): Promise<void> {
    const batches = 20;
    for (let b = 0; b < batches; b++) {
      const events = Array.from({ length: count / batches }, (_, i) => {
        const n = b * (count / batches) + i;
        return createCloudEvent({ source: '//chaos/hr', type: 'user.created', tenantid: tenantId, subject: `${tag}-${n}`, data: { user_id: `${tag}-${n}`, username: `${tag}-${n}`, display_name: `User ${n}` } });
      });
      await producer.send({ topic: prefix + Topic.DomainEvents, acks: -1, messages: events.map((e) => ({ key: messageKey.tenantAccount(tenantId, e.subject!), value: JSON.stringify(e) })) });
      await sleep(ms / batches);
    }
  }

  const countStatus = async (connectorId: string) =>
    Object.fromEntries(
      ((await db.dataSource.query('SELECT status, count(*)::int AS n FROM provisioning_operations WHERE connector_id = $1 GROUP BY status', [connectorId])) as { status: string; n: number }[]).map((r) => [
        r.status,
        r.n,
      ]),
    ) as Record<string, number>;

  /** Every user of the burst has exactly one account and one completed create, and nothing else exists. */
  async function everyAccountOnce(connectorId: string, tag: string, count: number, timeoutMs = 180_000): Promise<void> {
    await eventually(async () => (await countStatus(connectorId)).completed === count, { what: `${count} operations completed`, timeoutMs, intervalMs: 500 });
    const ops: { n: number; users: number }[] = await db.dataSource.query(
      `SELECT count(*)::int AS n, count(DISTINCT user_id)::int AS users FROM provisioning_operations WHERE connector_id = $1 AND operation_type = 'create'`,
      [connectorId],
    );
    expect(ops[0]).toEqual({ n: count, users: count }); // one operation per identity: none duplicated
    expect(await countStatus(connectorId)).toEqual({ completed: count }); // every one completed, none dead-lettered
    const names = (scim.stores.User as unknown as { records(): { resource: { userName?: string } }[] })
      .records()
      .map((r) => String(r.resource.userName))
      .filter((name) => name.startsWith(`${tag}-`));
    expect(names).toHaveLength(count);
    expect(new Set(names).size).toBe(count); // every account exists once
    const [links] = await db.dataSource.query('SELECT count(*)::int AS n, count(DISTINCT external_uid)::int AS uids FROM account_links WHERE connector_id = $1', [connectorId]);
    expect(links).toEqual({ n: count, uids: count });
  }

  async function withService<T>(env: Record<string, string>, work: (ctx: { prefix: string; tenantId: string; service: () => Service; restart: () => Promise<void>; producer: Producer }) => Promise<T>): Promise<T> {
    const prefix = uniqueTopicPrefix();
    const tenantId = randomUUID();
    let service = await startService(prefix, env);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      await waitJoined(prefix);
      return await work({
        prefix,
        tenantId,
        producer,
        service: () => service,
        restart: async () => {
          await stop(service);
          service = await startService(prefix, env);
        },
      });
    } finally {
      await producer.disconnect();
      await stop(service);
    }
  }

  it('kill -9 in the middle of a burst of 2,000 creates, then a restart: every account once, every operation completed', async () => {
    await withService({}, async ({ prefix, tenantId, service, restart, producer }) => {
      const tag = `kill-${randomUUID().slice(0, 6)}`;
      const connectorId = await scimConnector(service(), tenantId);
      const published = burst(producer, prefix, tenantId, tag, 2_000, 4_000);
      await eventually(async () => ((await countStatus(connectorId)).completed ?? 0) >= 300, { what: 'some accounts created', timeoutMs: 60_000, intervalMs: 100 });
      await restart(); // SIGKILL mid-burst, then a fresh process
      await published;
      await everyAccountOnce(connectorId, tag, 2_000);
    });
  }, 300_000); // two boots and 2,000 operations on a shared 2-core machine; everyAccountOnce alone may wait 180 s

  it('the SCIM target answers 503 for 60 s: awaiting_system, then all completed, none dead-lettered', async () => {
    await withService({}, async ({ prefix, tenantId, service, producer }) => {
      const tag = `down-${randomUUID().slice(0, 6)}`;
      const connectorId = await scimConnector(service(), tenantId);
      const outageMs = 60_000;
      scim.faults.set({ unavailable: { retryAfterSeconds: 1, forSeconds: outageMs / 1000 } });
      const started = Date.now();
      await burst(producer, prefix, tenantId, tag, 200, 1_000);
      await eventually(async () => ((await countStatus(connectorId)).awaiting_system ?? 0) > 0, { what: 'operations awaiting the target', timeoutMs: 30_000, intervalMs: 200 });
      // Sampled through the outage: operations wait, none completes against a target that is down, none is dead-lettered.
      const samples: Record<string, number>[] = [];
      while (Date.now() - started < outageMs - 2_000) {
        samples.push(await countStatus(connectorId));
        await sleep(2_000);
      }
      expect(samples.length).toBeGreaterThan(10);
      expect(samples.filter((s) => (s.dead_letter ?? 0) > 0 || (s.completed ?? 0) > 0)).toEqual([]);
      expect(samples.at(-1)!.awaiting_system).toBeGreaterThan(0);
      await everyAccountOnce(connectorId, tag, 200, 90_000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(outageMs - 1_000);
      const [{ retries }] = await db.dataSource.query('SELECT coalesce(max(retry_count), 0)::int AS retries FROM provisioning_operations WHERE connector_id = $1', [connectorId]);
      expect(retries).toBe(0); // waiting for the target spent no retries
    });
  }, 240_000);

  it('429 storms with Retry-After are honoured: no request reaches the target before the time it names', async () => {
    // A recording proxy in front of the SCIM server: when each request arrived, and what it was answered.
    const seen: { at: number; status: number; retryAfterS: number | null; answeredAt: number }[] = [];
    const target = new URL(scimUrl);
    const proxy = createServer((req: IncomingMessage, res: ServerResponse) => {
      const at = Date.now();
      const upstream = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        const retryAfter = answer.headers['retry-after'];
        seen.push({ at, status: answer.statusCode ?? 0, retryAfterS: retryAfter === undefined ? null : Number(retryAfter), answeredAt: Date.now() });
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}${target.pathname}`;
    try {
      await withService({}, async ({ prefix, tenantId, service, producer }) => {
        const tag = `storm-${randomUUID().slice(0, 6)}`;
        const connectorId = await scimConnector(service(), tenantId, proxyUrl, { timeoutMs: 10_000 });
        scim.faults.set({ rateLimit: { retryAfterSeconds: 2, forSeconds: 7 } });
        await burst(producer, prefix, tenantId, tag, 200, 1_000);
        await everyAccountOnce(connectorId, tag, 200, 90_000);
      });
      const limited = seen.filter((r) => r.status === 429);
      expect(limited.length).toBeGreaterThan(0);
      // After a 429 was answered, nothing arrives until its Retry-After has passed. Requests the service sent
      // before it had read the answer (up to its concurrency, on a loaded 2-core machine) are allowed 500 ms.
      for (const answer of limited) {
        const until = answer.answeredAt + answer.retryAfterS! * 1000;
        const early = seen.filter((r) => r.at > answer.answeredAt + 500 && r.at < until - 50);
        expect(early).toEqual([]);
      }
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('Redis restarted (empty) in the middle of a burst: nothing lost', async () => {
    const port = await freePort();
    const startRedis = () => spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    let redis = startRedis();
    await sleep(300);
    try {
      await withService({ REDIS_URL: `redis://127.0.0.1:${port}` }, async ({ prefix, tenantId, service, producer }) => {
        const tag = `redis-${randomUUID().slice(0, 6)}`;
        const connectorId = await scimConnector(service(), tenantId);
        scim.faults.set({ latencyMs: 20 });
        const published = burst(producer, prefix, tenantId, tag, 1_000, 3_000);
        await eventually(async () => ((await countStatus(connectorId)).completed ?? 0) >= 100, { what: 'some accounts created', timeoutMs: 60_000, intervalMs: 100 });
        redis.kill('SIGKILL');
        await new Promise((resolve) => redis.once('exit', resolve));
        await sleep(1_500);
        redis = startRedis(); // empty: every queued job is gone
        await published;
        await everyAccountOnce(connectorId, tag, 1_000);
      });
    } finally {
      redis.kill('SIGKILL');
    }
  }, 300_000);
});
