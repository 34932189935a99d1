/**
 * Scheduled reconciliation end to end: the built scheduler (apps/scheduler/dist/main.js, a real process)
 * fires a due schedule through its outbox onto Kafka; this reconciler consumes the request, creates the
 * run with `schedule_id` and `scheduled_for`, and works it to completion against the stack's SQL target.
 * An occurrence that finds the connector's run in progress is skipped and recorded; a redelivered or
 * repeated request never makes a second run.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Producer } from 'kafkajs';
import { ConsumerGroup, EventType, messageKey, Topic } from '@provisio/contracts';
import { compileReconciliationSchedule } from '@provisio/platform';
import { eventually, freePort, readTopic, testEnv, testKafka } from '@provisio/platform/testing';
import { Caller, insertIdentities, insertLinks, ReconcilerTestApp, SQL_MAPPING, SqlTargetTable, startReconciler, waitForRun } from '../testing/reconciler-app';

jest.setTimeout(180_000);

const SCHEDULER_MAIN = join(__dirname, '..', '..', '..', 'scheduler', 'dist', 'main.js');

describe('scheduled reconciliation runs (scheduler process → Kafka → reconciler)', () => {
  let t: ReconcilerTestApp;
  let target: SqlTargetTable;
  let caller: Caller;
  let scheduler: ChildProcess;
  let schedulerOutput = '';
  let producer: Producer;
  const kafka = testKafka();

  beforeAll(async () => {
    if (!existsSync(SCHEDULER_MAIN)) throw new Error(`build the scheduler first (npm test does): ${SCHEDULER_MAIN} is missing`);
    t = await startReconciler({ RECONCILIATION_PAGE_SIZE: '50' });
    caller = t.caller();
    target = await SqlTargetTable.create();
    const port = await freePort();
    const env = testEnv({ DATABASE_SCHEMA: t.db.schema, KAFKA_TOPIC_PREFIX: t.prefix, PORT: String(port), SCHEDULER_POLL_INTERVAL_MS: '200', OUTBOX_POLL_INTERVAL_MS: '50' });
    scheduler = spawn(process.execPath, [SCHEDULER_MAIN], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    scheduler.stdout!.on('data', (chunk) => (schedulerOutput += chunk));
    scheduler.stderr!.on('data', (chunk) => (schedulerOutput += chunk));
    await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => null))?.ok, { what: `scheduler ready (${schedulerOutput.slice(-500)})`, timeoutMs: 60_000 });
    producer = kafka.producer();
    await producer.connect();
  });

  afterAll(async () => {
    if (scheduler && scheduler.exitCode === null) scheduler.kill('SIGKILL');
    await producer?.disconnect().catch(() => undefined);
    await target?.drop();
    await t?.close();
  });

  /** A connector of the SQL target whose accounts match their identities (nothing to remediate). */
  async function cleanConnector(prefix: string): Promise<string> {
    const connectorId = await t.insertConnector(caller.tenantId, { type: 'sql', config: target.config(), credentials: { password: '' }, attribute_mapping: SQL_MAPPING });
    const people = [1, 2, 3].map((i) => ({ username: `${prefix}${i}`, email: `${prefix}${i}@example.test`, display_name: `Name ${prefix}${i}` }));
    const ids = await insertIdentities(t.db, caller.tenantId, people);
    await target.insert(people.map((p) => ({ user_name: p.username, email: p.email, display_name: p.display_name })));
    await insertLinks(t.db, caller.tenantId, connectorId, people.map((p) => ({ identity_id: ids.get(p.username)!, external_uid: p.username })));
    return connectorId;
  }

  /** Makes a schedule due one second ago, the way it is when its occurrence comes (the scheduler then fires it on time). */
  async function makeDue(scheduleId: string): Promise<Date> {
    const [{ at }] = await t.db.dataSource.query(`SELECT date_trunc('second', now()) - interval '1 second' AS at`);
    await t.db.dataSource.query('UPDATE reconciliation_schedules SET next_run_at = $2 WHERE id = $1', [scheduleId, at]);
    return at;
  }

  const scheduleOf = async (id: string) => (await caller.get(`/reconciliation/schedules/${id}`)).body;
  const runsOf = async (connectorId: string) => (await caller.get('/reconciliation/runs', { connector_id: connectorId })).body.items as { id: string; schedule_id: string | null; scheduled_for: string | null; status: string }[];

  let firstScheduleId: string;
  let firstConnectorId: string;

  it('a due schedule: the scheduler fires it once, the reconciler creates the run with schedule_id and works it; last_run_at and next_run_at kept true', async () => {
    firstConnectorId = await cleanConnector('sa');
    const created = await caller.post('/reconciliation/schedules', { connector_id: firstConnectorId, frequency: 'daily', hour_of_day: 3, mode: 'full' });
    expect(created.status).toBe(201);
    firstScheduleId = created.body.id;
    const due = await makeDue(firstScheduleId);

    const started = await eventually(async () => (await runsOf(firstConnectorId))[0], { what: 'the scheduled run', timeoutMs: 30_000 });
    expect(started.schedule_id).toBe(firstScheduleId);
    expect(started.scheduled_for).toBe(due.toISOString());
    const run = await waitForRun(caller, started.id, (r) => r.status === 'completed', 60_000);
    expect(run).toMatchObject({ schedule_id: firstScheduleId, mode: 'full', dry_run: false, accounts_processed: 3, discrepancies_found: 0, created_by: null });

    const schedule = await scheduleOf(firstScheduleId);
    const nextDaily = compileReconciliationSchedule({ frequency: 'daily', hour_of_day: 3, day_of_week: null, day_of_month: null, cron_expression: null }).next(new Date())!;
    expect(schedule).toMatchObject({ last_run_at: due.toISOString(), next_run_at: nextDaily.toISOString(), last_outcome: 'started', last_run_id: started.id });
    const [row] = await t.db.dataSource.query('SELECT scheduled_for FROM reconciliation_runs WHERE id = $1', [started.id]);
    expect(row.scheduled_for.toISOString()).toBe(due.toISOString());
    expect(await runsOf(firstConnectorId)).toHaveLength(1);
  });

  it('a request redelivered (same event) or repeated (another event, same occurrence) makes no second run', async () => {
    const isRequest = (value: string | null) => !!value && value.includes(firstScheduleId) && value.includes(EventType.ReconciliationRequested);
    const messages = await readTopic(kafka, t.prefix + Topic.ReconciliationRuns, (m) => m.some((x) => isRequest(x.value)));
    const original = JSON.parse(messages.find((m) => isRequest(m.value))!.value!);
    const again = { ...original, id: randomUUID() };
    const key = messageKey.tenantConnector(caller.tenantId, firstConnectorId);
    await producer.send({ topic: t.prefix + Topic.ReconciliationRuns, messages: [{ key, value: JSON.stringify(original) }, { key, value: JSON.stringify(again) }] });
    // Same key, same partition, in order: once the second is recorded, the first was handled too.
    await eventually(async () => (await t.db.dataSource.query('SELECT 1 FROM processed_events WHERE consumer = $1 AND event_id = $2', [ConsumerGroup.ReconcilerReconciliationRequests, again.id])).length === 1, { what: 'the repeated request consumed', timeoutMs: 30_000 });

    expect(await runsOf(firstConnectorId)).toHaveLength(1);
    const skipped = await t.db.dataSource.query(`SELECT count(*)::int AS n FROM reconciliation_actions WHERE connector_id = $1`, [firstConnectorId]);
    expect(skipped[0].n).toBe(0);
    expect((await scheduleOf(firstScheduleId)).last_outcome).toBe('started');
  });

  it('a request older than the occurrence fired last (it waited in Kafka) is skipped as superseded: only the latest runs', async () => {
    const messages = await readTopic(kafka, t.prefix + Topic.ReconciliationRuns, (m) => m.some((x) => !!x.value?.includes(firstScheduleId)));
    const original = JSON.parse(messages.find((m) => !!m.value?.includes(firstScheduleId) && m.value.includes(EventType.ReconciliationRequested))!.value!);
    const olderSlot = new Date(Date.parse(original.data.scheduled_for) - 86_400_000).toISOString();
    const stale = { ...original, id: randomUUID(), data: { ...original.data, scheduled_for: olderSlot } };
    await producer.send({ topic: t.prefix + Topic.ReconciliationRuns, messages: [{ key: messageKey.tenantConnector(caller.tenantId, firstConnectorId), value: JSON.stringify(stale) }] });
    const [action] = await eventually(async () => {
      const rows = await t.db.dataSource.query(`SELECT action_type, result, details FROM reconciliation_actions WHERE connector_id = $1`, [firstConnectorId]);
      return rows.length ? rows : undefined;
    }, { what: 'the superseded occurrence recorded', timeoutMs: 30_000 });
    expect(action).toMatchObject({ action_type: 'scheduled_run_skipped', result: 'skipped', details: { reason: 'superseded', scheduled_for: olderSlot, schedule_id: firstScheduleId } });
    expect(await runsOf(firstConnectorId)).toHaveLength(1);
    expect((await scheduleOf(firstScheduleId)).last_outcome).toBe('started');
  });

  it('an occurrence while the connector has a run in progress is skipped and recorded, not failed', async () => {
    const connectorId = await cleanConnector('sb');
    // A run of the connector in progress (paused by an operator): the scheduled one must not overlap it.
    const [{ id: activeRunId }] = await t.db.dataSource.query(
      `INSERT INTO reconciliation_runs (tenant_id, connector_id, mode, status, pause_reason) VALUES ($1, $2, 'full', 'paused', 'paused by test') RETURNING id`,
      [caller.tenantId, connectorId],
    );
    const created = await caller.post('/reconciliation/schedules', { connector_id: connectorId, frequency: 'hourly', mode: 'delta' });
    expect(created.status).toBe(201);
    const due = await makeDue(created.body.id);

    const schedule = await eventually(async () => {
      const s = await scheduleOf(created.body.id);
      return s.last_outcome === 'skipped' ? s : undefined;
    }, { what: 'the occurrence recorded as skipped', timeoutMs: 30_000 });
    expect(schedule).toMatchObject({ last_run_at: due.toISOString(), last_run_id: null, enabled: true });
    expect(Date.parse(schedule.next_run_at)).toBeGreaterThan(Date.now());
    const runs = await runsOf(connectorId);
    expect(runs.map((r) => r.id)).toEqual([activeRunId]);
    const actions = await t.db.dataSource.query(`SELECT run_id, action_type, result, performed_by, details FROM reconciliation_actions WHERE connector_id = $1`, [connectorId]);
    expect(actions).toEqual([
      {
        run_id: activeRunId,
        action_type: 'scheduled_run_skipped',
        result: 'skipped',
        performed_by: null,
        details: { schedule_id: created.body.id, scheduled_for: due.toISOString(), reason: 'connector_busy', active_run_id: activeRunId, catch_up: false },
      },
    ]);
  });
});
