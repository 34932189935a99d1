/**
 * Rows of the registry's security matrix (`security.int-spec.ts`) for typed parameters, run now,
 * executions and cancel. Tests only. `prepareRunSecurity(t, fixture)` (in the matrix's `beforeAll`)
 * records a pending execution of tenant B's fixture script.
 */
import { Permission } from '@provisio/contracts';
import type { MatrixFixture, SecurityRow } from './feature-security-rows';
import type { RegistryTestApp } from './registry-app';
import { insertExecution } from './row-fixtures';

let foreignExecution: string | undefined;

export async function prepareRunSecurity(t: RegistryTestApp, fixture: MatrixFixture): Promise<void> {
  foreignExecution = await insertExecution(t, fixture.foreign.tenant_id as string, fixture.foreign.id as string, { status: 'pending', trigger_type: 'api' });
}

const foreign = () => {
  if (!foreignExecution) throw new Error('prepareRunSecurity was not called');
  return foreignExecution;
};

/** A pending run of a fresh (oneoff) script of tenant A. */
async function ownRun(f: MatrixFixture): Promise<string> {
  const script = await f.own.createScript();
  const response = await f.own.post(`/scripts/${script.id}/executions`, {});
  if (response.status !== 202) throw new Error(`run: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.id as string;
}

export const RUN_SECURITY_ROWS: SecurityRow[] = [
  {
    route: 'GET /scripts/:id/parameters',
    permission: Permission.ScriptRead,
    valid: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/parameters` }),
    foreign: (f) => ({ path: `/scripts/${f.foreign.id}/parameters` }),
    malformed: () => ({ path: '/scripts/nope/parameters', field: 'id' }),
  },
  {
    route: 'PUT /scripts/:id/parameters',
    permission: Permission.ScriptWrite,
    valid: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/parameters`, body: { parameters: [{ name: 'n', type: 'integer' }] } }),
    foreign: (f) => ({ path: `/scripts/${f.foreign.id}/parameters`, body: { parameters: [] } }),
    malformed: async (f) => ({ path: `/scripts/${(await f.ownScript()).id}/parameters`, body: { parameters: [{ name: 'n', type: 'colour' }] }, field: 'parameters.0.type' }),
  },
  {
    route: 'POST /scripts/:id/executions',
    permission: Permission.ScriptExecute,
    // The fixture's scripts are event scripts, which run by their events: a oneoff one runs now.
    valid: async (f) => ({ path: `/scripts/${(await f.own.createScript()).id}/executions`, body: {} }),
    foreign: (f) => ({ path: `/scripts/${f.foreign.id}/executions`, body: {} }),
    malformed: async (f) => ({ path: `/scripts/${(await f.own.createScript()).id}/executions`, body: { input: [1] }, field: 'input' }),
  },
  {
    route: 'GET /executions',
    permission: Permission.ScriptExecutionRead,
    valid: () => ({ path: '/executions' }),
    foreign: (f) => ({
      path: '/executions',
      query: { script_id: f.foreign.id },
      expect: (response) => expect({ status: response.status, total: response.body.total }).toEqual({ status: 200, total: 0 }),
    }),
    malformed: () => ({ path: '/executions', query: { status: 'finished' }, field: 'status' }),
  },
  {
    route: 'GET /executions/feed',
    permission: Permission.ScriptExecutionRead,
    valid: () => ({ path: '/executions/feed' }),
    foreign: (f) => ({
      path: '/executions/feed',
      query: { script_id: f.foreign.id, after: Buffer.from('2000-01-01T00:00:00.000000Z/00000000-0000-0000-0000-000000000000').toString('base64url') },
      expect: (response) => expect({ status: response.status, items: response.body.items }).toEqual({ status: 200, items: [] }),
    }),
    malformed: () => ({ path: '/executions/feed', query: { after: 'not-a-cursor' }, field: 'after' }),
  },
  {
    route: 'GET /executions/stream',
    permission: Permission.ScriptExecutionRead,
    valid: () => ({ path: '/executions/stream', query: { max_seconds: 1 } }),
    foreign: (f) => ({
      path: '/executions/stream',
      query: { script_id: f.foreign.id, max_seconds: 1, after: Buffer.from('2000-01-01T00:00:00.000000Z/00000000-0000-0000-0000-000000000000').toString('base64url') },
      // The other tenant's finished run is never an event of this stream.
      expect: (response) => expect({ status: response.status, events: (response.text ?? '').match(/^event: execution$/gm) }).toEqual({ status: 200, events: null }),
    }),
    malformed: () => ({ path: '/executions/stream', query: { max_seconds: 0 }, field: 'max_seconds' }),
  },
  {
    route: 'GET /executions/:id',
    permission: Permission.ScriptExecutionRead,
    valid: async (f) => ({ path: `/executions/${await ownRun(f)}` }),
    foreign: () => ({ path: `/executions/${foreign()}` }),
    malformed: () => ({ path: '/executions/nope', field: 'id' }),
  },
  {
    route: 'POST /executions/:id/cancel',
    permission: Permission.ScriptExecute,
    valid: async (f) => ({ path: `/executions/${await ownRun(f)}/cancel` }),
    foreign: () => ({ path: `/executions/${foreign()}/cancel` }),
    malformed: () => ({ path: '/executions/nope/cancel', field: 'id' }),
  },
];
