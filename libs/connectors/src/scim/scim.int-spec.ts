// The SCIM connector against the project's SCIM server (test/targets/scim-server), started in-process on a
// free port for this suite: its faults are switched on and off per case, which on the stack's shared
// server (SCIM_TARGET_URL) would break whoever else uses it at that moment (another suite, the bench).
// The connector speaks HTTP to it exactly as to a remote service.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { scimPatch, ScimPatchOperation } from 'scim-patch';
import { createScimServer, FaultSpec, ScimServer } from '../../../../test/targets/scim-server';
import { Connector, ConnectorLimits } from '../connector';
import { ConnectorErrorCode } from '../connector-errors';
import { createConnector } from '../connector-types';
import { collectSearch, ContractFault, describeConnectorContract, expectConnectorError } from '../testing';
import { patchOperations } from './scim-patch';
import './index';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface RunningServer {
  server: ScimServer;
  url: string;
  token: string;
  admin(method: string, path: string, body?: unknown): Promise<Response>;
  close(): Promise<void>;
}

async function startServer(options: { bulk?: boolean; basic?: { username: string; password: string } } = {}): Promise<RunningServer> {
  const token = randomBytes(16).toString('hex');
  const server = createScimServer({ token, ...options });
  const { url, close } = await server.listen(0);
  const origin = new URL(url).origin;
  const admin = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${origin}/_admin${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`admin ${method} ${path}: HTTP ${response.status} ${await response.text()}`);
    return response;
  };
  return { server, url, token, admin, close };
}

const limitsFor = (limits: Partial<ConnectorLimits> = {}) => ({ maxConnections: 8, maxConcurrency: 16, timeoutMs: 10_000, ...limits });

function connect(url: string, token: string, extra: Record<string, unknown> = {}, limits: Partial<ConnectorLimits> = {}): Connector {
  return createConnector('scim', { baseUrl: url, auth: 'bearer', pageSize: 500, limits: limitsFor(limits), ...extra }, { token });
}

const FAULTS: Record<ContractFault['kind'], (fault: ContractFault) => FaultSpec> = {
  latency: (f) => ({ latencyMs: f.kind === 'latency' ? f.durationMs : 0 }),
  rate_limited: (f) => ({ rateLimit: { retryAfterSeconds: f.kind === 'rate_limited' ? f.retryAfterSeconds : 1 } }),
  unavailable: () => ({ unavailable: {} }),
  server_error: () => ({ serverError: { status: 500 } }),
  truncated_page: () => ({ truncatedPage: {}, methods: ['GET'] }),
};

describeConnectorContract(
  'SCIM',
  async () => {
    const target = await startServer();
    const inject = (kind: ContractFault['kind']) => async (fault: ContractFault) => {
      await target.admin('PUT', '/faults', FAULTS[kind](fault));
      return async () => void (await target.admin('DELETE', '/faults'));
    };
    return {
      connect: async (limits) => connect(target.url, target.token, {}, limits),
      connectUnreachable: async () => connect(`http://127.0.0.1:${await freePort()}/scim`, target.token),
      keyAttribute: 'userName',
      account: (key) => ({ userName: key, name: { givenName: 'Test', familyName: 'Account' }, emails: [{ value: 'test@example.test', primary: true }] }),
      mutableAttribute: 'displayName',
      invalidAccount: (key) => ({ userName: key, active: 'not-a-boolean' }),
      missingUid: () => randomUUID(),
      seedAccounts: async (prefix, count) => void (await target.admin('POST', '/seed', { prefix, count })),
      faults: { latency: inject('latency'), rate_limited: inject('rate_limited'), unavailable: inject('unavailable'), server_error: inject('server_error'), truncated_page: inject('truncated_page') },
      // The watermark is the server's Date header, which has one-second resolution.
      changeResolutionMs: 1000,
      dispose: () => target.close(),
    };
  },
  { faults: ['latency', 'rate_limited', 'unavailable', 'server_error', 'truncated_page'], segments: true },
);

