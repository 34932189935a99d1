/**
 * The reconciler's security matrix: EVERY route the app serves has a row, and every row is checked for
 *   - 401 without a token (and with a token signed by someone else),
 *   - 403 with a token holding every permission except the endpoint's (and `reconciliation:manage`),
 *   - 404 (or absence, for collections) when aimed at another tenant's object, which stays unchanged,
 *   - 400 naming the field for a malformed body, query or path parameter,
 *   - success with the permission.
 * The routes are read from Express's router, so a new endpoint without a row fails "every route has a row".
 */
import { randomUUID } from 'node:crypto';
import request, { Response } from 'supertest';
import { Permission } from '@provisio/contracts';
import { describeSecurityMatrix, SecurityRow } from '@provisio/platform/testing';
import { ALL_PERMISSIONS, Caller, ReconcilerTestApp, SQL_MAPPING, startReconciler } from './testing/reconciler-app';

interface Fixture {
  own: Caller;
  /** A connector of the own tenant (a target nothing listens on: its runs fail, quickly). */
  ownConnector(): Promise<string>;
  /** A run of a connector of its own, in `status` and `phase`. */
  ownRun(status: string, phase?: string): Promise<string>;
  /** A daily reconciliation schedule of a connector of its own. */
  ownSchedule(): Promise<string>;
  foreignSchedule: string;
  foreignConnector: string;
  foreignRun: string;
  foreignPausedRun: string;
  /** A pending `missing` discrepancy of a run of its own (remediation). */
  ownDiscrepancy(): Promise<string>;
  ownResult(): Promise<string>;
  ownAction(): Promise<string>;
  foreignDiscrepancy: string;
  foreignResult: string;
  foreignAction: string;
}

type Row = SecurityRow<Fixture>;

const runPath = (id: string, action = '') => `/reconciliation/runs/${id}${action}`;
const noItemsOf = (id: string) => (response: Response) => {
  expect(response.status).toBe(200);
  expect((response.body.items ?? []).map((i: { id: string }) => i.id)).not.toContain(id);
};

