/**
 * Rows of the registry's security matrix (`security.int-spec.ts`) for the endpoints of templates, hook
 * bindings, validation, dry runs, execution logs and analytics. Tests only.
 *
 * Wiring (in security.int-spec.ts):
 *   1. `const ROWS: Row[] = [ ...script rows, ...FEATURE_SECURITY_ROWS ];`
 *   2. at the end of the matrix's `beforeAll`, once `t` and `fixture` exist:
 *      `await prepareFeatureSecurity(t, fixture);`
 * The rows have the matrix's row shape (route, permission, valid / foreign / malformed builders taking its
 * `Fixture`). What they need beyond the fixture — connectors (the registry has no API for them), tenant B's
 * template, binding and execution — is created by `prepareFeatureSecurity`, in the fixture's two tenants,
 * without touching tenant B's fixture script (the matrix checks it stays as it was).
 */
import { randomUUID } from 'node:crypto';
import type { Response } from 'supertest';
import type { SecurityRow as MatrixRow } from '@provisio/platform/testing';
import { Permission } from '@provisio/contracts';
import type { Caller, RegistryTestApp } from './registry-app';
import { createConnector, insertExecution } from './row-fixtures';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Script = Record<string, any>;
/** The matrix's fixture: a caller of tenant A with every permission, fresh scripts of A, and a script of tenant B. */
export interface MatrixFixture {
  own: Caller;
  ownScript(): Promise<Script>;
  foreign: Script;
}

/** The matrix's row shape (libs/platform/src/testing/security-matrix.ts). */
export type SecurityRow = MatrixRow<MatrixFixture>;

interface FeatureContext {
  t: RegistryTestApp;
  /** A connector of tenant A. */
  ownConnector: string;
  /** Tenant B's objects, none reachable from A. */
  foreignConnector: string;
  foreignTemplate: Script;
  foreignBinding: Script;
  foreignExecution: string;
}

let context: FeatureContext | undefined;

function ctx(): FeatureContext {
  if (!context) throw new Error('FEATURE_SECURITY_ROWS need prepareFeatureSecurity(t, fixture) in the matrix beforeAll');
  return context;
}

const ids = (response: Response): string[] => (response.body.items ?? []).map((item: { id?: string; script_id?: string }) => item.id ?? item.script_id);
const notListed = (id: () => string) => (response: Response) => {
  expect(response.status).toBe(200);
  expect(ids(response)).not.toContain(id());
};

const TEMPLATE_BODY = 'const GREETING = {{greeting}};\nexport default async () => GREETING;';
const templateBody = (name = `tpl-${randomUUID()}`) => ({
  name,
  category: 'custom',
  template_body: TEMPLATE_BODY,
  placeholder_annotations: [{ name: 'greeting', type: 'string', default: 'hi' }],
});

