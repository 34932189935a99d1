import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { EventType, Permission } from '@provisio/contracts';
import { TEMPLATE_CATEGORIES } from '@provisio/persistence';
import { Caller, RegistryTestApp, startRegistry } from '../common/testing/registry-app';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Body = Record<string, any>;

/** What a hook sees for a new hire (docs/script-api.md). */
const HOOK_CONTEXT = {
  operation: { type: 'create', attributes: {} },
  identity: {
    id: 'u-7',
    first_name: 'josé',
    last_name: 'MÜLLER-Łukasz',
    middle_name: null,
    email: 'jose@corp.example',
    username: 'jmuller',
    department: 'engineering',
    title: 'Engineer',
    employee_id: 7,
    employment_type: 'employee',
    start_date: '2024-03-05T10:00:00Z',
    end_date: null,
  },
  connector: { id: 'c-1', type: 'ldap', settings: {} },
};

/** Values for the system templates' required placeholders (those without a default). */
const REQUIRED_VALUES: Record<string, unknown> = { mail_domain: 'corp.example', base_dn: 'dc=corp,dc=example', hook_name: 'onboarding-hook' };

/** What each system template answers for HOOK_CONTEXT with its defaults. */
const EXPECTED_OUTPUT: Record<string, unknown> = {
  'Username generation': { attributes: { uid: 'jose.mullerlukasz' } },
  'Email address generation': { attributes: { mail: 'jose.mullerlukasz@corp.example' } },
  'Attribute mapping': { attributes: { objectClass: ['inetOrgPerson'], uid: 'jmuller', givenName: 'josé', sn: 'MÜLLER-Łukasz', mail: 'jose@corp.example', title: 'Engineer', employeeNumber: 7 } },
  'Department to OU mapping': { attributes: { ou: 'engineering', dn: 'uid=jose.mullerlukasz,ou=engineering,dc=corp,dc=example' } },
  'Conditional group assignment': { attributes: { groups: ['all-users', 'developers', 'staff'] } },
  'Skip provisioning by condition': { skip: false },
  'Date formatting': { attributes: { startDate: '20240305', accountExpires: null } },
  'Display name normalisation': { attributes: { displayName: 'José Müller-Łukasz' } },
  'Custom hook skeleton': { attributes: {}, settings: {} },
};

const template = (overrides: Body = {}): Body => ({
  name: `tpl-${randomUUID().slice(0, 8)}`,
  category: 'value_generation',
  description: 'Greets',
  template_body: 'const GREETING = {{greeting}};\nconst TIMES = {{times}};\nexport default async (ctx) => ({ text: GREETING.repeat(TIMES) + (ctx.input?.name ?? "") });',
  placeholder_annotations: [
    { name: 'greeting', type: 'string', description: 'What to say', required: true },
    { name: 'times', type: 'integer', required: false, default: 1 },
  ],
  ...overrides,
});