const ROWS: Row[] = [
  {
    route: 'POST /reconciliation/runs',
    permission: Permission.ReconciliationWrite,
    valid: async (f) => ({ path: '/reconciliation/runs', body: { connector_id: await f.ownConnector(), mode: 'full', dry_run: true } }),
    foreign: (f) => ({ path: '/reconciliation/runs', body: { connector_id: f.foreignConnector } }),
    malformed: async (f) => ({ path: '/reconciliation/runs', body: { connector_id: await f.ownConnector(), mode: 'partial' }, field: 'mode' }),
  },
  {
    route: 'GET /reconciliation/runs',
    permission: Permission.ReconciliationRead,
    valid: () => ({ path: '/reconciliation/runs' }),
    foreign: (f) => ({ path: '/reconciliation/runs', query: { connector_id: f.foreignConnector }, expect: noItemsOf(f.foreignRun) }),
    malformed: () => ({ path: '/reconciliation/runs', query: { status: 'done' }, field: 'status' }),
  },
  {
    route: 'GET /reconciliation/runs/:id',
    permission: Permission.ReconciliationRead,
    valid: async (f) => ({ path: runPath(await f.ownRun('completed', 'done')) }),
    foreign: (f) => ({ path: runPath(f.foreignRun) }),
    malformed: () => ({ path: runPath('not-a-uuid'), field: 'id' }),
  },
  {
    route: 'GET /reconciliation/runs/:id/report',
    permission: Permission.ReconciliationRead,
    valid: async (f) => ({ path: runPath(await f.ownRun('completed', 'done'), '/report') }),
    foreign: (f) => ({ path: runPath(f.foreignRun, '/report') }),
    malformed: () => ({ path: runPath('42', '/report'), field: 'id' }),
  },
  {
    route: 'POST /reconciliation/runs/:id/cancel',
    permission: Permission.ReconciliationWrite,
    valid: async (f) => ({ path: runPath(await f.ownRun('paused', 'reading'), '/cancel') }),
    foreign: (f) => ({ path: runPath(f.foreignPausedRun, '/cancel') }),
    malformed: () => ({ path: runPath('x', '/cancel'), field: 'id' }),
  },
  {
    route: 'POST /reconciliation/runs/:id/pause',
    permission: Permission.ReconciliationWrite,
    valid: async (f) => ({ path: runPath(await f.ownRun('running', 'reading'), '/pause') }),
    foreign: (f) => ({ path: runPath(f.foreignRun, '/pause') }),
    malformed: () => ({ path: runPath('x', '/pause'), field: 'id' }),
  },
  {
    route: 'POST /reconciliation/runs/:id/resume',
    permission: Permission.ReconciliationWrite,
    valid: async (f) => ({ path: runPath(await f.ownRun('paused', 'reading'), '/resume') }),
    foreign: (f) => ({ path: runPath(f.foreignPausedRun, '/resume') }),
    malformed: () => ({ path: runPath('x', '/resume'), field: 'id' }),
  },
  {
    route: 'POST /reconciliation/runs/:id/approve',
    permission: Permission.ReconciliationManage,
    valid: async (f) => ({ path: runPath(await f.ownRun('paused', 'awaiting_approval'), '/approve') }),
    foreign: (f) => ({ path: runPath(f.foreignPausedRun, '/approve') }),
    malformed: () => ({ path: runPath('x', '/approve'), field: 'id' }),
  },
  {
    route: 'POST /reconciliation/runs/:id/reject',
    permission: Permission.ReconciliationManage,
    valid: async (f) => ({ path: runPath(await f.ownRun('paused', 'awaiting_approval'), '/reject') }),
    foreign: (f) => ({ path: runPath(f.foreignPausedRun, '/reject') }),
    malformed: () => ({ path: runPath('x', '/reject'), field: 'id' }),
  },
  {
    route: 'POST /reconciliation/schedules',
    permission: Permission.ReconciliationManage,
    valid: async (f) => ({ path: '/reconciliation/schedules', body: { connector_id: await f.ownConnector(), frequency: 'daily', hour_of_day: 2 } }),
    foreign: (f) => ({ path: '/reconciliation/schedules', body: { connector_id: f.foreignConnector, frequency: 'hourly' } }),
    malformed: async (f) => ({ path: '/reconciliation/schedules', body: { connector_id: await f.ownConnector(), frequency: 'weekly' }, field: 'day_of_week' }),
  },
  {
    route: 'GET /reconciliation/schedules',
    permission: Permission.ReconciliationRead,
    valid: () => ({ path: '/reconciliation/schedules' }),
    foreign: (f) => ({ path: '/reconciliation/schedules', query: { connector_id: f.foreignConnector }, expect: noItemsOf(f.foreignSchedule) }),
    malformed: () => ({ path: '/reconciliation/schedules', query: { enabled: 'maybe' }, field: 'enabled' }),
  },
  {
    route: 'GET /reconciliation/schedules/:id',
    permission: Permission.ReconciliationRead,
    valid: async (f) => ({ path: `/reconciliation/schedules/${await f.ownSchedule()}` }),
    foreign: (f) => ({ path: `/reconciliation/schedules/${f.foreignSchedule}` }),
    malformed: () => ({ path: '/reconciliation/schedules/x', field: 'id' }),
  },
  {
    route: 'GET /reconciliation/schedules/:id/occurrences',
    permission: Permission.ReconciliationRead,
    valid: async (f) => ({ path: `/reconciliation/schedules/${await f.ownSchedule()}/occurrences`, query: { count: 3 } }),
    foreign: (f) => ({ path: `/reconciliation/schedules/${f.foreignSchedule}/occurrences` }),
    malformed: async (f) => ({ path: `/reconciliation/schedules/${await f.ownSchedule()}/occurrences`, query: { count: 0 }, field: 'count' }),
  },
  {
    route: 'PATCH /reconciliation/schedules/:id',
    permission: Permission.ReconciliationManage,
    valid: async (f) => ({ path: `/reconciliation/schedules/${await f.ownSchedule()}`, body: { mode: 'delta' } }),
    foreign: (f) => ({ path: `/reconciliation/schedules/${f.foreignSchedule}`, body: { mode: 'delta' } }),
    malformed: async (f) => ({ path: `/reconciliation/schedules/${await f.ownSchedule()}`, body: { frequency: 'cron', cron_expression: '61 * * * *' }, field: 'cron_expression' }),
  },
  {
    route: 'DELETE /reconciliation/schedules/:id',
    permission: Permission.ReconciliationManage,
    valid: async (f) => ({ path: `/reconciliation/schedules/${await f.ownSchedule()}` }),
    foreign: (f) => ({ path: `/reconciliation/schedules/${f.foreignSchedule}` }),
    malformed: () => ({ path: '/reconciliation/schedules/x', field: 'id' }),
  },
  {
    route: 'POST /reconciliation/schedules/:id/enable',
    permission: Permission.ReconciliationManage,
    valid: async (f) => ({ path: `/reconciliation/schedules/${await f.ownSchedule()}/enable` }),
    foreign: (f) => ({ path: `/reconciliation/schedules/${f.foreignSchedule}/enable` }),
    malformed: () => ({ path: '/reconciliation/schedules/x/enable', field: 'id' }),
  },
  {
    route: 'POST /reconciliation/schedules/:id/disable',
    permission: Permission.ReconciliationManage,
    valid: async (f) => ({ path: `/reconciliation/schedules/${await f.ownSchedule()}/disable` }),
    foreign: (f) => ({ path: `/reconciliation/schedules/${f.foreignSchedule}/disable` }),
    malformed: () => ({ path: '/reconciliation/schedules/x/disable', field: 'id' }),
  },
  {
    route: 'GET /reconciliation/discrepancies',
    permission: Permission.ReconciliationRead,
    valid: () => ({ path: '/reconciliation/discrepancies' }),
    foreign: (f) => ({ path: '/reconciliation/discrepancies', query: { run_id: f.foreignRun }, expect: (response) => expect(response.body.total).toBe(0) }),
    malformed: () => ({ path: '/reconciliation/discrepancies', query: { discrepancy_type: 'drift' }, field: 'discrepancy_type' }),
  },
  {
    route: 'GET /reconciliation/trends',
    permission: Permission.ReconciliationRead,
    valid: () => ({ path: '/reconciliation/trends', query: { days: 7 } }),
    foreign: (f) => ({ path: '/reconciliation/trends', query: { connector_id: f.foreignConnector, days: 1 }, expect: (response) => expect(response.body[0].total).toBe(0) }),
    malformed: () => ({ path: '/reconciliation/trends', query: { days: 0 }, field: 'days' }),
  },
  {
    route: 'GET /reconciliation/connectors/:id/settings',
    permission: Permission.ReconciliationRead,
    valid: async (f) => ({ path: `/reconciliation/connectors/${await f.ownConnector()}/settings` }),
    foreign: (f) => ({ path: `/reconciliation/connectors/${f.foreignConnector}/settings` }),
    malformed: () => ({ path: '/reconciliation/connectors/nope/settings', field: 'id' }),
  },
  {
    route: 'PUT /reconciliation/connectors/:id/settings',
    permission: Permission.ReconciliationManage,
    valid: async (f) => ({ path: `/reconciliation/connectors/${await f.ownConnector()}/settings`, body: { correlation_rules: [{ identity_attribute: 'email', target_attribute: 'email' }], delete_threshold_percent: 5 } }),
    foreign: (f) => ({ path: `/reconciliation/connectors/${f.foreignConnector}/settings`, body: { delete_threshold_percent: 100 } }),
    malformed: async (f) => ({ path: `/reconciliation/connectors/${await f.ownConnector()}/settings`, body: { correlation_rules: [{ identity_attribute: 'password', target_attribute: 'x' }] }, field: 'correlation_rules.0.identity_attribute' }),
  },
  {
    route: 'POST /reconciliation/discrepancies/:id/remediate',
    permission: Permission.ReconciliationWrite,
    valid: async (f) => ({ path: `/reconciliation/discrepancies/${await f.ownDiscrepancy()}/remediate`, body: { dry_run: true } }),
    foreign: (f) => ({ path: `/reconciliation/discrepancies/${f.foreignDiscrepancy}/remediate`, body: {} }),
    malformed: async (f) => ({ path: `/reconciliation/discrepancies/${await f.ownDiscrepancy()}/remediate`, body: { direction: 'sideways' }, field: 'direction' }),
  },
  {
    route: 'POST /reconciliation/discrepancies/:id/ignore',
    permission: Permission.ReconciliationWrite,
    valid: async (f) => ({ path: `/reconciliation/discrepancies/${await f.ownDiscrepancy()}/ignore`, body: { reason: 'known' } }),
    foreign: (f) => ({ path: `/reconciliation/discrepancies/${f.foreignDiscrepancy}/ignore`, body: {} }),
    malformed: async (f) => ({ path: `/reconciliation/discrepancies/${await f.ownDiscrepancy()}/ignore`, body: { reason: 'x'.repeat(2001) }, field: 'reason' }),
  },
  {
    route: 'POST /reconciliation/discrepancies/remediate',
    permission: Permission.ReconciliationManage,
    valid: async (f) => ({ path: '/reconciliation/discrepancies/remediate', body: { run_id: await f.ownRun('completed', 'done'), dry_run: true } }),
    foreign: (f) => ({ path: '/reconciliation/discrepancies/remediate', body: { run_id: f.foreignRun }, expect: (response) => expect(response.body).toMatchObject({ matched: 0 }) }),
    malformed: () => ({ path: '/reconciliation/discrepancies/remediate', body: { run_id: 'nope' }, field: 'run_id' }),
  },
  {
    route: 'GET /reconciliation/remediation-results',
    permission: Permission.ReconciliationRead,
    valid: () => ({ path: '/reconciliation/remediation-results' }),
    foreign: (f) => ({ path: '/reconciliation/remediation-results', query: { discrepancy_id: f.foreignDiscrepancy }, expect: noItemsOf(f.foreignResult) }),
    malformed: () => ({ path: '/reconciliation/remediation-results', query: { status: 'done' }, field: 'status' }),
  },
  {
    route: 'GET /reconciliation/remediation-results/:id',
    permission: Permission.ReconciliationRead,
    valid: async (f) => ({ path: `/reconciliation/remediation-results/${await f.ownResult()}` }),
    foreign: (f) => ({ path: `/reconciliation/remediation-results/${f.foreignResult}` }),
    malformed: () => ({ path: '/reconciliation/remediation-results/x', field: 'id' }),
  },
  {
    route: 'GET /reconciliation/actions',
    permission: Permission.ReconciliationRead,
    valid: () => ({ path: '/reconciliation/actions' }),
    foreign: (f) => ({ path: '/reconciliation/actions', query: { discrepancy_id: f.foreignDiscrepancy }, expect: noItemsOf(f.foreignAction) }),
    malformed: () => ({ path: '/reconciliation/actions', query: { dry_run: 'maybe' }, field: 'dry_run' }),
  },
  {
    route: 'GET /reconciliation/actions/:id',
    permission: Permission.ReconciliationRead,
    valid: async (f) => ({ path: `/reconciliation/actions/${await f.ownAction()}` }),
    foreign: (f) => ({ path: `/reconciliation/actions/${f.foreignAction}` }),
    malformed: () => ({ path: '/reconciliation/actions/x', field: 'id' }),
  },
];

