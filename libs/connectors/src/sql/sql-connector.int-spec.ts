// The SQL connector against the stack's target databases (provisio_targets on PostgreSQL and on MariaDB,
// scripts/stack/sql-targets.mjs): the shared contract for each, then what is SQL's own.
import { createServer } from 'node:net';
import { Connector } from '../connector';
import { ConnectorErrorCode } from '../connector-errors';
import { collectSearch, describeConnectorContract, expectConnectorError } from '../testing';
import { SqlConnector } from './sql-connector';
import { createAccountsTable, dropTable, execute, SqlDialect, sqlTarget, sqlTargetConfig, seedRows, startDelayProxy } from './sql-target';

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

const unique = (label: string) => `${label}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

for (const dialect of ['postgres', 'mariadb'] as SqlDialect[]) {
  const label = dialect === 'postgres' ? 'SQL (PostgreSQL)' : 'SQL (MariaDB)';

  describeConnectorContract(
    label,
    async () => {
      const target = sqlTarget(dialect);
      const table = await createAccountsTable(target, 'contract');
      // Every connector of the contract goes through a proxy that can delay the database's answers.
      const proxy = await startDelayProxy(target);
      const connectors: Connector[] = [];
      const connect = (overrides: Record<string, unknown> = {}) => {
        const { config, credentials } = sqlTargetConfig(target, table, { deltaOverlapMs: 0, host: '127.0.0.1', port: proxy.port, ...overrides });
        const connector = new SqlConnector(config, credentials);
        connectors.push(connector);
        return connector;
      };
      return {
        connect: async (limits) => connect(limits ? { limits: { maxConnections: 10, maxConcurrency: 10, timeoutMs: 30_000, ...limits } } : {}),
        connectUnreachable: async () => connect({ port: await freePort() }),
        keyAttribute: 'userName',
        account: (key) => ({ userName: key, displayName: 'Contract' }),
        mutableAttribute: 'description',
        invalidAccount: (key) => ({ userName: key, age: 'not a number' }),
        missingUid: () => unique('missing'),
        seedAccounts: (prefix, count) => seedRows(target, table, prefix, count),
        // A database has no 429, 503 or half page to give; latency it has, through the proxy.
        faults: {
          latency: async (fault) => {
            proxy.setDelay(fault.kind === 'latency' ? fault.durationMs : 0);
            return async () => proxy.setDelay(0);
          },
        },
        changeResolutionMs: 20,
        dispose: async () => {
          proxy.setDelay(0);
          await Promise.all(connectors.map((c) => c.close().catch(() => undefined)));
          await proxy.close();
          await dropTable(target, table);
        },
      };
    },
    { faults: ['latency'], segments: true },
  );

  describe(`${label} connector (SQL specifics)`, () => {
    const target = sqlTarget(dialect);
    let table: string;
    let connector: SqlConnector;
    const opened: Connector[] = [];
    const open = (overrides: Record<string, unknown> = {}) => {
      const { config, credentials } = sqlTargetConfig(target, table, overrides);
      const c = new SqlConnector(config, credentials);
      opened.push(c);
      return c;
    };
    const q = (name: string) => (dialect === 'postgres' ? `"${name}"` : `\`${name}\``);

    beforeAll(async () => {
      table = await createAccountsTable(target, 'sqlspec');
      connector = open();
    });

    afterAll(async () => {
      await Promise.all(opened.map((c) => c.close().catch(() => undefined)));
      await dropTable(target, table);
    });

    it('maps constraint and value errors: unique → AlreadyExists, check → ConstraintViolation, type → InvalidAttribute', async () => {
      await connector.create('account', { userName: unique('u1'), email: 'same@x.test' });
      await expectConnectorError(() => connector.create('account', { userName: unique('u2'), email: 'same@x.test' }), ConnectorErrorCode.AlreadyExists);
      await expectConnectorError(() => connector.create('account', { userName: unique('u3'), age: -1 }), ConnectorErrorCode.ConstraintViolation);
      await expectConnectorError(() => connector.create('account', { userName: unique('u4'), age: 1.5e12 }), ConnectorErrorCode.InvalidAttribute);
    });

    it('refuses a lone surrogate (it has no UTF-8 form) and stores a huge string or refuses it cleanly', async () => {
      await expectConnectorError(() => connector.create('account', { userName: unique('s'), displayName: 'half \ud83d pair' }), ConnectorErrorCode.InvalidAttribute);
      const huge = 'x'.repeat(1_000_000);
      // description is text on PostgreSQL (1 MB fits) and TEXT on MariaDB (64 KB: too long → InvalidAttribute)
      const fits = dialect === 'postgres' ? huge : huge.slice(0, 60_000);
      const created = await connector.create('account', { userName: unique('big'), description: fits });
      expect((await connector.get('account', created.uid))?.attributes.description).toBe(fits);
      if (dialect === 'mariadb') {
        const key = unique('long');
        await expectConnectorError(() => connector.create('account', { userName: key, description: huge }), ConnectorErrorCode.InvalidAttribute);
        expect(await connector.get('account', key)).toBeNull();
      }
    });

    it('refuses an attribute the mapping lacks, without touching the database', async () => {
      const error = await expectConnectorError(() => connector.create('account', { userName: unique('x'), 'nick"; DROP TABLE x; --': 'x' }), ConnectorErrorCode.InvalidAttribute);
      expect(error.message).toContain('not mapped');
      await expectConnectorError(() => collectSearch(connector.search('account', { filter: { op: 'eq', attribute: 'notMapped', value: 'x' } })), ConnectorErrorCode.InvalidAttribute);
    });

    it('a mapping naming a column the table lacks is InvalidConfig, and testConnection says so', async () => {
      const bad = open({
        accounts: { table, keyColumn: 'user_name', columns: { userName: 'user_name', nick: 'no_such_column' } },
      });
      await expectConnectorError(() => bad.get('account', 'x'), ConnectorErrorCode.InvalidConfig);
      expect(await bad.testConnection()).toMatchObject({ ok: false, error: { code: ConnectorErrorCode.InvalidConfig } });
      const missingTable = open({ accounts: { table: 'no_such_table_here', keyColumn: 'k', columns: { k: 'k' } } });
      await expectConnectorError(() => missingTable.get('account', 'x'), ConnectorErrorCode.InvalidConfig);
    });

    it('a row lock held elsewhere makes a write fail with transient LockTimeout', async () => {
      const key = unique('locked');
      await connector.create('account', { userName: key });
      const impatient = open({ lockTimeoutMs: 1000 });
      // hold the row's lock in a transaction of a connection of our own, for longer than the connector waits
      const locker = dialect === 'postgres' ? new (await import('pg')).Client({ connectionString: target.url }) : null;
      const mariadb = dialect === 'mariadb' ? await (await import('mysql2/promise')).createConnection({ uri: target.url }) : null;
      try {
        if (locker) {
          await locker.connect();
          await locker.query('BEGIN');
          await locker.query(`SELECT 1 FROM ${q(table)} WHERE user_name = $1 FOR UPDATE`, [key]);
        } else {
          await mariadb!.query('START TRANSACTION');
          await mariadb!.query(`SELECT 1 FROM ${q(table)} WHERE user_name = ? FOR UPDATE`, [key]);
        }
        const error = await expectConnectorError(() => impatient.update('account', key, { replace: { description: 'x' }, remove: [] }), ConnectorErrorCode.LockTimeout);
        expect(error.transient).toBe(true);
      } finally {
        await locker?.query('ROLLBACK').catch(() => undefined);
        await locker?.end();
        await mariadb?.query('ROLLBACK').catch(() => undefined);
        await mariadb?.end();
      }
    });

    // The stack's PostgreSQL trusts local connections (no password to get wrong): there, a database that
    // does not exist is the login failure to check.
    const loginCase = dialect === 'mariadb' ? 'a wrong user or password is permanent Unauthorized' : 'a database that does not exist is permanent InvalidConfig';
    it(loginCase, async () => {
      const overrides = dialect === 'mariadb' ? { user: 'provisio_no_such_user' } : { database: 'provisio_no_such_database' };
      const { config } = sqlTargetConfig(target, table, overrides);
      const wrong = new SqlConnector(config, { password: 'wrong' });
      opened.push(wrong);
      const error = await expectConnectorError(() => wrong.get('account', 'x'), dialect === 'mariadb' ? ConnectorErrorCode.Unauthorized : ConnectorErrorCode.InvalidConfig);
      expect(error.transient).toBe(false);
    });

    it('upserts when createMode is upsert', async () => {
      const upserting = open({
        accounts: {
          table,
          keyColumn: 'user_name',
          columns: { userName: 'user_name', displayName: 'display_name' },
          updatedAtColumn: 'updated_at',
          createMode: 'upsert',
        },
      });
      const key = unique('upsert');
      await upserting.create('account', { userName: key, displayName: 'first' });
      const again = await upserting.create('account', { userName: key, displayName: 'second' });
      expect(again.attributes.displayName).toBe('second');
      const outcomes = await upserting.writeBatch([
        { kind: 'create', objectClass: 'account', attributes: { userName: key, displayName: 'third' } },
        { kind: 'create', objectClass: 'account', attributes: { userName: unique('upsert'), displayName: 'new' } },
      ]);
      expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
      expect((await upserting.get('account', key))?.attributes.displayName).toBe('third');
    });

    it('a batch mixing good and bad rows of every kind gets one outcome per write, in order', async () => {
      const keys = [unique('b'), unique('b'), unique('b')];
      await connector.create('account', { userName: keys[2] });
      const outcomes = await connector.writeBatch([
        { kind: 'create', objectClass: 'account', attributes: { userName: keys[0], age: 30 } },
        { kind: 'create', objectClass: 'account', attributes: { userName: keys[1], age: 'old' } },
        { kind: 'create', objectClass: 'account', attributes: { userName: keys[2] } },
        { kind: 'update', objectClass: 'account', uid: keys[0], delta: { replace: { age: 31 }, remove: [] } },
        { kind: 'update', objectClass: 'account', uid: keys[2], delta: { replace: { age: -5 }, remove: [] } },
        { kind: 'update', objectClass: 'account', uid: unique('none'), delta: { replace: { age: 1 }, remove: [] } },
        { kind: 'update', objectClass: 'account', uid: keys[2], delta: { replace: { displayName: 'other columns' }, remove: ['age'] } },
        { kind: 'delete', objectClass: 'account', uid: keys[2] },
        { kind: 'delete', objectClass: 'account', uid: keys[2] },
      ]);
      const codes = outcomes.map((o) => (o.ok ? 'ok' : o.error.code));
      expect(codes).toEqual([
        'ok',
        ConnectorErrorCode.InvalidAttribute,
        ConnectorErrorCode.AlreadyExists,
        'ok',
        ConnectorErrorCode.ConstraintViolation,
        ConnectorErrorCode.NotFound,
        'ok',
        'ok',
        ConnectorErrorCode.NotFound,
      ]);
      expect(outcomes[3].ok && outcomes[3].object?.attributes.age).toBe(31);
      expect((await connector.get('account', keys[0]))?.attributes.age).toBe(31);
    });

    it('writes 2,000 creates, updates and deletes in batches', async () => {
      const keys = Array.from({ length: 2000 }, (_, i) => `bulk-${i}-${unique('k')}`);
      const created = await connector.writeBatch(keys.map((k) => ({ kind: 'create', objectClass: 'account', attributes: { userName: k, displayName: 'bulk' } })));
      expect(created.every((o) => o.ok)).toBe(true);
      const updated = await connector.writeBatch(keys.map((k, i) => ({ kind: 'update', objectClass: 'account', uid: k, delta: { replace: { age: i }, remove: [] } })));
      expect(updated.every((o) => o.ok)).toBe(true);
      expect((await connector.get('account', keys[1999]))?.attributes.age).toBe(1999);
      const deleted = await connector.writeBatch(keys.map((k) => ({ kind: 'delete', objectClass: 'account', uid: k })));
      expect(deleted.every((o) => o.ok)).toBe(true);
      expect(await connector.get('account', keys[0])).toBeNull();
    });

    it('reads its schema from information_schema', async () => {
      const schema = await connector.schema();
      const account = schema.objectClasses.find((c) => c.name === 'account')!;
      expect(account.nativeName).toBe(table);
      expect(account.attributes.find((a) => a.name === 'age')).toMatchObject({ type: 'integer', required: false });
      expect(account.attributes.find((a) => a.name === 'userName')).toMatchObject({ type: 'string', required: true });
      expect(await connector.testConnection()).toMatchObject({ ok: true, details: { dialect } });
    });

    it('a delta cursor resumes exactly after the last row delivered, and watermarks only move forward', async () => {
      const prefix = unique('delta');
      await seedRows(target, table, `${prefix}-`, 30);
      const exact = open({ deltaOverlapMs: 0 });
      const pages: string[][] = [];
      const watermarks: string[] = [];
      let cursor: string | null = null;
      for await (const page of exact.searchChangedSince('account', null, { pageSize: 7, filter: { op: 'eq', attribute: 'displayName', value: 'Seeded' } })) {
        pages.push(page.objects.map((o) => o.uid));
        watermarks.push(page.watermark!);
        if (pages.length === 2) {
          cursor = page.nextCursor;
          break;
        }
      }
      const rest = (await collectSearch(exact.searchChangedSince('account', null, { pageSize: 7, cursor: cursor!, filter: { op: 'eq', attribute: 'displayName', value: 'Seeded' } }))).map(
        (o) => o.uid,
      );
      const all = [...pages.flat(), ...rest].filter((uid) => uid.startsWith(prefix));
      expect(new Set(all).size).toBe(30);
      expect(all.length).toBe(30);
      expect([...watermarks].sort()).toEqual(watermarks);
      await execute(target, [`UPDATE ${q(table)} SET display_name = 'x' WHERE user_name LIKE '${prefix}-%'`]);
    });
  });
}