describe('SCIM connector (beyond the contract)', () => {
  let target: RunningServer;
  let connector: Connector;
  const name = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    target = await startServer({ basic: { username: 'provisio', password: 'pa:ss wörd' } });
    connector = connect(target.url, target.token);
  });
  afterEach(async () => void (await target.admin('DELETE', '/faults')));
  afterAll(async () => {
    await connector?.close();
    await target?.close();
  });

  it('sends PATCH operations that turn the old resource into the new one (checked with scim-patch)', async () => {
    const created = await connector.create('account', { userName: name('patch'), displayName: 'Old', title: 'Engineer', nickName: 'nick' });
    const before = target.server.stores.User.get(created.uid)!;
    const delta = { replace: { displayName: 'New', title: null, name: { givenName: 'Zoë', familyName: '山田' } }, remove: ['nickName'] };
    const operations = patchOperations(delta);
    expect(operations.map((o) => o.op).sort()).toEqual(['remove', 'remove', 'replace', 'replace']);

    const updated = await connector.update('account', created.uid, delta);
    const expected = scimPatch(structuredClone(before) as never, operations as ScimPatchOperation[]) as unknown as Record<string, unknown>;
    const after = target.server.stores.User.get(created.uid)!;
    for (const attribute of ['userName', 'displayName', 'title', 'nickName', 'name']) expect(after[attribute]).toEqual(expected[attribute]);
    expect(updated.attributes).toMatchObject({ displayName: 'New', name: { givenName: 'Zoë', familyName: '山田' } });
    expect(updated.attributes.title).toBeUndefined();
    expect(updated.attributes.nickName).toBeUndefined();
  });

  it('updates with If-Match: a stale ETag is permanent PreconditionFailed, the current one applies', async () => {
    const created = await connector.create('account', { userName: name('etag') });
    expect(created.etag).toBe('W/"1"');
    const first = await connector.update('account', created.uid, { replace: { displayName: 'one' }, remove: [] }, { etag: created.etag });
    expect(first.etag).toBe('W/"2"');
    const stale = await expectConnectorError(
      () => connector.update('account', created.uid, { replace: { displayName: 'two' }, remove: [] }, { etag: created.etag }),
      ConnectorErrorCode.PreconditionFailed,
    );
    expect(stale.transient).toBe(false);
    expect((await connector.get('account', created.uid))!.attributes.displayName).toBe('one');
    await connector.update('account', created.uid, { replace: { displayName: 'two' }, remove: [] }, { etag: first.etag });
    expect((await connector.get('account', created.uid))!.attributes.displayName).toBe('two');
  });

  it('writes a batch through /Bulk when the server advertises it, one request for the lot', async () => {
    const before = target.server.stats.byMethod.POST ?? 0;
    const outcomes = await connector.writeBatch(Array.from({ length: 20 }, (_, i) => ({ kind: 'create' as const, objectClass: 'account' as const, attributes: { userName: name(`bulk${i}`) } })));
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect((target.server.stats.byMethod.POST ?? 0) - before).toBe(1);
    for (const outcome of outcomes) expect(target.server.stores.User.get(outcome.ok ? outcome.object!.uid : '')).not.toBeNull();
  });

  it('a Bulk write that cannot be written down fails alone; a refused Bulk request fails each of its writes', async () => {
    const good = name('bulk-good');
    const outcomes = await connector.writeBatch([
      { kind: 'create', objectClass: 'account', attributes: { userName: good } },
      { kind: 'update', objectClass: 'account', uid: randomUUID(), delta: { replace: { 'bad name': 'x' }, remove: [] } },
    ]);
    expect(outcomes[0].ok).toBe(true);
    expect(!outcomes[1].ok && outcomes[1].error.code).toBe(ConnectorErrorCode.InvalidAttribute);

    await target.admin('PUT', '/faults', { rateLimit: { retryAfterSeconds: 1 }, methods: ['POST'] });
    const limited = await connector.writeBatch([
      { kind: 'create', objectClass: 'account', attributes: { userName: name('bulk-limited-1') } },
      { kind: 'create', objectClass: 'account', attributes: { userName: name('bulk-limited-2') } },
    ]);
    expect(limited.map((o) => !o.ok && o.error.code)).toEqual([ConnectorErrorCode.RateLimited, ConnectorErrorCode.RateLimited]);
    expect(limited.every((o) => !o.ok && o.error.transient && o.error.retryAfterMs === 1000)).toBe(true);
  });

  it('a Bulk request refused as a whole for good (over the payload limit) is sent write by write: none fails for the others', async () => {
    const big = 'x'.repeat(2_500_000); // each fits the server's 4 MB body limit alone, not together
    const outcomes = await connector.writeBatch([
      { kind: 'create', objectClass: 'account', attributes: { userName: name('bulk-big-1'), displayName: big } },
      { kind: 'create', objectClass: 'account', attributes: { userName: name('bulk-big-2'), displayName: big } },
    ]);
    expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
    for (const outcome of outcomes) expect(target.server.stores.User.get(outcome.ok ? outcome.object!.uid : '')).not.toBeNull();
  });

  it('writes a batch as single requests when the server has no Bulk', async () => {
    const plain = await startServer({ bulk: false });
    const client = connect(plain.url, plain.token);
    try {
      const outcomes = await client.writeBatch(Array.from({ length: 5 }, (_, i) => ({ kind: 'create' as const, objectClass: 'account' as const, attributes: { userName: `single${i}` } })));
      expect(outcomes.every((o) => o.ok)).toBe(true);
      expect(plain.server.stats.byMethod.POST).toBe(5);
      expect(plain.server.stores.User.size).toBe(5);
    } finally {
      await client.close();
      await plain.close();
    }
  });

  it('authenticates with basic credentials; wrong credentials are permanent Unauthorized', async () => {
    const basic = createConnector('scim', { baseUrl: target.url, auth: 'basic', limits: limitsFor() }, { username: 'provisio', password: 'pa:ss wörd' });
    const wrong = createConnector('scim', { baseUrl: target.url, auth: 'bearer', limits: limitsFor() }, { token: 'not-the-token' });
    try {
      const created = await basic.create('account', { userName: name('basic') });
      expect((await basic.get('account', created.uid))?.uid).toBe(created.uid);
      const error = await expectConnectorError(() => wrong.get('account', created.uid), ConnectorErrorCode.Unauthorized);
      expect(error.transient).toBe(false);
    } finally {
      await basic.close();
      await wrong.close();
    }
  });

  it('follows a redirect within the same origin, refuses one to another origin', async () => {
    const created = await connector.create('account', { userName: name('redirect') });
    await target.admin('PUT', '/faults', { redirect: {} });
    expect((await connector.get('account', created.uid))?.uid).toBe(created.uid);
    await connector.update('account', created.uid, { replace: { displayName: 'moved' }, remove: [] });
    expect(target.server.stores.User.get(created.uid)!.displayName).toBe('moved');

    await target.admin('PUT', '/faults', { redirect: { to: 'http://127.0.0.2:9' } });
    const error = await expectConnectorError(() => connector.get('account', created.uid), ConnectorErrorCode.InvalidConfig);
    expect(error.message).toContain('another origin');
  });

  it('a 503 with Retry-After carries it and holds back the next call', async () => {
    await target.admin('PUT', '/faults', { unavailable: { retryAfterSeconds: 1 } });
    const client = connect(target.url, target.token);
    try {
      const error = await expectConnectorError(() => client.get('account', randomUUID()), ConnectorErrorCode.ServiceUnavailable);
      expect(error.retryAfterMs).toBe(1000);
      const failedAt = Date.now();
      await target.admin('DELETE', '/faults');
      expect(await client.get('account', randomUUID())).toBeNull();
      expect(Date.now() - failedAt).toBeGreaterThanOrEqual(900);
    } finally {
      await client.close();
    }
  });

  it('manages groups: create, find by displayName, patch members, delete; enable is Unsupported', async () => {
    const user = await connector.create('account', { userName: name('member') });
    const displayName = name('group "quoted"');
    const group = await connector.create('group', { displayName });
    const found = await collectSearch(connector.search('group', { filter: { op: 'eq', attribute: 'displayName', value: displayName } }));
    expect(found.map((g) => g.uid)).toEqual([group.uid]);
    const updated = await connector.update('group', group.uid, { replace: { members: [{ value: user.uid }] }, remove: [] });
    expect(updated.attributes.members).toEqual([expect.objectContaining({ value: user.uid })]);
    await expectConnectorError(() => connector.disable('group', group.uid), ConnectorErrorCode.Unsupported);
    await connector.delete('group', group.uid);
    expect(await connector.get('group', group.uid)).toBeNull();
  });

  it('tests the connection (ServiceProviderConfig features) and reports a refused one', async () => {
    const result = await connector.testConnection();
    expect(result).toMatchObject({ ok: true, details: { patch: true, etag: true, bulk: { maxOperations: 1000 } } });
    const unreachable = connect(`http://127.0.0.1:${await freePort()}/scim`, target.token);
    try {
      const failed = await unreachable.testConnection();
      expect(failed).toMatchObject({ ok: false, error: { code: ConnectorErrorCode.ConnectionRefused } });
    } finally {
      await unreachable.close();
    }
  });

  it('reads the schema of Users and Groups from /Schemas', async () => {
    const schema = await connector.schema();
    const account = schema.objectClasses.find((c) => c.name === 'account')!;
    expect(account.nativeName).toBe('User');
    expect(account.attributes).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'userName', type: 'string', required: true }), expect.objectContaining({ name: 'active', type: 'boolean' })]));
    expect(schema.objectClasses.map((c) => c.name)).toContain('group');
  });

  it('filters combine with and/or, and hostile values in them stay data', async () => {
    const a = await connector.create('account', { userName: name('or-a'), title: 'x" or userName pr or title eq "' });
    const b = await connector.create('account', { userName: name('or-b'), title: 'plain' });
    const both = await collectSearch(
      connector.search('account', {
        filter: { op: 'or', filters: [{ op: 'eq', attribute: 'userName', value: String(a.attributes.userName) }, { op: 'eq', attribute: 'userName', value: String(b.attributes.userName) }] },
      }),
    );
    expect(both.map((o) => o.uid).sort()).toEqual([a.uid, b.uid].sort());
    const onlyA = await collectSearch(connector.search('account', { filter: { op: 'and', filters: [{ op: 'present', attribute: 'title' }, { op: 'eq', attribute: 'title', value: 'x" or userName pr or title eq "' }] } }));
    expect(onlyA.map((o) => o.uid)).toEqual([a.uid]);
    await expectConnectorError(() => collectSearch(connector.search('account', { filter: { op: 'eq', attribute: 'userName pr or x', value: 'y' } })), ConnectorErrorCode.InvalidAttribute);
  });

  it('a search resumed from a bad cursor is BadRequest, not the first page', async () => {
    await expectConnectorError(() => collectSearch(connector.search('account', { cursor: 'abc' })), ConnectorErrorCode.BadRequest);
  });

  it('respects writesPerMinute against the server', async () => {
    const slow = connect(target.url, target.token, {}, { writesPerMinute: 600 });
    try {
      const startedAt = Date.now();
      await Promise.all(Array.from({ length: 4 }, (_, i) => slow.create('account', { userName: name(`slow${i}`) })));
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(290);
    } finally {
      await slow.close();
    }
  });
});
