import request from 'supertest';
import { Permission } from '@provisio/contracts';
import { Caller, RegistryTestApp, startRegistry } from '../common/testing/registry-app';
import { insertExecution } from '../common/testing/row-fixtures';
import { DASHBOARD_SQL, SCRIPT_SUMMARY_SQL } from './analytics.queries';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Body = Record<string, any>;

const RANGE = { from: '2025-03-01T00:00:00.000Z', to: '2025-03-08T00:00:00.000Z' };
const day = (d: number, hour = 12) => `2025-03-0${d}T${String(hour).padStart(2, '0')}:00:00Z`;

describe('script-registry: analytics', () => {
  let t: RegistryTestApp;
  let alice: Caller;
  let a: Body;
  let b: Body;

  beforeAll(async () => {
    t = await startRegistry();
    alice = t.caller({ subject: 'alice' });
    a = await alice.createScript({ name: 'provision-a', type: 'embedded' });
    b = await alice.createScript({ name: 'provision-b', type: 'embedded' });
    await alice.createScript({ name: 'never-run' });
    await alice.post(`/scripts/${b.id}/status`, { status: 'active' }).expect(200);
    const run = (scriptId: string, status: string, when: string, duration_ms: number | null, error?: string, dry_run = false) =>
      insertExecution(t, alice.tenantId, scriptId, { status, started_at: when, duration_ms, error, dry_run });
    // Script A: 9 executions in the range (7 finished), one before it, one dry run.
    await run(a.id, 'completed', day(2, 8), 100);
    await run(a.id, 'completed', day(2, 9), 200);
    await run(a.id, 'failed', day(2, 10), 300, 'E1');
    await run(a.id, 'completed', day(3, 8), 400);
    await run(a.id, 'timeout', day(3, 9), 1000, 'timeout: x');
    await run(a.id, 'failed', day(5, 8), 50, 'E1');
    await run(a.id, 'failed', day(5, 9), 60, 'E2');
    await run(a.id, 'running', day(5, 10), null);
    await run(a.id, 'cancelled', day(5, 11), null);
    await run(a.id, 'completed', day(3, 10), 9999, undefined, true);
    await run(a.id, 'failed', '2025-02-28T23:59:59Z', 1, 'E1');
    // Script B: two quick successes.
    await run(b.id, 'completed', day(4, 8), 10);
    await run(b.id, 'completed', day(4, 9), 10);
    // Another tenant's executions never count.
    const stranger = t.caller();
    const theirs = await stranger.createScript();
    await insertExecution(t, stranger.tenantId, theirs.id, { status: 'failed', started_at: day(2), duration_ms: 5, error: 'theirs' });
  });
  afterAll(async () => t?.close());

  describe('dashboard', () => {
    it('summarises the range: script counts, executions, success rate, average, the most executed scripts', async () => {
      const response = await alice.get('/analytics/dashboard', RANGE).expect(200);
      expect(response.body).toEqual({
        total_scripts: 3,
        active_scripts: 1,
        total_executions: 11,
        success_rate: 55.56, // 5 completed of 9 finished
        avg_duration_ms: 236.7, // (2110 + 20) / 9
        executed_scripts: 2,
        scripts: [
          { script_id: a.id, name: 'provision-a', status: 'draft', total_executions: 9, success_rate: 42.86, avg_duration_ms: 301.4, last_executed_at: expect.any(String) },
          { script_id: b.id, name: 'provision-b', status: 'active', total_executions: 2, success_rate: 100, avg_duration_ms: 10, last_executed_at: expect.any(String) },
        ],
        ...RANGE,
      });
      expect(new Date(response.body.scripts[0].last_executed_at).toISOString()).toBe(new Date(day(5, 11)).toISOString());
      const top = await alice.get('/analytics/dashboard', { ...RANGE, limit: 1 }).expect(200);
      expect(top.body.scripts.map((s: Body) => s.script_id)).toEqual([a.id]);
    });

    it('defaults to the last 30 days, and answers nulls without finished executions', async () => {
      const before = Date.now();
      const response = await alice.get('/analytics/dashboard').expect(200);
      const { from, to } = response.body;
      expect(new Date(to).getTime()).toBeGreaterThanOrEqual(before - 1000);
      expect(new Date(to).getTime() - new Date(from).getTime()).toBe(30 * 24 * 3600 * 1000);
      expect(response.body).toMatchObject({ total_scripts: 3, total_executions: 0, success_rate: null, avg_duration_ms: null, executed_scripts: 0, scripts: [] });
      const onlyFrom = await alice.get('/analytics/dashboard', { from: '2025-03-05T00:00:00Z' });
      expect(onlyFrom.status).toBe(400); // from … now is more than 366 days
      expect(onlyFrom.body.field).toBe('from');
    });

    it.each([
      [{ from: '2025-03-08T00:00:00Z', to: '2025-03-01T00:00:00Z' }, 'from', /earlier than to/],
      [{ from: '2024-01-01T00:00:00Z', to: '2025-03-01T00:00:00Z' }, 'from', /at most 366 days/],
      [{ from: 'last week' }, 'from', /ISO 8601/],
      [{ to: '2025-13-01' }, 'to', /ISO 8601/],
      [{ limit: 201 }, 'limit', /200/],
      [{ script_id: 'x' }, 'script_id', /should not exist/],
    ])('answers 400 naming the field for %j', async (query, field, message) => {
      expect((await alice.get('/analytics/dashboard', query).expect(400)).body).toMatchObject({ code: 'validation_failed', field, message: expect.stringMatching(message) });
    });
  });

  describe('script analytics', () => {
    it('computes totals, success rate, average and p95, daily trends and top errors of one script', async () => {
      const response = await alice.get(`/scripts/${a.id}/analytics`, RANGE).expect(200);
      expect(response.body).toEqual({
        script_id: a.id,
        name: 'provision-a',
        total_executions: 9,
        success_rate: 42.86,
        avg_duration_ms: 301.4,
        p95_duration_ms: 820, // percentile_cont(0.95) of 50, 60, 100, 200, 300, 400, 1000
        daily_trends: [
          { date: '2025-03-01', executions: 0, successes: 0, failures: 0, avg_duration_ms: null },
          { date: '2025-03-02', executions: 3, successes: 2, failures: 1, avg_duration_ms: 200 },
          { date: '2025-03-03', executions: 2, successes: 1, failures: 1, avg_duration_ms: 700 },
          { date: '2025-03-04', executions: 0, successes: 0, failures: 0, avg_duration_ms: null },
          { date: '2025-03-05', executions: 4, successes: 0, failures: 2, avg_duration_ms: 55 },
          { date: '2025-03-06', executions: 0, successes: 0, failures: 0, avg_duration_ms: null },
          { date: '2025-03-07', executions: 0, successes: 0, failures: 0, avg_duration_ms: null },
        ],
        top_errors: [
          { error_message: 'E1', count: 2, last_occurred: expect.any(String) },
          { error_message: 'E2', count: 1, last_occurred: expect.any(String) },
          { error_message: 'timeout: x', count: 1, last_occurred: expect.any(String) },
        ],
        ...RANGE,
      });
      expect(new Date(response.body.top_errors[0].last_occurred).toISOString()).toBe(new Date(day(5, 8)).toISOString());
    });

    it('leaves dry runs out, and answers an empty range with zeros and nulls', async () => {
      const dry = await alice.post(`/scripts/${b.id}/dry-run`, {}).expect(200);
      expect(dry.body.execution_id).toEqual(expect.any(String));
      const response = await alice.get(`/scripts/${b.id}/analytics`).expect(200);
      expect(response.body).toMatchObject({ total_executions: 0, success_rate: null, avg_duration_ms: null, p95_duration_ms: null, top_errors: [] });
      expect(response.body.daily_trends).toHaveLength(31); // 30 days that do not start at midnight touch 31 dates
      expect(response.body.daily_trends.every((d: Body) => d.executions === 0)).toBe(true);
    });

    it("answers 404 for another tenant's or an unknown script, 400 for a bad id or range", async () => {
      const theirs = await t.caller().createScript();
      expect((await alice.get(`/scripts/${theirs.id}/analytics`).expect(404)).body.code).toBe('not_found');
      expect((await alice.get('/scripts/x/analytics').expect(400)).body.field).toBe('id');
      expect((await alice.get(`/scripts/${a.id}/analytics`, { from: '2025-03-02T00:00:00Z', to: '2025-03-02T00:00:00Z' }).expect(400)).body.field).toBe('from');
      expect((await alice.get(`/scripts/${a.id}/analytics`, { limit: 5 }).expect(400)).body.field).toBe('limit');
    });
  });

  // The dashboard's plan depends on how much of the table the range holds (see docs/registry-templates-bindings-runs.md,
  // measured at 1M executions by bench/registry.mjs); one script's analytics always start from its index.
  it("reads one script's executions through idx_executions_script_started", async () => {
    const plan = (sql: string, params: unknown[]) =>
      t.db.dataSource.transaction(async (manager) => {
        await manager.query('SET LOCAL enable_seqscan = off'); // a handful of rows: make the planner show the index it can use
        const rows: { 'QUERY PLAN': string }[] = await manager.query(`EXPLAIN ${sql}`, params);
        return rows.map((r) => r['QUERY PLAN']).join('\n');
      });
    expect(await plan(SCRIPT_SUMMARY_SQL, [alice.tenantId, a.id, RANGE.from, RANGE.to])).toMatch(/idx_executions_script_started/);
  });

  it('needs a token and script_execution:read', async () => {
    expect((await request(t.app.getHttpServer()).get('/analytics/dashboard')).status).toBe(401);
    await alice.with([Permission.ScriptRead]).get('/analytics/dashboard').expect(403);
    await alice.with([Permission.ScriptRead]).get(`/scripts/${a.id}/analytics`).expect(403);
    await alice.with([Permission.ScriptExecutionRead]).get('/analytics/dashboard').expect(200);
    await alice.with([Permission.ScriptExecutionRead]).get(`/scripts/${a.id}/analytics`).expect(200);
  });

  // The dashboard reads whole days from script_execution_daily_stats (kept by triggers) and partial days
  // from the executions; the reference is the same statement told there is no whole day, so it reads
  // every execution of the range itself.
  it('answers from the daily stats what the executions alone give, for whole and partial days, after updates, moves and deletes', async () => {
    const c = await alice.createScript({ name: 'provision-c', type: 'embedded' });
    const ids: Record<string, string> = {};
    const run = (name: string, status: string, when: string, duration_ms: number | null, error?: string) =>
      insertExecution(t, alice.tenantId, c.id, { status, started_at: when, duration_ms, error }).then((id) => (ids[name] = id));
    await run('fails', 'failed', day(2, 10), 30, 'E9');
    await run('moves', 'completed', day(3, 8), 40);
    await run('goes', 'completed', day(4, 23), 50);
    await run('turns-dry', 'completed', day(5, 8), 60);
    await run('runs', 'running', day(6, 1), null);
    const ranges: [string, string][] = [
      [RANGE.from, RANGE.to], // whole days only
      ['2025-03-02T09:30:00.000Z', '2025-03-05T08:30:00.000Z'], // partial ends around whole days
      ['2025-03-02T09:30:00.000Z', '2025-03-02T10:30:00.000Z'], // within one day
      ['2025-03-04T12:00:00.000Z', '2025-03-05T12:00:00.000Z'], // across one midnight, no whole day
      ['2025-02-20T00:00:00.000Z', '2025-03-10T00:00:00.000Z'], // every execution
    ];
    const fromExecutions = async ([from, to]: [string, string]) => {
      // No whole day (an empty day range, the head running to `to`): all of [from, to) from the executions.
      const [row] = await t.db.dataSource.query(DASHBOARD_SQL, [alice.tenantId, from, to, 50, new Date(to), new Date(to), '1970-01-01', '1970-01-01']);
      return row;
    };
    const viaEndpoint = async ([from, to]: [string, string]) => {
      const { from: _from, to: _to, ...body } = (await alice.get('/analytics/dashboard', { from, to }).expect(200)).body;
      return body;
    };
    const checkAll = async () => {
      for (const range of ranges) expect({ range, ...(await viaEndpoint(range)) }).toEqual({ range, ...(await fromExecutions(range)) });
    };
    await checkAll();

    // History changes: a failure is recorded again as a success, a run moves to another day, one is
    // deleted, one becomes a dry run, a running one finishes.
    const db = t.db.dataSource;
    await db.query(`UPDATE script_executions SET status = 'completed', error = NULL, metrics = '{"duration_ms": 70}' WHERE id = $1`, [ids.fails]);
    await db.query('UPDATE script_executions SET started_at = $2 WHERE id = $1', [ids.moves, day(6, 9)]);
    await db.query('DELETE FROM script_executions WHERE id = $1', [ids.goes]);
    await db.query('UPDATE script_executions SET dry_run = true WHERE id = $1', [ids['turns-dry']]);
    await db.query(`UPDATE script_executions SET status = 'timeout', metrics = '{"duration_ms": 5000}' WHERE id = $1`, [ids.runs]);
    await checkAll();
    const whole = await viaEndpoint([RANGE.from, RANGE.to]);
    expect(whole.scripts.find((s: Body) => s.script_id === c.id)).toMatchObject({ total_executions: 3, success_rate: 66.67 }); // fails->completed, moves, runs->timeout

    // A day whose executions are all gone leaves no row behind.
    const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM script_execution_daily_stats WHERE script_id = $1 AND day = '2025-03-04'`, [c.id]);
    expect(n).toBe(0);
  });
});