const UNREACHABLE_SQL = { dialect: 'postgres', host: '127.0.0.1', port: 1, database: 'none', user: 'none', accounts: { table: 'accounts', keyColumn: 'user_name', columns: { userName: 'user_name' } } };

describe('reconciler: security matrix', () => {
  let t: ReconcilerTestApp;
  let fixture: Fixture;

  const stateOfForeign = async () => ({
    runs: await t.db.dataSource.query('SELECT id, status, phase, guard, pause_reason, updated_at FROM reconciliation_runs WHERE id = ANY($1) ORDER BY id', [[fixture.foreignRun, fixture.foreignPausedRun]]),
    settings: await t.db.dataSource.query('SELECT * FROM reconciliation_connector_settings WHERE connector_id = $1', [fixture.foreignConnector]),
    discrepancies: await t.db.dataSource.query('SELECT id, resolution_status FROM discrepancies WHERE id = $1', [fixture.foreignDiscrepancy]),
    results: await t.db.dataSource.query('SELECT id, status FROM remediation_results WHERE id = $1', [fixture.foreignResult]),
    schedules: await t.db.dataSource.query('SELECT * FROM reconciliation_schedules WHERE id = $1', [fixture.foreignSchedule]),
  });

  beforeAll(async () => {
    t = await startReconciler();
    const own = t.caller({ subject: 'owner' });
    const stranger = t.caller({ subject: 'stranger' });
    const connector = (tenantId: string) => t.insertConnector(tenantId, { type: 'sql', config: UNREACHABLE_SQL, credentials: { password: '' }, attribute_mapping: SQL_MAPPING });
    const run = async (tenantId: string, status: string, phase = 'reading') => {
      const connectorId = await connector(tenantId);
      const [row] = await t.db.dataSource.query(
        `INSERT INTO reconciliation_runs (tenant_id, connector_id, mode, dry_run, status, phase, heartbeat_at, completed_at) VALUES ($1, $2, 'full', true, $3::text, $4, now(), CASE WHEN $3::text = 'completed' THEN now() END) RETURNING id`,
        [tenantId, connectorId, status, phase],
      );
      return row.id as string;
    };
    const schedule = async (tenantId: string) => {
      const [row] = await t.db.dataSource.query(`INSERT INTO reconciliation_schedules (tenant_id, connector_id, frequency, hour_of_day, next_run_at) VALUES ($1, $2, 'daily', 2, now() + interval '1 day') RETURNING id`, [tenantId, await connector(tenantId)]);
      return row.id as string;
    };
    // Remediation: a pending `missing` discrepancy of a completed run (its identity exists), with a result and an action.
    const discrepancy = async (tenantId: string) => {
      const runId = await run(tenantId, 'completed', 'done');
      const [{ connector_id: connectorId }] = await t.db.dataSource.query('SELECT connector_id FROM reconciliation_runs WHERE id = $1', [runId]);
      const [{ id: identityId }] = await t.db.dataSource.query(`INSERT INTO identities (tenant_id, username) VALUES ($1, $2) RETURNING id`, [tenantId, `u-${randomUUID()}`]);
      const [row] = await t.db.dataSource.query(
        `INSERT INTO discrepancies (tenant_id, connector_id, run_id, discrepancy_type, identity_id) VALUES ($1, $2, $3, 'missing', $4) RETURNING id, connector_id, run_id`,
        [tenantId, connectorId, runId, identityId],
      );
      return row as { id: string; connector_id: string; run_id: string };
    };
    const action = async (tenantId: string) => {
      const d = await discrepancy(tenantId);
      const [row] = await t.db.dataSource.query(
        `INSERT INTO reconciliation_actions (tenant_id, connector_id, run_id, discrepancy_id, action_type, result, dry_run) VALUES ($1, $2, $3, $4, 'create', 'requested', false) RETURNING id`,
        [tenantId, d.connector_id, d.run_id, d.id],
      );
      return { discrepancy: d, action: row.id as string };
    };
    const result = async (tenantId: string) => {
      const a = await action(tenantId);
      const [row] = await t.db.dataSource.query(
        `INSERT INTO remediation_results (tenant_id, discrepancy_id, connector_id, run_id, action_id, action, direction, status, success, operation_id) VALUES ($1, $2, $3, $4, $5, 'create', 'xavyo_to_target', 'pending', NULL, $6) RETURNING id`,
        [tenantId, a.discrepancy.id, a.discrepancy.connector_id, a.discrepancy.run_id, a.action, randomUUID()],
      );
      return { ...a, result: row.id as string };
    };
    const foreignRemediation = await result(stranger.tenantId);
    fixture = {
      own,
      ownConnector: () => connector(own.tenantId),
      ownRun: (status, phase) => run(own.tenantId, status, phase),
      ownSchedule: () => schedule(own.tenantId),
      foreignSchedule: await schedule(stranger.tenantId),
      foreignConnector: await connector(stranger.tenantId),
      foreignRun: await run(stranger.tenantId, 'running', 'reading'),
      foreignPausedRun: await run(stranger.tenantId, 'paused', 'awaiting_approval'),
      ownDiscrepancy: async () => (await discrepancy(own.tenantId)).id,
      ownResult: async () => (await result(own.tenantId)).result,
      ownAction: async () => (await action(own.tenantId)).action,
      foreignDiscrepancy: foreignRemediation.discrepancy.id,
      foreignResult: foreignRemediation.result,
      foreignAction: foreignRemediation.action,
    };
  });
  afterAll(async () => t?.close());

  describeSecurityMatrix({ rows: ROWS, allPermissions: ALL_PERMISSIONS, app: () => t.app, fixture: () => fixture, foreignState: stateOfForeign });

  it('exports the progress of running runs as metrics', async () => {
    const metrics = await request(t.app.getHttpServer()).get('/metrics');
    expect(metrics.text).toContain(`provisio_reconciliation_run_accounts_processed{run_id="${fixture.foreignRun}"`);
  });

  it('refuses hostile input with a 400, never a 500', async () => {
    const connectorId = await fixture.ownConnector();
    for (const body of [
      { connector_id: connectorId, delete_threshold_percent: 101 },
      { connector_id: connectorId, dry_run: 'yes' },
      { connector_id: `${randomUUID()}\u0000` },
      { connector_id: 'x'.repeat(100_000) },
    ]) {
      const response = await fixture.own.post('/reconciliation/runs', body);
      expect(response.status).toBe(400);
    }
    const response = await fixture.own.get('/reconciliation/discrepancies', { external_uid: '\ud800\u0000' });
    expect(response.status).toBeLessThan(500);
  });
});
