// A connector's mapping script runs through the shared script execution wherever its mapping applies:
// the preview (applied, throws, answers garbage, loops) and the operations an identity change creates,
// run against the project's SCIM server (in-process on a free port). Each run is a script_executions row.
import { randomBytes, randomUUID } from 'node:crypto';
import { ensureTenant } from '@provisio/persistence';
import { sleep } from '@provisio/platform/testing';
import { createScimServer } from '../../../../test/targets/scim-server';
import { Caller, ProvisioningTestApp, startProvisioningQueue } from '../testing/provisioning-app';
import { MAPPING_TRIGGER, MappingScriptFailed, MappingScriptRunner } from '@provisio/mapping-scripts';

async function settled<T>(probe: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
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
  { target: 'displayName', from: 'display_name' },
];

// Adds the title from the identity's department and the connector's name; keeps what the rules mapped.
const TITLE_SCRIPT = `export default async ({ identity, attributes, connector, items, batch }) => {
  const one = (i) => ({ ...i.attributes, title: String(i.identity.attributes.department).toUpperCase() + ' via ' + connector.type });
  return batch ? items.map(one) : one({ identity, attributes });
}`;

describe('provisioning-queue: connector mapping scripts (real stack)', () => {
  let t: ProvisioningTestApp;
  let own: Caller;
  let organizationId: string;
  let scimUrl: string;
  let closeScim: () => Promise<void>;
  const scimUser = async (userName: string): Promise<{ userName: string; title?: string } | undefined> => {
    const response = await fetch(`${scimUrl}/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`, { headers: { authorization: `Bearer ${token}` } });
    return ((await response.json()) as { Resources?: { userName: string; title?: string }[] }).Resources?.[0];
  };
  const token = randomBytes(16).toString('hex');

  const script = async (source: string, limits: Record<string, unknown> = {}, version = 1, caller = own): Promise<string> =>
    (
      await t.db.dataSource.query(
        `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, current_version, resource_limits) VALUES ($1, $2, $3, $4, 'embedded', 'active', $5, $6) RETURNING id`,
        [caller.tenantId, caller === own ? organizationId : await ensureTenant(t.db.dataSource, caller.tenantId), `map-${randomUUID().slice(0, 8)}`, source, version, JSON.stringify(limits)],
      )
    )[0].id;
  const connector = (mappingScriptId: string, extra: Record<string, unknown> = {}, caller = own) =>
    caller.createConnector({ type: 'scim', config: { baseUrl: scimUrl, auth: 'bearer', limits: { timeoutMs: 5_000 } }, credentials: { token }, attribute_mapping: MAPPING, mapping_script_id: mappingScriptId, ...extra });
  const runsOf = (scriptId: string) =>
    t.db.dataSource.query(`SELECT status, error, trigger_type, connector_id, script_version, operation_id, trigger_data, output FROM script_executions WHERE script_id = $1 ORDER BY started_at`, [scriptId]);

  beforeAll(async () => {
    const scim = createScimServer({ token });
    const listening = await scim.listen(0);
    scimUrl = listening.url;
    closeScim = listening.close;
    t = await startProvisioningQueue({ PROVISIONING_RETRY_BASE_MS: '100', PROVISIONING_RETRY_MAX_MS: '400', PROVISIONING_SWEEP_INTERVAL_MS: '500' });
    own = t.caller();
    organizationId = await ensureTenant(t.db.dataSource, own.tenantId);
  });

  afterAll(async () => {
    await t?.close();
    await closeScim?.();
  });

  describe('preview', () => {
    it("applies the script to the mapped attributes and reports its version; the run is recorded (trigger api, connector_id)", async () => {
      const scriptId = await script(TITLE_SCRIPT, {}, 4);
      const c = await connector(scriptId);
      const preview = await own.post(`/connectors/${c.id}/preview`, { identity: { username: 'zoe', display_name: 'Zoë', attributes: { department: 'finance' } } });
      expect(preview.status).toBe(200);
      expect(preview.body).toMatchObject({
        attributes: { userName: 'zoe', displayName: 'Zoë', title: 'FINANCE via scim' },
        mapping_script_id: scriptId,
        mapping_script_applied: true,
        mapping_script_version: 4,
        mapping_script_execution_id: expect.any(String),
      });
      expect(await runsOf(scriptId)).toEqual([
        expect.objectContaining({ status: 'completed', trigger_type: MAPPING_TRIGGER, connector_id: c.id, script_version: 4, trigger_data: expect.objectContaining({ kind: 'connector_mapping', preview: true }) }),
      ]);
    });

    it('answers 422 naming the script when it throws, answers no object of attributes, or loops past its limit', async () => {
      const cases: [string, Record<string, unknown>, RegExp][] = [
        ['export default async () => { throw new Error("no cost centre for this user") }', {}, /failed: .*no cost centre for this user/],
        ['export default async () => "just a string"', {}, /answered no attributes: it returned a string/],
        ['export default async () => [1, 2]', {}, /answered no attributes: it returned an array/],
        ['export default async () => ({ "not a name!": 1 })', {}, /answered no attributes: attribute not a name!/],
        ['export default async () => null', {}, /answered no attributes: it returned nothing/],
        ['export default async () => { for (;;) {} }', { max_execution_time_ms: 300 }, /timeout/],
      ];
      for (const [source, limits, message] of cases) {
        const scriptId = await script(source, limits);
        const c = await connector(scriptId);
        const started = Date.now();
        const response = await own.post(`/connectors/${c.id}/preview`, { identity: { username: 'zoe', attributes: {} } });
        expect({ source, status: response.status, code: response.body.code, field: response.body.field }).toEqual({ source, status: 422, code: 'mapping_script_failed', field: 'mapping_script_id' });
        expect(response.body.message).toContain(scriptId);
        expect(response.body.message).toMatch(message);
        expect(Date.now() - started).toBeLessThan(10_000);
        expect((await runsOf(scriptId)).map((r: { trigger_type: string; connector_id: string }) => [r.trigger_type, r.connector_id])).toEqual([[MAPPING_TRIGGER, c.id]]);
      }
    });

    it('without a mapping script the rules alone answer and nothing runs', async () => {
      const c = await own.createConnector({ type: 'scim', config: { baseUrl: scimUrl, auth: 'bearer' }, credentials: { token }, attribute_mapping: MAPPING });
      const preview = await own.post(`/connectors/${c.id}/preview`, { identity: { username: 'al', attributes: {} } });
      expect(preview.body).toMatchObject({ attributes: { userName: 'al' }, mapping_script_applied: false, mapping_script_version: null, mapping_script_execution_id: null });
    });
  });

  describe('operations', () => {
    it("an identity change creates an operation whose account in the SCIM target carries the script's attribute", async () => {
      const scriptId = await script(TITLE_SCRIPT, {}, 2);
      const c = await connector(scriptId);
      const username = `zoe-${randomUUID().slice(0, 6)}`;
      const identity = await own.createIdentity({ username, attributes: { department: 'audit' } });
      const op = await settled(async () => {
        const [found] = (await own.get('/operations', { user_id: identity.id, connector_id: c.id }).expect(200)).body.items;
        expect(found?.status).toBe('completed');
        return found;
      });
      expect((await scimUser(username))?.title).toBe('AUDIT via scim');
      const runs = await runsOf(scriptId);
      expect(runs).toEqual([expect.objectContaining({ status: 'completed', trigger_type: MAPPING_TRIGGER, connector_id: c.id, script_version: 2, operation_id: op.id })]);

      // A change the rules do not map (the department) still updates the account: the script reads it.
      await own.patch(`/identities/${identity.id}`, { attributes: { department: 'legal' } }).expect(200);
      await settled(async () => expect((await scimUser(username))?.title).toBe('LEGAL via scim'));
    });

    it('a script that throws fails the operation permanently (dead letter) with an error naming the script; nothing is written', async () => {
      const other = t.caller(); // a tenant of its own: no other connector of this suite provisions the identity
      const scriptId = await script('export default async () => { throw new Error("refusing this one") }', {}, 1, other);
      const c = await connector(scriptId, {}, other);
      const username = `cy-${randomUUID().slice(0, 6)}`;
      const identity = await other.createIdentity({ username, attributes: { department: 'x' } });
      const op = await settled(async () => {
        const [found] = (await other.get('/operations', { user_id: identity.id, connector_id: c.id }).expect(200)).body.items;
        expect(found?.status).toBe('dead_letter');
        return found;
      });
      expect(op.error_message).toContain(`mapping script ${scriptId}`);
      expect(op.error_message).toContain('refusing this one');
      expect(op.retry_count).toBe(0);
      expect(await scimUser(username)).toBeUndefined();
    });
  });

  describe('batch entry (the reconciler)', () => {
    it('maps many identities in one sandbox run: the script receives an array and answers one object per identity', async () => {
      const scriptId = await script(TITLE_SCRIPT, {}, 3);
      const c = await connector(scriptId);
      const runner = t.app.get(MappingScriptRunner);
      const inputs = ['a', 'b', 'c'].map((d) => ({ identity: { username: d, status: 'active', attributes: { department: d } }, attributes: { userName: d } }));
      const run = await runner.applyMany(own.tenantId, scriptId, { id: c.id, name: c.name, type: 'scim' }, inputs);
      expect(run.attributes).toEqual(['A', 'B', 'C'].map((d) => ({ userName: d.toLowerCase(), title: `${d} via scim` })));
      expect(await runsOf(scriptId)).toEqual([expect.objectContaining({ status: 'completed', trigger_type: MAPPING_TRIGGER, connector_id: c.id, trigger_data: expect.objectContaining({ batch_size: 3 }) })]);

      const short = await script('export default async ({ items }) => items.slice(1).map((i) => i.attributes)');
      await expect(runner.applyMany(own.tenantId, short, { id: c.id, name: c.name, type: 'scim' }, inputs)).rejects.toThrow(new MappingScriptFailed(short, `mapping script ${short} (v1) answered no attributes: a batch run returned 2 answers for 3 identities`));
    });
  });
});
