// The LDAP connector against the stack's LDAP target server (UnboundID in-memory, scripts/stack/ldap.mjs):
// the shared contract, then what is LDAP's own (TLS, bind failures, schema, cursors across changes).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { Connector } from '../connector';
import { ConnectorErrorCode } from '../connector-errors';
import { collectSearch, describeConnectorContract, expectConnectorError } from '../testing';
import { LdapConnector } from './ldap-connector';
import { escapeDnValue } from './ldap-dn';
import { createContainer, ldapTarget, ldapTargetConfig, LdapFault, removeContainer, seedPeople, setFault } from './ldap-target';

const target = ldapTarget();
const unique = (label: string) => `${label}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describeConnectorContract(
  'LDAP',
  async () => {
    const ou = unique('contract');
    const containerDn = await createContainer(target, ou);
    const connectors: Connector[] = [];
    const inject = async (fault: LdapFault, delayMs = 0) => {
      await setFault(target, containerDn, fault, delayMs);
      return () => setFault(target, containerDn, 'none');
    };
    const connect = async (overrides: Record<string, unknown> = {}) => {
      const connector = new LdapConnector(ldapTargetConfig(target, ou, { deltaOverlapMs: 0, ...overrides }), { password: target.password });
      connectors.push(connector);
      return connector;
    };
    return {
      connect: (limits) => connect(limits ? { limits: { maxConnections: 4, maxConcurrency: 16, timeoutMs: 30_000, ...limits } } : {}),
      connectUnreachable: async () => connect({ url: `ldap://127.0.0.1:${await freePort()}` }),
      keyAttribute: 'uid',
      account: (key) => ({ uid: key, cn: key, sn: 'Contract' }),
      mutableAttribute: 'description',
      invalidAccount: (key) => ({ uid: key, cn: key, sn: 'Contract', notAnAttributeOfTheSchema: 'x' }),
      missingUid: () => `uid=${escapeDnValue(unique('missing'))},${containerDn}`,
      seedAccounts: (prefix, count) => seedPeople(target, containerDn, prefix, count),
      // LDAP has no Retry-After (busy carries no delay) and a search page cannot be cut short in this server.
      faults: {
        latency: (fault) => inject('latency', fault.kind === 'latency' ? fault.durationMs : 0),
        unavailable: () => inject('unavailable'),
        server_error: () => inject('server_error'),
      },
      changeResolutionMs: 20,
      dispose: async () => {
        await Promise.all(connectors.map((c) => c.close().catch(() => undefined)));
        await removeContainer(target, containerDn);
      },
    };
  },
  { faults: ['latency', 'unavailable', 'server_error'] },
);