async function created(response: Promise<Response> | Response, what: string): Promise<Script> {
  const r = await response;
  if (r.status !== 201 && r.status !== 200) throw new Error(`part B fixture (${what}): ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as Script;
}

/** Creates what the rows need in the fixture's tenants. Call once, after the fixture exists. */
export async function prepareFeatureSecurity(t: RegistryTestApp, fixture: MatrixFixture): Promise<void> {
  const stranger = t.caller({ tenantId: fixture.foreign.tenant_id as string, subject: 'stranger' });
  const foreignConnector = await createConnector(t, stranger.tenantId);
  const foreignHook = await stranger.createScript({ type: 'embedded' });
  context = {
    t,
    ownConnector: await createConnector(t, fixture.own.tenantId),
    foreignConnector,
    foreignTemplate: await created(stranger.post('/templates', templateBody()), 'foreign template'),
    foreignBinding: await created(stranger.post('/bindings', { script_id: foreignHook.id, connector_id: foreignConnector, hook_phase: 'before', operation_type: 'create' }), 'foreign binding'),
    foreignExecution: await insertExecution(t, stranger.tenantId, fixture.foreign.id as string, { status: 'failed', error: 'foreign failure' }),
  };
}

const ownTemplate = async (f: MatrixFixture) => created(f.own.post('/templates', templateBody()), 'own template');
/** A binding of tenant A in a hook of its own (a new embedded script on A's connector). */
const ownBinding = async (f: MatrixFixture, operation_type = 'update') => {
  const script = await f.own.createScript({ type: 'embedded' });
  return created(f.own.post('/bindings', { script_id: script.id, connector_id: ctx().ownConnector, hook_phase: 'after', operation_type }), 'own binding');
};
const ownExecution = async (f: MatrixFixture) => insertExecution(ctx().t, f.own.tenantId, (await f.ownScript()).id, { status: 'completed' });

export const FEATURE_SECURITY_ROWS: SecurityRow[] = [
  // ---- templates ----------------------------------------------------------------------------
  {
    route: 'POST /templates',
    permission: Permission.TemplateWrite,
    valid: () => ({ path: '/templates', body: templateBody() }),
    // Names are per tenant: B's name is free in A, and the template lands in A.
    foreign: () => ({
      path: '/templates',
      body: templateBody(ctx().foreignTemplate.name),
      expect: (response, { own }) => expect({ status: response.status, tenant: response.body.tenant_id }).toEqual({ status: 201, tenant: own.tenantId }),
    }),
    malformed: () => ({ path: '/templates', body: { ...templateBody(), category: 'misc' }, field: 'category' }),
  },
  {
    route: 'GET /templates',
    permission: Permission.TemplateRead,
    valid: () => ({ path: '/templates' }),
    foreign: () => ({ path: '/templates', query: { q: ctx().foreignTemplate.name }, expect: notListed(() => ctx().foreignTemplate.id) }),
    malformed: () => ({ path: '/templates', query: { category: 'misc' }, field: 'category' }),
  },
  {
    route: 'GET /templates/:id',
    permission: Permission.TemplateRead,
    valid: async (f) => ({ path: `/templates/${(await ownTemplate(f)).id}` }),
    foreign: () => ({ path: `/templates/${ctx().foreignTemplate.id}` }),
    malformed: () => ({ path: '/templates/not-a-uuid', field: 'id' }),
  },
  {
    route: 'PATCH /templates/:id',
    permission: Permission.TemplateWrite,
    valid: async (f) => ({ path: `/templates/${(await ownTemplate(f)).id}`, body: { description: 'changed' } }),
    foreign: () => ({ path: `/templates/${ctx().foreignTemplate.id}`, body: { description: 'hijacked' } }),
    malformed: async (f) => ({ path: `/templates/${(await ownTemplate(f)).id}`, body: { category: 'misc' }, field: 'category' }),
  },
  {
    route: 'DELETE /templates/:id',
    permission: Permission.TemplateWrite,
    valid: async (f) => ({ path: `/templates/${(await ownTemplate(f)).id}` }),
    foreign: () => ({ path: `/templates/${ctx().foreignTemplate.id}` }),
    malformed: () => ({ path: '/templates/123', field: 'id' }),
  },
  {
    route: 'POST /templates/:id/instantiate',
    permission: Permission.ScriptWrite,
    valid: async (f) => ({ path: `/templates/${(await ownTemplate(f)).id}/instantiate`, body: { name: `from-template-${randomUUID()}` } }),
    foreign: () => ({ path: `/templates/${ctx().foreignTemplate.id}/instantiate`, body: { name: `stolen-${randomUUID()}` } }),
    malformed: async (f) => ({ path: `/templates/${(await ownTemplate(f)).id}/instantiate`, body: { name: 'x', placeholder_values: [1] }, field: 'placeholder_values' }),
  },
  // ---- hook bindings ------------------------------------------------------------------------
  {
    route: 'POST /bindings',
    permission: Permission.BindingWrite,
    valid: async (f) => ({
      path: '/bindings',
      body: { script_id: (await f.own.createScript({ type: 'embedded' })).id, connector_id: ctx().ownConnector, hook_phase: 'before', operation_type: 'create' },
    }),
    // Tenant B's script on A's connector: B's script is not found in A.
    foreign: (f) => ({ path: '/bindings', body: { script_id: f.foreign.id, connector_id: ctx().ownConnector, hook_phase: 'before', operation_type: 'delete' } }),
    malformed: async (f) => ({
      path: '/bindings',
      body: { script_id: (await f.own.createScript({ type: 'embedded' })).id, connector_id: ctx().ownConnector, hook_phase: 'during', operation_type: 'create' },
      field: 'hook_phase',
    }),
  },
  {
    route: 'GET /bindings',
    permission: Permission.BindingRead,
    valid: () => ({ path: '/bindings' }),
    foreign: () => ({ path: '/bindings', query: { connector_id: ctx().foreignConnector }, expect: notListed(() => ctx().foreignBinding.id) }),
    malformed: () => ({ path: '/bindings', query: { enabled: 'maybe' }, field: 'enabled' }),
  },
  {
    route: 'POST /bindings/reorder',
    permission: Permission.BindingWrite,
    valid: async (f) => {
      const binding = await ownBinding(f, 'enable');
      return { path: '/bindings/reorder', body: { connector_id: binding.connector_id, operation_type: 'enable', hook_phase: 'after', binding_ids: (await hookIds(f, binding)).reverse() } };
    },
    foreign: () => ({
      path: '/bindings/reorder',
      body: { connector_id: ctx().foreignConnector, operation_type: 'create', hook_phase: 'before', binding_ids: [ctx().foreignBinding.id] },
    }),
    malformed: () => ({ path: '/bindings/reorder', body: { connector_id: ctx().ownConnector, operation_type: 'create', hook_phase: 'before', binding_ids: 'x' }, field: 'binding_ids' }),
  },
  {
    route: 'GET /bindings/:id',
    permission: Permission.BindingRead,
    valid: async (f) => ({ path: `/bindings/${(await ownBinding(f)).id}` }),
    foreign: () => ({ path: `/bindings/${ctx().foreignBinding.id}` }),
    malformed: () => ({ path: '/bindings/not-a-uuid', field: 'id' }),
  },
  {
    route: 'PATCH /bindings/:id',
    permission: Permission.BindingWrite,
    valid: async (f) => ({ path: `/bindings/${(await ownBinding(f)).id}`, body: { enabled: false } }),
    foreign: () => ({ path: `/bindings/${ctx().foreignBinding.id}`, body: { enabled: false } }),
    malformed: async (f) => ({ path: `/bindings/${(await ownBinding(f)).id}`, body: { timeout_seconds: 0 }, field: 'timeout_seconds' }),
  },
  {
    route: 'DELETE /bindings/:id',
    permission: Permission.BindingWrite,
    valid: async (f) => ({ path: `/bindings/${(await ownBinding(f)).id}` }),
    foreign: () => ({ path: `/bindings/${ctx().foreignBinding.id}` }),
    malformed: () => ({ path: '/bindings/123', field: 'id' }),
  },
  // ---- validation and dry runs --------------------------------------------------------------
  {
    route: 'POST /scripts/validate',
    permission: Permission.ScriptRead,
    valid: () => ({ path: '/scripts/validate', body: { source: 'export default async () => 1;' } }),
    // A source in the body reads nothing stored: validating B's text in A answers the validation and nothing of B's.
    foreign: (f) => ({
      path: '/scripts/validate',
      body: { source: f.foreign.source },
      expect: (response) => expect({ status: response.status, keys: Object.keys(response.body).sort() }).toEqual({ status: 200, keys: ['errors', 'valid', 'warnings'] }),
    }),
    malformed: () => ({ path: '/scripts/validate', body: { source: 42 }, field: 'source' }),
  },
  {
    route: 'POST /scripts/:id/validate',
    permission: Permission.ScriptRead,
    valid: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/validate` }),
    foreign: (f) => ({ path: `/scripts/${f.foreign.id}/validate` }),
    malformed: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/validate`, query: { version: 'one' }, field: 'version' }),
  },
  {
    route: 'POST /scripts/dry-run',
    permission: Permission.ScriptExecute,
    valid: () => ({ path: '/scripts/dry-run', body: { source: 'export default async (ctx) => ctx;', context: { input: 1 } } }),
    foreign: (f) => ({ path: '/scripts/dry-run', body: { source: 'export default async () => 1;', script_id: f.foreign.id } }),
    malformed: () => ({ path: '/scripts/dry-run', body: { source: 'export default 1', context: [1] }, field: 'context' }),
  },
  {
    route: 'POST /scripts/:id/dry-run',
    permission: Permission.ScriptExecute,
    valid: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/dry-run`, body: { context: {} } }),
    foreign: (f) => ({ path: `/scripts/${f.foreign.id}/dry-run`, body: {} }),
    malformed: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/dry-run`, body: { version: 0 }, field: 'version' }),
  },
  // ---- execution logs -----------------------------------------------------------------------
  {
    route: 'GET /execution-logs',
    permission: Permission.ScriptExecutionRead,
    valid: () => ({ path: '/execution-logs' }),
    foreign: (f) => ({
      path: '/execution-logs',
      query: { script_id: f.foreign.id },
      expect: (response) => expect({ status: response.status, total: response.body.total }).toEqual({ status: 200, total: 0 }),
    }),
    malformed: () => ({ path: '/execution-logs', query: { status: 'completed' }, field: 'status' }),
  },
  {
    route: 'GET /execution-logs/:id',
    permission: Permission.ScriptExecutionRead,
    valid: async (f) => ({ path: `/execution-logs/${await ownExecution(f)}` }),
    foreign: () => ({ path: `/execution-logs/${ctx().foreignExecution}` }),
    malformed: () => ({ path: '/execution-logs/nope', field: 'id' }),
  },
  // ---- analytics ----------------------------------------------------------------------------
  {
    route: 'GET /analytics/dashboard',
    permission: Permission.ScriptExecutionRead,
    valid: () => ({ path: '/analytics/dashboard' }),
    foreign: (f) => ({
      path: '/analytics/dashboard',
      expect: (response) => {
        expect(response.status).toBe(200);
        expect((response.body.scripts as Script[]).map((s) => s.script_id)).not.toContain(f.foreign.id);
      },
    }),
    malformed: () => ({ path: '/analytics/dashboard', query: { from: 'last week' }, field: 'from' }),
  },
  {
    route: 'GET /scripts/:id/analytics',
    permission: Permission.ScriptExecutionRead,
    valid: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/analytics` }),
    foreign: (f) => ({ path: `/scripts/${f.foreign.id}/analytics` }),
    malformed: () => ({ path: '/scripts/nope/analytics', field: 'id' }),
  },
];

/** The ids of the bindings in `binding`'s hook, in order (all of them: reorder needs the full list). */
async function hookIds(f: MatrixFixture, binding: Script): Promise<string[]> {
  const response = await f.own.get('/bindings', { connector_id: binding.connector_id, operation_type: binding.operation_type, hook_phase: binding.hook_phase, limit: 200 });
  return (response.body.items as Script[]).map((b) => b.id);
}