describe('script-registry: templates', () => {
  let t: RegistryTestApp;
  let alice: Caller;
  let system: Body[];
  const q = (sql: string, params: unknown[] = []) => t.db.dataSource.query(sql, params);
  const create = async (caller: Caller, overrides: Body = {}) => {
    const response = await caller.post('/templates', template(overrides));
    if (response.status !== 201) throw new Error(`create template: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body as Body;
  };

  beforeAll(async () => {
    t = await startRegistry();
    alice = t.caller({ subject: 'alice' });
    system = (await alice.get('/templates', { is_system: 'true', limit: 200 }).expect(200)).body.items;
  });
  afterAll(async () => t?.close());

  describe('system templates', () => {
    it('ships at least eight, covering the five categories, visible to every tenant and read-only', async () => {
      expect(system.length).toBeGreaterThanOrEqual(8);
      expect(new Set(system.map((s) => s.category))).toEqual(new Set(TEMPLATE_CATEGORIES));
      for (const s of system) {
        expect(s).toMatchObject({ tenant_id: null, is_system: true, created_by: null });
        expect(JSON.parse(s.placeholder_annotations)).toEqual(s.placeholders);
      }
      const other = t.caller().with([Permission.TemplateRead]);
      const seen = (await other.get('/templates', { limit: 200 }).expect(200)).body;
      expect(seen.items.map((s: Body) => s.id)).toEqual(expect.arrayContaining(system.map((s) => s.id)));
      expect((await other.get(`/templates/${system[0].id}`).expect(200)).body.name).toBe(system[0].name);
    });

    it('cannot be changed or deleted (409 is_system), by anyone', async () => {
      for (const s of system.slice(0, 2)) {
        expect((await alice.patch(`/templates/${s.id}`, { description: 'mine now' }).expect(409)).body).toMatchObject({ code: 'conflict', field: 'is_system' });
        expect((await alice.delete(`/templates/${s.id}`).expect(409)).body).toMatchObject({ code: 'conflict', field: 'is_system' });
      }
      const [row] = await q('SELECT description FROM script_templates WHERE id = $1', [system[0].id]);
      expect(row.description).toBe(system[0].description);
    });

    it('each becomes a valid script once filled, and runs against a hook context', async () => {
      expect(Object.keys(EXPECTED_OUTPUT).sort()).toEqual(system.map((s) => s.name).sort());
      for (const s of system) {
        const values = Object.fromEntries(s.placeholders.filter((p: Body) => p.required && !('default' in p)).map((p: Body) => [p.name, REQUIRED_VALUES[p.name]]));
        const created = await alice.post(`/templates/${s.id}/instantiate`, { name: `from-${s.name}`, placeholder_values: values });
        expect({ template: s.name, status: created.status }).toEqual({ template: s.name, status: 201 });
        expect(created.body).toMatchObject({ type: 'embedded', status: 'draft', current_version: 1, template_id: s.id });
        expect(created.body.source).not.toMatch(/\{\{/);
        const validated = await alice.post(`/scripts/${created.body.id}/validate`).expect(200);
        expect({ template: s.name, ...validated.body }).toMatchObject({ template: s.name, valid: true, errors: [], warnings: [] });
        const run = await alice.post(`/scripts/${created.body.id}/dry-run`, { context: HOOK_CONTEXT }).expect(200);
        expect({ template: s.name, success: run.body.success, error: run.body.error }).toEqual({ template: s.name, success: true, error: null });
        expect({ template: s.name, output: JSON.parse(run.body.output) }).toEqual({ template: s.name, output: EXPECTED_OUTPUT[s.name] });
      }
    });

    it('skips by condition and maps unknown departments to the default OU', async () => {
      const byName = (name: string) => system.find((s) => s.name === name)!;
      const skip = await alice.post(`/templates/${byName('Skip provisioning by condition').id}/instantiate`, { name: 'skip-contractors' }).expect(201);
      const contractor = { ...HOOK_CONTEXT, identity: { ...HOOK_CONTEXT.identity, employment_type: 'Contractor' } };
      expect(JSON.parse((await alice.post(`/scripts/${skip.body.id}/dry-run`, { context: contractor }).expect(200)).body.output)).toEqual({ skip: true, reason: 'not provisioned to this system' });
      const ou = await alice.post(`/templates/${byName('Department to OU mapping').id}/instantiate`, { name: 'ou', placeholder_values: { base_dn: 'dc=x', default_ou: 'staff' } }).expect(201);
      const nowhere = { ...HOOK_CONTEXT, identity: { ...HOOK_CONTEXT.identity, department: 'Catering' } };
      const run = (await alice.post(`/scripts/${ou.body.id}/dry-run`, { context: nowhere }).expect(200)).body;
      expect(JSON.parse(run.output)).toEqual({ attributes: { ou: 'staff', dn: 'uid=jose.mullerlukasz,ou=staff,dc=x' } });
      expect(run.logs).toEqual([expect.objectContaining({ level: 'warn', message: expect.stringMatching(/no OU for department "Catering"/) })]);
    });
  });

  describe('tenant templates', () => {
    it('creates one with annotations as a list, an object or a JSON string, and audits it', async () => {
      const created = await create(alice);
      expect(created).toMatchObject({ tenant_id: alice.tenantId, is_system: false, created_by: 'alice', category: 'value_generation', description: 'Greets' });
      expect(created.placeholders).toEqual([
        { name: 'greeting', type: 'string', description: 'What to say', required: true },
        { name: 'times', type: 'integer', description: null, required: false, default: 1 },
      ]);
      expect(JSON.parse(created.placeholder_annotations)).toEqual(created.placeholders);
      const asObject = await create(alice, { placeholder_annotations: { greeting: { description: 'What to say' }, times: { type: 'integer', required: false, default: 1 } } });
      expect(asObject.placeholders).toEqual([
        { name: 'greeting', type: 'string', description: 'What to say', required: true },
        { name: 'times', type: 'integer', description: null, required: false, default: 1 },
      ]);
      const asString = await create(alice, { placeholder_annotations: JSON.stringify(template().placeholder_annotations) });
      expect(asString.placeholders).toEqual(created.placeholders);
      const audit = await q(`SELECT action, script_id, actor_id, details FROM audit_events WHERE entity_type = 'script_template' AND entity_id = $1`, [created.id]);
      expect(audit).toEqual([{ action: 'create', script_id: null, actor_id: 'alice', details: { after: { name: created.name, description: 'Greets', category: 'value_generation', placeholders: ['greeting', 'times'] } } }]);
    });

    it.each([
      [{ category: 'misc' }, 'category', /category must be one of/],
      [{ name: '' }, 'name', /name/],
      [{ template_body: 42 }, 'template_body', /template_body/],
      [{ is_system: true }, 'is_system', /should not exist/],
      [{ placeholder_annotations: [{ name: 'greeting' }, { name: 'times', type: 'integer' }, { name: 'unused' }] }, 'placeholder_annotations', /describes \{\{unused\}\}, which template_body does not use/],
      [{ placeholder_annotations: [{ name: 'greeting' }] }, 'placeholder_annotations', /uses \{\{times\}\}, which placeholder_annotations does not describe/],
      [{ placeholder_annotations: [{ name: 'greeting', type: 'colour' }, { name: 'times' }] }, 'placeholder_annotations', /type must be one of/],
      [{ placeholder_annotations: [{ name: 'greeting' }, { name: 'times', type: 'integer', default: 'x' }] }, 'placeholder_annotations', /default must be an integer/],
      [{ placeholder_annotations: 'not json' }, 'placeholder_annotations', /JSON/],
      [{ template_body: 'const X = {{greeting}};\nexport default async () => {', placeholder_annotations: [{ name: 'greeting' }] }, 'template_body', /does not compile once its placeholders are filled: line 2/],
    ])('refuses %j (400 %s)', async (overrides, field, message) => {
      const before = await q('SELECT count(*)::int AS n FROM script_templates');
      const response = await alice.post('/templates', template(overrides)).expect(400);
      expect(response.body).toMatchObject({ code: 'validation_failed', field, message: expect.stringMatching(message) });
      expect(await q('SELECT count(*)::int AS n FROM script_templates')).toEqual(before);
    });

    it('keeps names unique per tenant (409 name), not across tenants', async () => {
      const first = await create(alice);
      expect((await alice.post('/templates', template({ name: first.name })).expect(409)).body).toMatchObject({ code: 'conflict', field: 'name' });
      await create(t.caller(), { name: first.name });
      // A tenant template may share a system template's name.
      await create(alice, { name: system[0].name });
    });

    it('changes fields; a new body is checked against the annotations; audits the change', async () => {
      const created = await create(alice);
      const renamed = await alice.patch(`/templates/${created.id}`, { name: `${created.name}-2`, category: 'custom', description: null }).expect(200);
      expect(renamed.body).toMatchObject({ name: `${created.name}-2`, category: 'custom', description: null, template_body: created.template_body });

      const newBody = 'const GREETING = {{greeting}};\nconst EXCLAIM = {{exclaim}};\nexport default async () => GREETING + (EXCLAIM ? "!" : "");';
      expect((await alice.patch(`/templates/${created.id}`, { template_body: newBody }).expect(400)).body).toMatchObject({ field: 'placeholder_annotations', message: 'placeholder_annotations describes {{times}}, which template_body does not use; template_body uses {{exclaim}}, which placeholder_annotations does not describe' });
      const changed = await alice
        .patch(`/templates/${created.id}`, { template_body: newBody, placeholder_annotations: [{ name: 'greeting' }, { name: 'exclaim', type: 'boolean', default: true }] })
        .expect(200);
      expect(changed.body.placeholders.map((p: Body) => p.name)).toEqual(['greeting', 'exclaim']);
      expect((await alice.patch(`/templates/${created.id}`, {}).expect(400)).body.code).toBe('validation_failed');
      expect((await alice.patch(`/templates/${created.id}`, { name: null }).expect(400)).body.field).toBe('name');

      const audit = await q(`SELECT action, details FROM audit_events WHERE entity_type = 'script_template' AND entity_id = $1 ORDER BY created_at`, [created.id]);
      expect(audit.map((a: Body) => a.action)).toEqual(['create', 'update', 'update']);
      expect(audit[1].details).toEqual({
        changed: ['name', 'description', 'category'],
        before: { name: created.name, description: 'Greets', category: 'value_generation' },
        after: { name: `${created.name}-2`, description: null, category: 'custom' },
      });
      expect(audit[2].details).toEqual({ changed: ['template_body', 'placeholder_annotations'], before: { placeholder_annotations: ['greeting', 'times'] }, after: { placeholder_annotations: ['greeting', 'exclaim'] } });
    });

    it('lists own and system templates, filtered by category, origin and text', async () => {
      const caller = t.caller();
      const mine = await create(caller, { name: 'Welcome greeter', category: 'custom', description: 'Says hello to new hires' });
      const all = (await caller.get('/templates', { limit: 200 }).expect(200)).body;
      expect(all).toMatchObject({ total: system.length + 1, limit: 200, offset: 0 });
      expect(all.items.slice(0, system.length).every((s: Body) => s.is_system)).toBe(true);
      expect((await caller.get('/templates', { is_system: 'false' }).expect(200)).body.items.map((s: Body) => s.id)).toEqual([mine.id]);
      const custom = (await caller.get('/templates', { category: 'custom,data_formatting' }).expect(200)).body.items;
      expect(custom.every((s: Body) => ['custom', 'data_formatting'].includes(s.category))).toBe(true);
      expect(custom.map((s: Body) => s.id)).toContain(mine.id);
      expect((await caller.get('/templates', { q: 'NEW HIRES' }).expect(200)).body.items.map((s: Body) => s.id)).toEqual([mine.id]);
      expect((await caller.get('/templates', { q: '100%_' }).expect(200)).body.total).toBe(0);
      const paged = (await caller.get('/templates', { limit: 2, offset: 1 }).expect(200)).body;
      expect(paged).toMatchObject({ limit: 2, offset: 1, total: system.length + 1 });
      expect(paged.items).toHaveLength(2);
      expect((await caller.get('/templates', { category: 'misc' }).expect(400)).body.field).toBe('category');
      expect((await caller.get('/templates', { is_system: 'yes' }).expect(400)).body.field).toBe('is_system');
    });

    it("keeps other tenants' templates out of reach (404, absent from lists)", async () => {
      const theirs = await create(t.caller());
      expect((await alice.get(`/templates/${theirs.id}`).expect(404)).body.code).toBe('not_found');
      await alice.patch(`/templates/${theirs.id}`, { description: 'x' }).expect(404);
      await alice.delete(`/templates/${theirs.id}`).expect(404);
      await alice.post(`/templates/${theirs.id}/instantiate`, { name: 'stolen', placeholder_values: { greeting: 'hi' } }).expect(404);
      expect((await alice.get('/templates', { limit: 200 }).expect(200)).body.items.map((s: Body) => s.id)).not.toContain(theirs.id);
      expect((await alice.get('/templates/not-a-uuid').expect(400)).body.field).toBe('id');
    });
  });

  describe('instantiate', () => {
    it('creates the script exactly as POST /scripts does, from the filled template, and records where it came from', async () => {
      const tpl = await create(alice);
      const outboxBefore = (await q('SELECT count(*)::int AS n FROM outbox'))[0].n;
      const response = await alice.post(`/templates/${tpl.id}/instantiate`, { name: 'greeter', placeholder_values: { greeting: 'hi "there"; ' }, tags: ['onboarding'] }).expect(201);
      const script = response.body;
      expect(script).toMatchObject({
        name: 'greeter',
        type: 'embedded',
        status: 'draft',
        current_version: 1,
        template_id: tpl.id,
        tags: ['onboarding'],
        description: 'Greets',
        created_by: 'alice',
        tenant_id: alice.tenantId,
      });
      // Values are JavaScript literals: quotes and semicolons stay inside the string.
      expect(script.source).toBe(tpl.template_body.replace('{{greeting}}', JSON.stringify('hi "there"; ')).replace('{{times}}', '1'));
      const run = await alice.post(`/scripts/${script.id}/dry-run`, { context: { input: { name: 'Ann' } } }).expect(200);
      expect(JSON.parse(run.body.output)).toEqual({ text: 'hi "there"; Ann' });

      const versions = await q('SELECT version_number, change_description FROM script_versions WHERE script_id = $1', [script.id]);
      expect(versions).toEqual([{ version_number: 1, change_description: `Created from template "${tpl.name}"` }]);
      const audit = await q('SELECT action, entity_type, entity_id, details FROM audit_events WHERE script_id = $1 ORDER BY created_at, action', [script.id]);
      expect(audit).toEqual([
        expect.objectContaining({ action: 'create', entity_type: 'script', entity_id: script.id }),
        {
          action: 'instantiate',
          entity_type: 'script_template',
          entity_id: tpl.id,
          details: { template_name: tpl.name, is_system: false, script_name: 'greeter', values_given: ['greeting'], defaults_used: ['times'] },
        },
      ]);
      const events = await q(`SELECT event_type, payload->'data' AS data FROM outbox ORDER BY seq OFFSET $1`, [outboxBefore]);
      expect(events).toEqual([{ event_type: EventType.ScriptChanged, data: { script_id: script.id, change: 'created', status: 'draft', current_version: 1 } }]);
    });

    it('takes the type, fields and rules of POST /scripts, and status active with script:manage', async () => {
      const tpl = await create(alice);
      const event = await alice.post(`/templates/${tpl.id}/instantiate`, { name: 'on-event', type: 'event', event_types: ['user.created'], placeholder_values: { greeting: 'x' } }).expect(201);
      expect(event.body).toMatchObject({ type: 'event', event_types: ['user.created'] });
      expect((await alice.post(`/templates/${tpl.id}/instantiate`, { name: 'no-cron', type: 'scheduled', placeholder_values: { greeting: 'x' } }).expect(400)).body.field).toBe('cron_expression');

      const active = await alice.post(`/templates/${tpl.id}/instantiate`, { name: 'live', status: 'active', placeholder_values: { greeting: 'x' } }).expect(201);
      expect(active.body.status).toBe('active');
      const writer = alice.with([Permission.ScriptWrite]);
      const refused = await writer.post(`/templates/${tpl.id}/instantiate`, { name: 'live-2', status: 'active', placeholder_values: { greeting: 'x' } }).expect(403);
      expect(refused.body.code).toBe('forbidden');
      expect(await q(`SELECT 1 FROM scripts WHERE tenant_id = $1 AND name = 'live-2'`, [alice.tenantId])).toEqual([]);
      // script:write alone instantiates (a draft), including from a system template.
      const mapping = system.find((s) => s.name === 'Attribute mapping')!;
      await writer.post(`/templates/${mapping.id}/instantiate`, { name: 'from-system' }).expect(201);
    });

    it('switches an instantiated event script on in the same transaction: subscribed at once, one created event, audit create + instantiate', async () => {
      const tpl = await create(alice);
      const outboxBefore = (await q('SELECT count(*)::int AS n FROM outbox'))[0].n;
      const script = (
        await alice.post(`/templates/${tpl.id}/instantiate`, { name: `live-${randomUUID().slice(0, 6)}`, type: 'event', event_types: ['user.created'], status: 'active', placeholder_values: { greeting: 'x' } }).expect(201)
      ).body;
      expect(script).toMatchObject({ status: 'active', template_id: tpl.id, current_version: 1 });
      expect(await q('SELECT event_type, is_active FROM script_event_subscriptions WHERE script_id = $1', [script.id])).toEqual([{ event_type: 'user.created', is_active: true }]);
      const audit = await q('SELECT action, details FROM audit_events WHERE script_id = $1 ORDER BY created_at, action', [script.id]);
      expect(audit.map((a: Body) => a.action)).toEqual(['create', 'instantiate']);
      expect(audit[0].details.after.status).toBe('active');
      const events = await q(`SELECT payload->'data' AS data FROM outbox ORDER BY seq OFFSET $1`, [outboxBefore]);
      expect(events).toEqual([{ data: { script_id: script.id, change: 'created', status: 'active', current_version: 1 } }]);
    });

    it.each([
      [{ name: 'x' }, 'placeholder_values.greeting', /is required/],
      [{ name: 'x', placeholder_values: { greeting: 5 } }, 'placeholder_values.greeting', /must be a string/],
      [{ name: 'x', placeholder_values: { greeting: 'hi', times: 1.5 } }, 'placeholder_values.times', /must be an integer/],
      [{ name: 'x', placeholder_values: { greeting: 'hi', colour: 'red' } }, 'placeholder_values.colour', /no placeholder \{\{colour\}\}/],
      [{ name: 'x', placeholder_values: [1] }, 'placeholder_values', /JSON object/],
      [{ name: 'x', placeholder_values: { greeting: 'hi' }, status: 'paused' }, 'status', /status must be one of/],
      [{ name: 'x', placeholder_values: { greeting: 'hi' }, source: 'export default 1' }, 'source', /should not exist/],
      [{ placeholder_values: { greeting: 'hi' } }, 'name', /name/],
    ])('refuses %j (400 %s) and writes nothing', async (body, field, message) => {
      const tpl = await create(alice);
      const before = await q('SELECT (SELECT count(*) FROM scripts)::int AS s, (SELECT count(*) FROM audit_events)::int AS a, (SELECT count(*) FROM outbox)::int AS o');
      const response = await alice.post(`/templates/${tpl.id}/instantiate`, body).expect(400);
      expect(response.body).toMatchObject({ code: 'validation_failed', field, message: expect.stringMatching(message) });
      expect(await q('SELECT (SELECT count(*) FROM scripts)::int AS s, (SELECT count(*) FROM audit_events)::int AS a, (SELECT count(*) FROM outbox)::int AS o')).toEqual(before);
    });

    it('answers 409 for a taken script name, and 404 for an unknown template', async () => {
      const tpl = await create(alice);
      const taken = await alice.createScript();
      expect((await alice.post(`/templates/${tpl.id}/instantiate`, { name: taken.name, placeholder_values: { greeting: 'x' } }).expect(409)).body.field).toBe('name');
      await alice.post(`/templates/${randomUUID()}/instantiate`, { name: 'x', placeholder_values: { greeting: 'x' } }).expect(404);
    });

    it('deleting a template keeps the scripts made from it (template_id becomes null)', async () => {
      const tpl = await create(alice);
      const script = (await alice.post(`/templates/${tpl.id}/instantiate`, { name: `keep-${randomUUID().slice(0, 6)}`, placeholder_values: { greeting: 'x' } }).expect(201)).body;
      await alice.delete(`/templates/${tpl.id}`).expect(204);
      await alice.get(`/templates/${tpl.id}`).expect(404);
      expect((await alice.get(`/scripts/${script.id}`).expect(200)).body).toMatchObject({ template_id: null, source: script.source });
      const [audit] = await q(`SELECT details FROM audit_events WHERE entity_type = 'script_template' AND entity_id = $1 AND action = 'delete'`, [tpl.id]);
      expect(audit.details.before).toMatchObject({ name: tpl.name });
    });
  });

  it('needs a token and the permission of each endpoint', async () => {
    const tpl = await create(alice);
    const server = t.app.getHttpServer();
    expect((await request(server).get('/templates')).status).toBe(401);
    expect((await request(server).post(`/templates/${tpl.id}/instantiate`).send({ name: 'x' })).status).toBe(401);
    const reader = alice.with([Permission.TemplateRead]);
    await reader.get(`/templates/${tpl.id}`).expect(200);
    await reader.post('/templates', template()).expect(403);
    await reader.patch(`/templates/${tpl.id}`, { description: 'x' }).expect(403);
    await reader.delete(`/templates/${tpl.id}`).expect(403);
    await reader.post(`/templates/${tpl.id}/instantiate`, { name: 'x', placeholder_values: { greeting: 'x' } }).expect(403);
    const writer = alice.with([Permission.TemplateWrite]);
    await writer.get('/templates').expect(403);
    await writer.patch(`/templates/${tpl.id}`, { description: 'x' }).expect(200);
    const manager = alice.with([Permission.TemplateManage]);
    await manager.get('/templates').expect(200);
    await manager.delete(`/templates/${tpl.id}`).expect(204);
  });
});