describe('LDAP connector (LDAP specifics)', () => {
  const ou = unique('ldap');
  let containerDn: string;
  let connector: LdapConnector;
  const opened: Connector[] = [];
  const open = (overrides: Record<string, unknown> = {}, password = target.password) => {
    const c = new LdapConnector(ldapTargetConfig(target, ou, overrides), { password });
    opened.push(c);
    return c;
  };

  beforeAll(async () => {
    containerDn = await createContainer(target, ou);
    connector = open();
  });

  afterAll(async () => {
    await Promise.all(opened.map((c) => c.close().catch(() => undefined)));
    await removeContainer(target, containerDn);
  });

  it('speaks LDAPS with the stack CA, and refuses an untrusted certificate as InvalidConfig', async () => {
    const ca = readFileSync(target.caFile, 'utf8');
    const secure = open({ url: target.ldapsUrl, tls: { ca, rejectUnauthorized: true } });
    const created = await secure.create('account', { uid: unique('tls'), cn: 'TLS', sn: 'User' });
    expect((await secure.get('account', created.uid))?.attributes.cn).toBe('TLS');

    const untrusting = open({ url: target.ldapsUrl });
    await expectConnectorError(() => untrusting.get('account', created.uid), ConnectorErrorCode.InvalidConfig);
  });

  it('upgrades ldap:// with StartTLS before binding', async () => {
    const ca = readFileSync(target.caFile, 'utf8');
    const upgraded = open({ startTls: true, tls: { ca } });
    const result = await upgraded.testConnection();
    expect(result).toMatchObject({ ok: true, details: { pagedResults: true, startTls: true } });
  });

  it('a wrong password is permanent Unauthorized, and testConnection says so', async () => {
    const wrong = open({}, 'not-the-password');
    const error = await expectConnectorError(() => wrong.get('account', `uid=x,${containerDn}`), ConnectorErrorCode.Unauthorized);
    expect(error.transient).toBe(false);
    expect(await wrong.testConnection()).toMatchObject({ ok: false, error: { code: ConnectorErrorCode.Unauthorized } });
  });

  it('a missing RDN value or a syntax the schema refuses is InvalidAttribute; an objectClass violation too', async () => {
    await expectConnectorError(() => connector.create('account', { cn: 'no uid', sn: 'x' }), ConnectorErrorCode.InvalidAttribute);
    // sn is required by person
    await expectConnectorError(() => connector.create('account', { uid: unique('no-sn'), cn: 'x' }), ConnectorErrorCode.InvalidAttribute);
    // a DN-syntax attribute holding a non-DN
    await expectConnectorError(() => connector.create('account', { uid: unique('bad-dn'), cn: 'x', sn: 'x', manager: 'not a dn' }), ConnectorErrorCode.InvalidAttribute);
  });

  it('a uid outside baseDn is refused before it reaches the server', async () => {
    expect(await connector.get('account', 'uid=x,dc=elsewhere')).toBeNull();
    await expectConnectorError(() => connector.delete('account', 'uid=x,dc=elsewhere'), ConnectorErrorCode.BadRequest);
    await expectConnectorError(() => connector.delete('account', `uid=x,${containerDn}`), ConnectorErrorCode.NotFound);
  });

  it('disables through the configured attribute and values (nsAccountLock TRUE/FALSE)', async () => {
    const lockable = open({ enable: { attribute: 'nsAccountLock', disabledValue: 'TRUE', enabledValue: 'FALSE' } });
    const created = await lockable.create('account', { uid: unique('lock'), cn: 'Lock', sn: 'User' });
    expect((await lockable.get('account', created.uid))?.enabled).toBe(true);
    await lockable.disable('account', created.uid);
    const disabled = await lockable.get('account', created.uid);
    expect(disabled?.enabled).toBe(false);
    expect(disabled?.attributes.nsAccountLock).toBeUndefined();
    await lockable.enable('account', created.uid);
    expect((await lockable.get('account', created.uid))?.enabled).toBe(true);
  });

  it('renaming through the RDN attribute is Unsupported; multi-valued attributes round-trip', async () => {
    const created = await connector.create('account', { uid: unique('multi'), cn: ['One', 'Two'], sn: 'User', mail: ['a@x.test', 'b@x.test'] });
    const fetched = await connector.get('account', created.uid);
    expect(fetched?.attributes.mail).toEqual(['a@x.test', 'b@x.test']);
    await expectConnectorError(() => connector.update('account', created.uid, { replace: { uid: 'renamed' }, remove: [] }), ConnectorErrorCode.Unsupported);
  });

  it('reads the schema of accounts and groups from the subschema subentry', async () => {
    const schema = await connector.schema();
    const account = schema.objectClasses.find((c) => c.name === 'account')!;
    expect(account.nativeName).toBe('inetOrgPerson');
    expect(account.attributes.find((a) => a.name === 'sn')).toMatchObject({ required: true, type: 'string', multiValued: true });
    expect(account.attributes.find((a) => a.name === 'uid')).toMatchObject({ required: false });
    expect(account.attributes.find((a) => a.name === 'manager')).toMatchObject({ type: 'reference' });
    const group = schema.objectClasses.find((c) => c.name === 'group')!;
    expect(group.attributes.find((a) => a.name === 'cn')).toMatchObject({ required: true });
    expect(group.attributes.find((a) => a.name === 'member')).toMatchObject({ type: 'reference' });
  });

  it('groups live in their own container', async () => {
    const person = await connector.create('account', { uid: unique('member'), cn: 'M', sn: 'M' });
    const name = unique('group');
    const group = await connector.create('group', { cn: name, member: person.uid });
    expect(group.uid).toBe(`cn=${name},ou=groups,${target.baseDn}`);
    expect((await collectSearch(connector.search('group', { filter: { op: 'eq', attribute: 'cn', value: name } }))).map((g) => g.uid)).toEqual([group.uid]);
    expect(await connector.get('account', group.uid)).toBeNull();
    expect((await connector.get('group', group.uid))?.attributes.member).toBe(person.uid);
    await connector.delete('group', group.uid);
  });

  describe('cursors when entries change between pages', () => {
    const pageOu = unique('pages');
    let pageContainer: string;
    let paged: LdapConnector;
    beforeAll(async () => {
      pageContainer = await createContainer(target, pageOu);
      await seedPeople(target, pageContainer, 'p', 100);
      paged = new LdapConnector(ldapTargetConfig(target, pageOu), { password: target.password });
    });
    afterAll(async () => {
      await paged.close();
      await removeContainer(target, pageContainer);
    });

    const firstPages = async (count: number) => {
      const pages: string[][] = [];
      let cursor: string | null = null;
      for await (const page of paged.search('account', { pageSize: 10 })) {
        pages.push(page.objects.map((o) => o.uid));
        cursor = page.nextCursor;
        if (pages.length === count) break;
      }
      return { seen: pages.flat(), cursor: cursor! };
    };

    it('resumes after the last delivered entry when entries before it were deleted', async () => {
      const { seen, cursor } = await firstPages(3);
      await paged.delete('account', seen[0]);
      await paged.delete('account', seen[1]);
      const rest = (await collectSearch(paged.search('account', { pageSize: 10, cursor }))).map((o) => o.uid);
      expect(rest.filter((uid) => seen.includes(uid))).toEqual([]);
      expect(new Set([...seen, ...rest]).size).toBe(100);
    });

    it('reads at most one page again when the last delivered entry itself is gone', async () => {
      const { seen, cursor } = await firstPages(4);
      await paged.delete('account', seen[seen.length - 1]);
      const rest = (await collectSearch(paged.search('account', { pageSize: 10, cursor }))).map((o) => o.uid);
      const again = rest.filter((uid) => seen.includes(uid));
      expect(again.length).toBeGreaterThan(0);
      expect(again.length).toBeLessThanOrEqual(10);
      const everything = (await collectSearch(paged.search('account', { pageSize: 50 }))).map((o) => o.uid);
      expect(everything.filter((uid) => !seen.includes(uid) && !rest.includes(uid))).toEqual([]);
    });

    it('a cursor that is not one of ours is BadRequest', async () => {
      await expectConnectorError(() => collectSearch(paged.search('account', { cursor: 'bm90IGEgY3Vyc29y' })), ConnectorErrorCode.BadRequest);
    });
  });
});
