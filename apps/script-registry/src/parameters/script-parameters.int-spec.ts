import { Permission } from '@provisio/contracts';
import { Caller, RegistryTestApp, startRegistry } from '../common/testing/registry-app';

describe('script-registry: typed script parameters (seed 004)', () => {
  let t: RegistryTestApp;
  let own: Caller;

  beforeAll(async () => {
    t = await startRegistry();
    own = t.caller();
  });
  afterAll(async () => t?.close());

  const ALL_FIELDS = {
    name: 'target',
    label: 'Target system',
    description: 'Where accounts go',
    type: 'select',
    required: true,
    default_value: 'ldap',
    is_secret: false,
    validation_rules: {},
    options: [{ value: 'ldap', label: 'LDAP' }, { value: 'scim', label: 'SCIM' }],
    placeholder: 'pick one',
    help_text: 'LDAP needs a base DN',
    group_name: 'Connection',
    is_advanced: false,
    display_order: 0,
  };

  it('stores every field, answers groups and the input schema, and keeps ids by name across a PUT', async () => {
    const script = await own.createScript();
    const body = {
      parameters: [
        ALL_FIELDS,
        { name: 'base_dn', type: 'string', required: true, depends_on: 'target', depends_on_condition: { equals: 'ldap' }, group_name: 'Connection', validation_rules: { pattern: '^(dc|ou)=', max_length: 200 } },
        { name: 'batch', type: 'integer', default_value: 50, validation_rules: { min: 1, max: 500 }, is_advanced: true },
        { name: 'bind_password', type: 'password', required: true, default_value: 'hunter2', group_name: 'Connection' },
      ],
    };
    const put = await own.put(`/scripts/${script.id}/parameters`, body).expect(200);
    expect(put.body.parameters).toHaveLength(4);
    expect(put.body.parameters[0]).toMatchObject({ ...ALL_FIELDS, script_id: script.id, tenant_id: own.tenantId, depends_on: null, depends_on_parameter_id: null, depends_on_condition: null });
    const [, baseDn, , password] = put.body.parameters;
    expect(baseDn).toMatchObject({ depends_on: 'target', depends_on_parameter_id: put.body.parameters[0].id, depends_on_condition: { equals: 'ldap' } });
    // A password is secret whatever is_secret says; its default is never answered.
    expect(password).toMatchObject({ is_secret: true, default_value: '********' });
    expect(put.body.groups).toEqual([
      { name: 'Connection', parameters: ['target', 'base_dn', 'bind_password'] },
      { name: null, parameters: ['batch'] },
    ]);
    expect(put.body.input_schema).toMatchObject({ type: 'object', additionalProperties: false, properties: { batch: { type: 'integer', minimum: 1, maximum: 500, default: 50 } } });
    // Stored encrypted: the plaintext is nowhere in the row.
    const [row] = await t.db.dataSource.query(`SELECT default_value::text AS stored FROM script_parameters WHERE script_id = $1 AND name = 'bind_password'`, [script.id]);
    expect(row.stored).toMatch(/^\{"\$sealed": "v1:test:/);
    expect(row.stored).not.toContain('hunter2');

    // GET answers the same; sending "********" back keeps the stored secret; ids stay by name.
    const get = await own.get(`/scripts/${script.id}/parameters`).expect(200);
    expect(get.body).toEqual(put.body);
    const again = await own.put(`/scripts/${script.id}/parameters`, { parameters: [...body.parameters.slice(0, 3), { ...body.parameters[3], default_value: '********' }] }).expect(200);
    expect(again.body.parameters.map((p: { id: string }) => p.id)).toEqual(put.body.parameters.map((p: { id: string }) => p.id));
    const [kept] = await t.db.dataSource.query(`SELECT default_value::text AS stored FROM script_parameters WHERE script_id = $1 AND name = 'bind_password'`, [script.id]);
    expect(kept.stored).toBe(row.stored);

    // Parameters left out are deleted; the change is audited without values.
    const fewer = await own.put(`/scripts/${script.id}/parameters`, { parameters: [{ name: 'batch', type: 'integer' }] }).expect(200);
    expect(fewer.body.parameters.map((p: { name: string }) => p.name)).toEqual(['batch']);
    const audits = await t.db.dataSource.query(`SELECT details::text AS details FROM audit_events WHERE entity_id = $1 AND action = 'update_parameters'`, [script.id]);
    expect(audits).toHaveLength(3);
    expect(audits.map((a: { details: string }) => a.details).join()).not.toContain('hunter2');
  });

  it('refuses definitions that cannot work with 400 naming the field, and writes nothing', async () => {
    const script = await own.createScript();
    const cases: [unknown, string][] = [
      [{ name: 'a', type: 'colour' }, 'parameters.0.type'],
      [{ name: '1a', type: 'string' }, 'parameters.0.name'],
      [{ name: 'a', type: 'select' }, 'parameters.0.options'],
      [{ name: 'a', type: 'integer', default_value: 'ten' }, 'parameters.0.default_value'],
      [{ name: 'a', type: 'string', validation_rules: { pattern: '([a-z]+)*$' } }, 'parameters.0.validation_rules.pattern'],
      [{ name: 'a', type: 'string', depends_on: 'ghost', depends_on_condition: { equals: 1 } }, 'parameters.0.depends_on'],
    ];
    for (const [parameter, field] of cases) {
      const response = await own.put(`/scripts/${script.id}/parameters`, { parameters: [parameter] }).expect(400);
      expect(response.body.field).toBe(field);
    }
    const twice = await own.put(`/scripts/${script.id}/parameters`, { parameters: [{ name: 'a', type: 'string' }, { name: 'a', type: 'text' }] }).expect(400);
    expect(twice.body.field).toBe('parameters.1.name');
    expect((await own.get(`/scripts/${script.id}/parameters`).expect(200)).body.parameters).toEqual([]);
  });

  it('is tenant-scoped and permission-checked', async () => {
    const script = await own.createScript();
    const stranger = t.caller();
    expect((await stranger.get(`/scripts/${script.id}/parameters`)).status).toBe(404);
    expect((await stranger.put(`/scripts/${script.id}/parameters`, { parameters: [] })).status).toBe(404);
    expect((await own.with([Permission.ScriptRead]).put(`/scripts/${script.id}/parameters`, { parameters: [] })).status).toBe(403);
  });

  it('without SCRIPT_SECRETS_KEYS a secret default is refused (409 naming the parameter); other parameters work', async () => {
    const keyless = await startRegistry({ SCRIPT_SECRETS_KEYS: '' });
    try {
      const caller = keyless.caller();
      const script = await caller.createScript();
      const refused = await caller.put(`/scripts/${script.id}/parameters`, { parameters: [{ name: 'pw', type: 'password', default_value: 'x' }] }).expect(409);
      expect(refused.body).toMatchObject({ field: 'pw' });
      expect(refused.body.message).toMatch(/SCRIPT_SECRETS_KEYS/);
      await caller.put(`/scripts/${script.id}/parameters`, { parameters: [{ name: 'pw', type: 'password' }, { name: 'n', type: 'integer', default_value: 1 }] }).expect(200);
    } finally {
      await keyless.close();
    }
  });
});
