import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { EventType } from '@provisio/contracts';
import { ensureTenant } from '@provisio/persistence';
import { freePort, uniqueTopicPrefix } from '@provisio/platform/testing';
import { Caller, ProvisioningTestApp, startProvisioningQueue, testCredentialKey } from '../testing/provisioning-app';

/** The stack's fixture servers (written to .stack/stack.env by `npm run stack:up`). */
function target(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the stack (npm run stack:up) and export .stack/stack.env`);
  return value;
}

const scimConfig = (baseUrl = target('SCIM_TARGET_URL')) => ({ baseUrl, auth: 'bearer' });
const scimCredentials = () => ({ token: target('SCIM_TARGET_TOKEN') });

describe('provisioning-queue: connectors API', () => {
  let t: ProvisioningTestApp;
  let own: Caller;

  beforeAll(async () => {
    t = await startProvisioningQueue();
    own = t.caller();
  });
  afterAll(async () => t?.close());

  const storedCredentials = async (id: string): Promise<string | null> => (await t.db.dataSource.query('SELECT credentials_encrypted FROM connectors WHERE id = $1', [id]))[0].credentials_encrypted;

  describe('CRUD and credentials at rest', () => {
    it('creates a connector whose credentials are encrypted and never returned', async () => {
      const token = `secret-token-${randomUUID()}`;
      const created = await own.createConnector({ type: 'scim', config: scimConfig(), credentials: { token } });
      expect(created).toMatchObject({ tenant_id: own.tenantId, type: 'scim', status: 'active', last_error: null, has_credentials: true, credentials_key_id: 'test1', attribute_mapping: [], provisioning_policy: { statuses: ['active', 'inactive', 'suspended'] } });
      expect(created).not.toHaveProperty('credentials');
      expect(created).not.toHaveProperty('credentials_encrypted');

      const stored = await storedCredentials(created.id);
      expect(stored).toMatch(/^v1:test1:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$/);
      expect(stored).not.toContain(token);
      expect(Buffer.from(stored!.split(':')[3], 'base64url').toString('latin1')).not.toContain('secret-token');
      // Nowhere else in the row either.
      const [row] = await t.db.dataSource.query('SELECT to_jsonb(c) - $2 AS rest FROM connectors c WHERE id = $1', [created.id, 'credentials_encrypted']);
      expect(JSON.stringify(row)).not.toContain(token);

      for (const response of [await own.get(`/connectors/${created.id}`), await own.get('/connectors'), await own.patch(`/connectors/${created.id}`, { name: `renamed-${randomUUID()}` })]) {
        expect(response.status).toBe(200);
        expect(JSON.stringify(response.body)).not.toContain(token);
        expect(JSON.stringify(response.body)).not.toContain(stored!.split(':')[3]);
      }
    });

    it('updates config, credentials and status; removes credentials with null; deletes', async () => {
      const created = await own.createConnector({ type: 'scim', config: scimConfig(), credentials: scimCredentials() });
      const before = await storedCredentials(created.id);
      const renamed = await own.patch(`/connectors/${created.id}`, { config: { ...scimConfig(), pageSize: 50 }, status: 'inactive' });
      expect(renamed.body).toMatchObject({ config: { pageSize: 50 }, status: 'inactive', has_credentials: true });
      expect(await storedCredentials(created.id)).toBe(before);

      await own.patch(`/connectors/${created.id}`, { credentials: { token: 'another' } }).expect(200);
      const after = await storedCredentials(created.id);
      expect(after).not.toBe(before);
      expect(after).not.toContain('another');

      const removed = await own.patch(`/connectors/${created.id}`, { credentials: null });
      // A SCIM connector needs credentials: removing them is refused.
      expect({ status: removed.status, field: removed.body.field }).toEqual({ status: 400, field: 'credentials' });

      expect((await own.delete(`/connectors/${created.id}`)).status).toBe(204);
      expect((await own.get(`/connectors/${created.id}`)).status).toBe(404);
      expect((await own.delete(`/connectors/${created.id}`)).status).toBe(404);
    });

    it("answers 400 naming the field of a bad config, credentials, mapping or policy, and 409 for a taken name; writes nothing", async () => {
      const count = async () => (await t.db.dataSource.query('SELECT count(*)::int AS n FROM connectors'))[0].n;
      const before = await count();
      const cases: [Record<string, unknown>, string][] = [
        [{ type: 'scim', config: { ...scimConfig(), baseUrl: 'ftp://x' } }, 'config.baseUrl'],
        [{ type: 'scim', config: { ...scimConfig(), color: 'blue' } }, 'config'],
        [{ type: 'scim', config: scimConfig(), credentials: { token: '' } }, 'credentials.token'],
        [{ type: 'scim', config: scimConfig() }, 'credentials'],
        [{ type: 'nosql', config: {} }, 'type'],
        [{ type: 'scim', config: scimConfig(), credentials: scimCredentials(), attribute_mapping: [{ target: 'userName', from: 'password' }] }, 'attribute_mapping.0.from'],
        [{ type: 'scim', config: scimConfig(), credentials: scimCredentials(), attribute_mapping: { target: 'x' } }, 'attribute_mapping'],
        [{ type: 'scim', config: scimConfig(), credentials: scimCredentials(), provisioning_policy: { filter: { attribute: 'username', op: 'in', value: 'x' } } }, 'provisioning_policy.filter.value'],
        [{ type: 'scim', config: scimConfig(), credentials: scimCredentials(), mapping_script_id: randomUUID() }, 'mapping_script_id'],
        [{ type: 'scim', config: scimConfig(), credentials: scimCredentials(), status: 'error' }, 'status'],
      ];
      for (const [body, field] of cases) {
        const response = await own.post('/connectors', { name: `bad-${randomUUID()}`, ...body });
        expect({ body, status: response.status, field: response.body.field }).toEqual({ body, status: 400, field });
      }
      const first = await own.createConnector({ type: 'scim', config: scimConfig(), credentials: scimCredentials() });
      const taken = await own.post('/connectors', { name: first.name, type: 'scim', config: scimConfig(), credentials: scimCredentials() });
      expect({ status: taken.status, field: taken.body.field }).toEqual({ status: 409, field: 'name' });
      const typeChange = await own.patch(`/connectors/${first.id}`, { type: 'ldap' });
      expect({ status: typeChange.status, field: typeChange.body.field }).toEqual({ status: 400, field: 'type' });
      expect(await count()).toBe(before + 1);
    });

    it('takes an embedded script of the tenant as mapping script', async () => {
      const organizationId = await ensureTenant(t.db.dataSource, own.tenantId);
      const [{ id: scriptId }] = await t.db.dataSource.query(
        `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status) VALUES ($1, $2, $3, 'export default (x) => x', 'embedded', 'active') RETURNING id`,
        [own.tenantId, organizationId, `map-${randomUUID()}`],
      );
      const created = await own.createConnector({ type: 'scim', config: scimConfig(), credentials: scimCredentials(), mapping_script_id: scriptId });
      expect(created.mapping_script_id).toBe(scriptId);
      const cleared = await own.patch(`/connectors/${created.id}`, { mapping_script_id: null });
      expect(cleared.body.mapping_script_id).toBeNull();
      // Another tenant's script is not found.
      const stranger = t.caller();
      const refused = await stranger.post('/connectors', { name: 'x', type: 'scim', config: scimConfig(), credentials: scimCredentials(), mapping_script_id: scriptId });
      expect({ status: refused.status, field: refused.body.field }).toEqual({ status: 400, field: 'mapping_script_id' });
    });

    it('a ciphertext copied to another connector does not decrypt there', async () => {
      const a = await own.createConnector({ type: 'scim', config: scimConfig(), credentials: scimCredentials() });
      const b = await own.createConnector({ type: 'scim', config: scimConfig(), credentials: { token: 'other' } });
      await t.db.dataSource.query('UPDATE connectors SET credentials_encrypted = $2 WHERE id = $1', [b.id, await storedCredentials(a.id)]);
      const response = await own.post(`/connectors/${b.id}/test`);
      expect({ status: response.status, field: response.body.field }).toEqual({ status: 409, field: 'credentials' });
      expect(response.body.message).toMatch(/cannot be decrypted/);
    });
  });

  describe('key rotation', () => {
    it('re-encrypts with the new current key; the old key can then go', async () => {
      const old = t.credentialKeys; // test1:<key>
      const caller = t.caller();
      const connector = await caller.createConnector({ type: 'scim', config: scimConfig(), credentials: scimCredentials() });
      const next = `test2:${testCredentialKey()}`;
      const rotating = await startProvisioningQueue({ CONNECTOR_CREDENTIALS_KEYS: `${old},${next}`, CONNECTOR_CREDENTIALS_KEY_ID: 'test2' }, { db: t.db, prefix: uniqueTopicPrefix() });
      try {
        const asRotating = rotating.caller({ tenantId: caller.tenantId });
        // Still readable with the old key listed.
        expect((await asRotating.post(`/connectors/${connector.id}/test`)).body.ok).toBe(true);
        expect((await asRotating.post('/connectors/credentials/re-encrypt', { dry_run: true })).body).toEqual({ key_id: 'test2', re_encrypted: 1, dry_run: true });
        expect(await storedCredentials(connector.id)).toMatch(/^v1:test1:/);
        const result = await asRotating.post('/connectors/credentials/re-encrypt');
        expect(result.body).toEqual({ key_id: 'test2', re_encrypted: 1, dry_run: false });
        expect(await storedCredentials(connector.id)).toMatch(/^v1:test2:/);
        expect((await asRotating.post('/connectors/credentials/re-encrypt')).body).toEqual({ key_id: 'test2', re_encrypted: 0, dry_run: false });
      } finally {
        await rotating.close();
      }
      const rotated = await startProvisioningQueue({ CONNECTOR_CREDENTIALS_KEYS: next }, { db: t.db, prefix: uniqueTopicPrefix() });
      try {
        const response = await rotated.caller({ tenantId: caller.tenantId }).post(`/connectors/${connector.id}/test`);
        expect(response.body).toMatchObject({ ok: true, status: 'active' });
        // The old app, which lacks test2, says so.
        const missing = await caller.post(`/connectors/${connector.id}/test`);
        expect({ status: missing.status, field: missing.body.field, message: missing.body.message }).toEqual({ status: 409, field: 'credentials', message: expect.stringContaining('key test2') });
      } finally {
        await rotated.close();
      }
    });

    it('without keys, the service starts, serves its API and refuses to store credentials (409)', async () => {
      const keyless = await startProvisioningQueue({ CONNECTOR_CREDENTIALS_KEYS: '' }, { db: t.db, prefix: uniqueTopicPrefix() });
      try {
        const caller = keyless.caller();
        expect((await caller.get('/connectors')).status).toBe(200);
        const response = await caller.post('/connectors', { name: 'x', type: 'scim', config: scimConfig(), credentials: scimCredentials() });
        expect({ status: response.status, field: response.body.field, message: response.body.message }).toEqual({ status: 409, field: 'credentials', message: expect.stringContaining('CONNECTOR_CREDENTIALS_KEYS') });
      } finally {
        await keyless.close();
      }
    });
  });

  describe('test and schema against the real target servers', () => {
    it('SCIM: a passing test keeps it active; a failing one sets error and last_error; fixing it clears them', async () => {
      const connector = await own.createConnector({ type: 'scim', config: scimConfig(), credentials: scimCredentials() });
      const passed = await own.post(`/connectors/${connector.id}/test`);
      expect(passed.status).toBe(200);
      expect(passed.body).toMatchObject({ ok: true, status: 'active', last_error: null, details: expect.objectContaining({ patch: true }) });
      expect(passed.body.latency_ms).toBeGreaterThanOrEqual(0);

      const closed = `http://127.0.0.1:${await freePort()}/scim`;
      await own.patch(`/connectors/${connector.id}`, { config: scimConfig(closed) }).expect(200);
      const failed = await own.post(`/connectors/${connector.id}/test`);
      expect(failed.body).toMatchObject({ ok: false, status: 'error', error: { code: 'connection_refused' }, last_error: expect.stringContaining('connection_refused') });
      expect((await own.get(`/connectors/${connector.id}`)).body).toMatchObject({ status: 'error', last_error: expect.stringContaining('connection_refused') });
      expect(failed.body.last_error).not.toContain(target('SCIM_TARGET_TOKEN'));

      const schemaFailure = await own.get(`/connectors/${connector.id}/schema`);
      expect({ status: schemaFailure.status, code: schemaFailure.body.code }).toEqual({ status: 502, code: 'target_error' });

      await own.patch(`/connectors/${connector.id}`, { config: scimConfig() }).expect(200);
      expect((await own.post(`/connectors/${connector.id}/test`)).body).toMatchObject({ ok: true, status: 'active', last_error: null });
    });

    it('SCIM: the schema lists the account and group object classes', async () => {
      const connector = await own.createConnector({ type: 'scim', config: scimConfig(), credentials: scimCredentials() });
      const response = await own.get(`/connectors/${connector.id}/schema`);
      expect(response.status).toBe(200);
      const account = response.body.object_classes.find((c: { name: string }) => c.name === 'account');
      expect(account).toMatchObject({ native_name: expect.any(String) });
      expect(account.attributes).toContainEqual(expect.objectContaining({ name: 'userName', type: 'string', multi_valued: false, required: true }));
    });

    it('SCIM: refused credentials fail the test', async () => {
      const connector = await own.createConnector({ type: 'scim', config: scimConfig(), credentials: { token: 'wrong-token' } });
      const schema = await own.get(`/connectors/${connector.id}/schema`);
      expect({ status: schema.status, message: schema.body.message }).toEqual({ status: 502, message: expect.stringContaining('unauthorized') });
    });

    it('LDAP: test and schema against the stack directory', async () => {
      const connector = await own.createConnector({
        type: 'ldap',
        config: { url: target('LDAP_TARGET_URL'), bindDn: target('LDAP_TARGET_BIND_DN'), baseDn: target('LDAP_TARGET_BASE_DN') },
        credentials: { password: target('LDAP_TARGET_PASSWORD') },
      });
      expect((await own.post(`/connectors/${connector.id}/test`)).body).toMatchObject({ ok: true, status: 'active' });
      const schema = await own.get(`/connectors/${connector.id}/schema`);
      expect(schema.status).toBe(200);
      expect(schema.body.object_classes.map((c: { name: string }) => c.name)).toContain('account');

      await own.patch(`/connectors/${connector.id}`, { credentials: { password: 'wrong' } }).expect(200);
      expect((await own.post(`/connectors/${connector.id}/test`)).body).toMatchObject({ ok: false, status: 'error', error: { code: 'unauthorized' } });
    });
  });

  describe('SQL: test and schema against a PostgreSQL target table of this suite', () => {
    const database = 'provisio_connector_api_test';
    const table = `accounts_${randomUUID().slice(0, 8)}`;
    const server = () => new URL(target('SQL_TARGET_PG_URL'));
    const connect = async (db: string) => {
      const url = server();
      url.pathname = `/${db}`;
      const client = new Client({ connectionString: url.toString() });
      await client.connect();
      return client;
    };
    const sqlConfig = () => ({
      dialect: 'postgres',
      host: server().hostname,
      port: Number(server().port || 5432),
      database,
      user: decodeURIComponent(server().username || 'postgres'),
      accounts: { table, keyColumn: 'id', columns: { userName: 'id', email: 'email', displayName: 'display_name' }, updatedAtColumn: 'updated_at', enabled: { column: 'active' } },
    });

    beforeAll(async () => {
      const admin = await connect('postgres');
      try {
        const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
        if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${database}`).catch((error: { code?: string }) => { if (error.code !== '42P04') throw error; });
      } finally {
        await admin.end();
      }
      const db = await connect(database);
      try {
        await db.query(`CREATE TABLE ${table} (id text PRIMARY KEY, email text, display_name text NOT NULL DEFAULT '', active boolean NOT NULL DEFAULT true, updated_at timestamptz NOT NULL DEFAULT now())`);
      } finally {
        await db.end();
      }
    });
    afterAll(async () => {
      const db = await connect(database);
      await db.query(`DROP TABLE IF EXISTS ${table}`).finally(() => db.end());
    });

    it('tests the connection and reads the table as the account object class', async () => {
      const connector = await own.createConnector({ type: 'sql', config: sqlConfig(), credentials: { password: '' } });
      const tested = await own.post(`/connectors/${connector.id}/test`);
      expect(tested.body).toMatchObject({ ok: true, status: 'active', last_error: null });
      const schema = await own.get(`/connectors/${connector.id}/schema`);
      expect(schema.status).toBe(200);
      const account = schema.body.object_classes.find((c: { name: string }) => c.name === 'account');
      expect(account.native_name).toContain(table);
      expect(account.attributes.map((a: { name: string }) => a.name).sort()).toEqual(expect.arrayContaining(['displayName', 'email', 'userName']));
    });

    it('a table that is not there fails the test: status error with the reason', async () => {
      const config = sqlConfig();
      const connector = await own.createConnector({ type: 'sql', config: { ...config, accounts: { ...config.accounts, table: 'no_such_table' } }, credentials: { password: '' } });
      const tested = await own.post(`/connectors/${connector.id}/test`);
      expect(tested.body).toMatchObject({ ok: false, status: 'error', last_error: expect.stringContaining('no_such_table') });
      const refused = await own.post('/connectors', { name: `bad-${randomUUID()}`, type: 'sql', config: { ...config, accounts: { ...config.accounts, table: 'x; DROP TABLE y' } }, credentials: { password: '' } });
      expect({ status: refused.status, field: refused.body.field }).toEqual({ status: 400, field: 'config.accounts.table' });
    });
  });

  describe('preview', () => {
    const mapping = [
      { target: 'userName', from: 'username', transforms: ['lower'] },
      { target: 'displayName', template: '{{attributes.first_name}} {{attributes.last_name}}', transforms: ['trim'] },
      { target: 'title', from: 'attributes.title', default: 'Staff' },
      { target: 'emails', from: 'email', required: true },
      { target: 'active', value: true },
    ];
    const policy = { statuses: ['active'], filter: { attribute: 'attributes.department', op: 'in', value: ['Finance', 'Audit'] } };

    it('shows the account a stored or inline identity would get, and whether the policy covers it, writing nothing', async () => {
      const connector = await own.createConnector({ type: 'scim', config: scimConfig(), credentials: scimCredentials(), attribute_mapping: mapping, provisioning_policy: policy });
      const identity = await own.createIdentity({ username: 'Zoe.L', email: 'zoe@example.com', attributes: { first_name: 'Zoë', last_name: 'Ł', department: 'Finance' } });
      // Events of operations ending meanwhile (this test's identity, earlier tests' retries) are not the preview's doing.
      const counts = async () =>
        (
          await t.db.dataSource.query(
            `SELECT (SELECT count(*) FROM identities)::int AS i, (SELECT count(*) FROM account_links)::int AS l, (SELECT count(*) FROM provisioning_operations)::int AS o,
                    (SELECT count(*) FROM outbox WHERE event_type NOT IN ($1, $2))::int AS b`,
            [EventType.OperationFinished, EventType.OperationDeadLettered],
          )
        )[0];
      const before = await counts();

      const stored = await own.post(`/connectors/${connector.id}/preview`, { identity_id: identity.id });
      expect(stored.status).toBe(200);
      expect(stored.body).toEqual({
        covered: true,
        reason: expect.any(String),
        attributes: { userName: 'zoe.l', displayName: 'Zoë Ł', title: 'Staff', emails: 'zoe@example.com', active: true },
        missing: [],
        would_provision: true,
        mapping_script_id: null,
        mapping_script_applied: false,
        mapping_script_version: null,
        mapping_script_execution_id: null,
      });

      const inline = await own.post(`/connectors/${connector.id}/preview`, { identity: { username: 'bob', status: 'active', attributes: { department: 'IT' } } });
      expect(inline.body).toMatchObject({ covered: false, reason: expect.stringContaining('filter'), missing: ['emails'], would_provision: false });
      const inactive = await own.post(`/connectors/${connector.id}/preview`, { identity: { username: 'cy', status: 'inactive', attributes: { department: 'Audit' } } });
      expect(inactive.body).toMatchObject({ covered: false, reason: expect.stringContaining('status inactive') });
      expect(await counts()).toEqual(before);
    });

    it('answers 400 or 404 for a bad request', async () => {
      const connector = await own.createConnector({ type: 'scim', config: scimConfig(), credentials: scimCredentials() });
      const neither = await own.post(`/connectors/${connector.id}/preview`, {});
      expect({ status: neither.status, field: neither.body.field }).toEqual({ status: 400, field: 'identity_id' });
      const badInline = await own.post(`/connectors/${connector.id}/preview`, { identity: { username: '' } });
      expect({ status: badInline.status, field: badInline.body.field }).toEqual({ status: 400, field: 'identity.username' });
      const foreignIdentity = await t.caller().createIdentity();
      const notFound = await own.post(`/connectors/${connector.id}/preview`, { identity_id: foreignIdentity.id });
      expect(notFound.status).toBe(404);
    });
  });
});
