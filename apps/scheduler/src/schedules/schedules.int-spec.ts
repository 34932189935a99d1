import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Producer } from 'kafkajs';
import request from 'supertest';
import { ConsumerGroup, createCloudEvent, EventType, messageKey, Permission, ScriptExecutionFinished, Topic } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, createTenantFixture, IsolatedSchema, TenantFixture } from '@provisio/persistence/testing';
import { configureApp, loadConfig, signDevToken } from '@provisio/platform';
import { eventually, TEST_JWT_SECRET, testEnv, testKafka, uniqueTopicPrefix } from '@provisio/platform/testing';
import { AppModule } from '../app.module';
import { CLOCK } from '../clock';
import { appConfigSchema } from '../config';
import { FiringService } from '../firing/firing.service';
import { createScheduledScript } from '../testing/schedule-fixtures';

/**
 * The schedules API, and the firing path driven by hand with an injected clock (the loop is off), against
 * the real PostgreSQL and Kafka: filling next_run_at, firing through the outbox, misfires, script status,
 * outcomes from finished events, and the release of stuck runs.
 */
describe('scheduler: schedules API and firing with an injected clock', () => {
  let db: IsolatedSchema;
  let app: INestApplication;
  let firing: FiringService;
  let producer: Producer;
  let prefix: string;
  let tenant: TenantFixture;
  let other: TenantFixture;
  const clock = { t: new Date('2025-03-29T12:00:00Z'), now: () => new Date(clock.t) };
  const kafka = testKafka();
  const http = () => request(app.getHttpServer());

  const token = (permissions: string[], fixture: TenantFixture = tenant) => `Bearer ${signDevToken(TEST_JWT_SECRET, { sub: fixture.subject, tenant_id: fixture.tenantId, permissions })}`;
  const reader = () => token([Permission.ScriptScheduleRead]);
  const writer = () => token([Permission.ScriptScheduleRead, Permission.ScriptScheduleWrite]);
  const job = async (id: string) => (await db.dataSource.query('SELECT * FROM script_scheduled_jobs WHERE id = $1', [id]))[0];
  const requestsFor = async (jobId: string) =>
    (await db.dataSource.query(`SELECT payload FROM outbox WHERE payload->'data'->>'scheduled_job_id' = $1 OR payload->'data'->'trigger_data'->>'schedule_id' = $1 ORDER BY seq`, [jobId])).map(
      (r: { payload: { data: Record<string, unknown> } }) => r.payload,
    );

  beforeAll(async () => {
    db = await createIsolatedSchema(migrations);
    tenant = await createTenantFixture(db.dataSource, { subject: 'alice' });
    other = await createTenantFixture(db.dataSource, { subject: 'mallory' });
    prefix = uniqueTopicPrefix();
    const config = loadConfig(appConfigSchema, testEnv({ DATABASE_SCHEMA: db.schema, KAFKA_TOPIC_PREFIX: prefix, SCHEDULER_FIRING_ENABLED: 'false', SCHEDULER_RUN_GRACE_MS: '1000' }));
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] })
      .overrideProvider(CLOCK)
      .useValue(clock)
      .compile();
    app = moduleRef.createNestApplication();
    configureApp(app, { docs: { title: 'scheduler', description: 'test' } });
    await app.init();
    firing = app.get(FiringService);
    producer = kafka.producer();
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await app?.close();
    await db?.drop();
  });

  describe('HTTP API', () => {
    let paris: { scriptId: string; jobId: string };
    let foreign: { scriptId: string; jobId: string };

    beforeAll(async () => {
      clock.t = new Date('2025-03-29T12:00:00Z');
      paris = await createScheduledScript(db.dataSource, tenant, { name: 'nightly', cron_expression: '30 2 * * *', timezone: 'Europe/Paris', schedule: { misfire_policy: 'run_once', failure_action: 'pause', failure_threshold: 3 } });
      await createScheduledScript(db.dataSource, tenant, { name: 'paused-one', schedule: { status: 'paused' } });
      foreign = await createScheduledScript(db.dataSource, other, { name: 'theirs' });
    });

    it('refuses requests without a valid token (401) or without the permission (403)', async () => {
      expect((await http().get('/schedules').expect(401)).body).toMatchObject({ status: 401, code: 'unauthenticated' });
      await http().get('/schedules').set('Authorization', 'Bearer not-a-jwt').expect(401);
      expect((await http().get('/schedules').set('Authorization', token([Permission.ScriptRead])).expect(403)).body).toMatchObject({ code: 'forbidden', message: 'missing permission script_schedule:read' });
      await http().post(`/schedules/${paris.jobId}/trigger`).set('Authorization', reader()).expect(403);
      await http().post(`/schedules/${paris.jobId}/pause`).set('Authorization', reader()).expect(403);
    });

    it('lists the tenant’s schedules as {items,total,limit,offset}, filtered by status and script_id', async () => {
      const all = await http().get('/schedules').set('Authorization', reader()).expect(200);
      expect(all.body).toMatchObject({ total: 2, limit: 50, offset: 0 });
      expect(all.body.items.map((s: { script_name: string }) => s.script_name).sort()).toEqual(['nightly', 'paused-one']);

      const paused = await http().get('/schedules?status=paused').set('Authorization', reader()).expect(200);
      expect(paused.body.items.map((s: { script_name: string }) => s.script_name)).toEqual(['paused-one']);
      const byScript = await http().get(`/schedules?script_id=${paris.scriptId}&limit=1`).set('Authorization', reader()).expect(200);
      expect(byScript.body).toMatchObject({ total: 1, limit: 1, items: [{ id: paris.jobId, cron_expression: '30 2 * * *', timezone: 'Europe/Paris', misfire_policy: 'run_once', is_running: false }] });
      // Another tenant's schedule is never listed.
      const theirs = await http().get(`/schedules?script_id=${foreign.scriptId}`).set('Authorization', reader()).expect(200);
      expect(theirs.body).toMatchObject({ items: [], total: 0 });
    });

    it.each([
      ['/schedules?status=running', 'status'],
      ['/schedules?script_id=nope', 'script_id'],
      ['/schedules?limit=0', 'limit'],
      ['/schedules?colour=blue', 'colour'],
    ])('answers 400 naming the field for %s', async (url, field) => {
      expect((await http().get(url).set('Authorization', reader()).expect(400)).body).toMatchObject({ status: 400, code: 'validation_failed', field });
    });

    it('reads one schedule; another tenant’s is 404; a malformed id 400', async () => {
      const one = await http().get(`/schedules/${paris.jobId}`).set('Authorization', reader()).expect(200);
      expect(one.body).toMatchObject({ id: paris.jobId, script_id: paris.scriptId, script_status: 'active', status: 'active', run_count: 0, success_rate: null, failure_action: 'pause', failure_threshold: 3 });
      expect((await http().get(`/schedules/${foreign.jobId}`).set('Authorization', reader()).expect(404)).body).toMatchObject({ code: 'not_found' });
      expect((await http().get('/schedules/123').set('Authorization', reader()).expect(400)).body).toMatchObject({ code: 'validation_failed', field: 'id' });
    });

    it('lists upcoming occurrences in the schedule’s time zone, across the spring change', async () => {
      const response = await http().get(`/schedules/${paris.jobId}/occurrences?count=3`).set('Authorization', reader()).expect(200);
      expect(response.body).toMatchObject({ schedule_id: paris.jobId, timezone: 'Europe/Paris', status: 'active' });
      expect(response.body.items).toEqual([
        { at: '2025-03-30T01:30:00.000Z', local: '2025-03-30T03:30:00+02:00' },
        { at: '2025-03-31T00:30:00.000Z', local: '2025-03-31T02:30:00+02:00' },
        { at: '2025-04-01T00:30:00.000Z', local: '2025-04-01T02:30:00+02:00' },
      ]);
      expect((await http().get(`/schedules/${paris.jobId}/occurrences`).set('Authorization', reader()).expect(200)).body.items).toHaveLength(10);
      for (const count of ['0', '101', 'x']) {
        expect((await http().get(`/schedules/${paris.jobId}/occurrences?count=${count}`).set('Authorization', reader()).expect(400)).body).toMatchObject({ field: 'count' });
      }
      await http().get(`/schedules/${foreign.jobId}/occurrences`).set('Authorization', reader()).expect(404);
    });

    it('triggers the script now: 202, a manual execution request in the outbox; 404 for another tenant; 409 when the script is not active', async () => {
      const accepted = await http().post(`/schedules/${paris.jobId}/trigger`).set('Authorization', writer()).expect(202);
      expect(accepted.body).toMatchObject({ schedule_id: paris.jobId, script_id: paris.scriptId, trigger_type: 'manual' });
      const [requested] = await requestsFor(paris.jobId);
      expect(requested).toMatchObject({
        id: accepted.body.request_id,
        type: EventType.ScriptExecutionRequested,
        tenantid: tenant.tenantId,
        data: { script_id: paris.scriptId, trigger_type: 'manual', trigger_data: { schedule_id: paris.jobId }, requested_by: 'alice' },
      });
      const [row] = await db.dataSource.query('SELECT message_key, topic FROM outbox WHERE id = $1', [accepted.body.request_id]);
      expect(row).toEqual({ message_key: messageKey.tenantScript(tenant.tenantId, paris.scriptId), topic: Topic.ScriptExecutionRequests });
      expect(await job(paris.jobId)).toMatchObject({ run_count: 0, is_running: false, next_run_at: null }); // not an occurrence

      await http().post(`/schedules/${foreign.jobId}/trigger`).set('Authorization', writer()).expect(404);
      await db.dataSource.query(`UPDATE scripts SET status = 'paused' WHERE id = $1`, [paris.scriptId]);
      try {
        expect((await http().post(`/schedules/${paris.jobId}/trigger`).set('Authorization', writer()).expect(409)).body).toMatchObject({ code: 'conflict', field: 'script_id' });
      } finally {
        await db.dataSource.query(`UPDATE scripts SET status = 'active' WHERE id = $1`, [paris.scriptId]);
      }
    });

    it('pauses and resumes; resuming reschedules from the next occurrence; wrong state is 409', async () => {
      await db.dataSource.query(`UPDATE script_scheduled_jobs SET next_run_at = $2, consecutive_failures = 2 WHERE id = $1`, [paris.jobId, new Date('2025-03-30T01:30:00Z')]);
      expect((await http().post(`/schedules/${paris.jobId}/pause`).set('Authorization', writer()).expect(200)).body).toMatchObject({ status: 'paused', updated_by: 'alice' });
      expect((await http().post(`/schedules/${paris.jobId}/pause`).set('Authorization', writer()).expect(409)).body).toMatchObject({ code: 'invalid_transition' });
      const resumed = await http().post(`/schedules/${paris.jobId}/resume`).set('Authorization', writer()).expect(200);
      expect(resumed.body).toMatchObject({ status: 'active', next_run_at: null, consecutive_failures: 0 });
      await http().post(`/schedules/${foreign.jobId}/resume`).set('Authorization', writer()).expect(404);
    });

    it('publishes the endpoints in its OpenAPI document', async () => {
      const doc = (await http().get('/docs/openapi.json').expect(200)).body;
      expect(Object.keys(doc.paths).filter((p) => p.startsWith('/schedules')).sort()).toEqual(
        ['/schedules', '/schedules/{id}', '/schedules/{id}/occurrences', '/schedules/{id}/pause', '/schedules/{id}/resume', '/schedules/{id}/trigger'].sort(),
      );
      expect(doc.paths['/schedules/{id}/trigger'].post.responses).toHaveProperty('202');
    });
  });

  describe('firing (clock injected, loop driven by hand)', () => {
    beforeEach(async () => {
      // Keep each test to its own rows.
      await db.dataSource.query(`UPDATE script_scheduled_jobs SET status = 'paused', is_running = false`);
    });

    it('gives new schedules their next occurrence after now, only while the script is active; an invalid one is disabled with the reason', async () => {
      clock.t = new Date('2025-06-02T10:00:30Z');
      const fresh = await createScheduledScript(db.dataSource, tenant, { cron_expression: '*/5 * * * *' });
      const draft = await createScheduledScript(db.dataSource, tenant, { status: 'draft' });
      const broken = await createScheduledScript(db.dataSource, tenant, { cron_expression: '61 * * * *' });
      const badZone = await createScheduledScript(db.dataSource, tenant, { timezone: 'Mars/Base' });
      await firing.scheduleNew();
      expect((await job(fresh.jobId)).next_run_at).toEqual(new Date('2025-06-02T10:05:00Z'));
      expect((await job(draft.jobId)).next_run_at).toBeNull();
      expect(await job(broken.jobId)).toMatchObject({ status: 'disabled', next_run_at: null, last_error: expect.stringContaining('minute field "61": 61 is outside 0-59') });
      expect(await job(badZone.jobId)).toMatchObject({ status: 'disabled', last_error: expect.stringContaining('timezone "Mars/Base"') });
    });

    it('fires a due occurrence once, in the claim transaction: request in the outbox, next_run_at advanced, is_running set', async () => {
      clock.t = new Date('2025-06-02T10:05:00.120Z');
      const s = await createScheduledScript(db.dataSource, tenant, { cron_expression: '*/5 * * * *', next_run_at: new Date('2025-06-02T10:05:00Z') });
      expect(await firing.fireDue()).toBe(1);
      expect(await firing.fireDue()).toBe(0); // is_running holds the next occurrence back; nothing is due anyway

      const [requested] = await requestsFor(s.jobId);
      expect(requested).toMatchObject({
        type: EventType.ScriptExecutionRequested,
        source: 'provisio/scheduler',
        tenantid: tenant.tenantId,
        subject: s.scriptId,
        data: {
          script_id: s.scriptId,
          trigger_type: 'cron',
          scheduled_job_id: s.jobId,
          scheduled_for: '2025-06-02T10:05:00.000Z',
          trigger_data: { schedule_id: s.jobId, scheduled_for: '2025-06-02T10:05:00.000Z', cron_expression: '*/5 * * * *', timezone: 'UTC', catch_up: false },
        },
      });
      expect(await job(s.jobId)).toMatchObject({
        next_run_at: new Date('2025-06-02T10:10:00Z'),
        last_run_at: new Date('2025-06-02T10:05:00Z'),
        last_run_status: 'pending',
        is_running: true,
        run_count: 1,
        locked_by: firing.replicaId,
        locked_until: new Date(clock.t.getTime() + 30_000 + 1_000),
      });
    });

    it("checks the script's required_permissions against the schedule owner's: a run they lack is a skipped execution naming it", async () => {
      clock.t = new Date('2025-06-02T10:15:00.050Z');
      const due = new Date('2025-06-02T10:15:00Z');
      const lacking = await createScheduledScript(db.dataSource, tenant, { cron_expression: '*/15 * * * *', next_run_at: due, schedule: { owner_permissions: ['hr:read'] } });
      const holding = await createScheduledScript(db.dataSource, tenant, { cron_expression: '*/15 * * * *', next_run_at: due, schedule: { owner_permissions: ['hr:read', 'payroll:manage'] } });
      await db.dataSource.query(`UPDATE scripts SET required_permissions = '{hr:read,payroll:read}' WHERE id = ANY($1::uuid[])`, [[lacking.scriptId, holding.scriptId]]);
      expect(await firing.fireDue()).toBe(2);

      expect(await requestsFor(lacking.jobId)).toEqual([]);
      expect(await job(lacking.jobId)).toMatchObject({ next_run_at: new Date('2025-06-02T10:30:00Z'), is_running: false, last_error: expect.stringContaining('payroll:read') });
      const executions = await db.dataSource.query('SELECT status, trigger_type, error, scheduled_job_id, scheduled_for FROM script_executions WHERE script_id = $1', [lacking.scriptId]);
      expect(executions).toEqual([{ status: 'skipped', trigger_type: 'cron', error: expect.stringContaining('requires permission payroll:read'), scheduled_job_id: lacking.jobId, scheduled_for: due }]);

      expect(await requestsFor(holding.jobId)).toHaveLength(1);
      expect(await job(holding.jobId)).toMatchObject({ is_running: true, run_count: 1 });
    });

    it("runs a schedule now only for a caller holding the script's required_permissions (403 naming the one missing)", async () => {
      const s = await createScheduledScript(db.dataSource, tenant, { cron_expression: '0 0 * * *' });
      await db.dataSource.query(`UPDATE scripts SET required_permissions = '{payroll:read}' WHERE id = $1`, [s.scriptId]);
      const refused = await http().post(`/schedules/${s.jobId}/trigger`).set('Authorization', writer()).expect(403);
      expect(refused.body).toMatchObject({ code: 'forbidden', field: 'required_permissions', message: expect.stringContaining('payroll:read') });
      expect(await requestsFor(s.jobId)).toEqual([]);
      await http().post(`/schedules/${s.jobId}/trigger`).set('Authorization', token([Permission.ScriptScheduleWrite, 'payroll:read'])).expect(202);
    });

    it('prepares the firing of the next occurrence ahead and commits it on the instant: nothing is visible before', async () => {
      clock.t = new Date('2025-06-02T10:29:58.800Z');
      const s = await createScheduledScript(db.dataSource, tenant, { cron_expression: '30 10 * * *', next_run_at: new Date('2025-06-02T10:30:00Z') });
      const at = new Date('2025-06-02T10:30:00Z');
      let seenWhileHeld: unknown[] = ['not held'];
      const prepared = await firing.fireAt(at, async () => {
        // Another connection sees neither the request nor the advanced row until the commit.
        seenWhileHeld = [...(await requestsFor(s.jobId)), ...(await db.dataSource.query('SELECT id FROM script_scheduled_jobs WHERE id = $1 AND next_run_at > $2', [s.jobId, at]))];
        clock.t = at; // the instant comes
      });
      expect(prepared).toBe(1);
      expect(seenWhileHeld).toEqual([]);
      const [requested] = await requestsFor(s.jobId);
      expect(requested).toMatchObject({ time: '2025-06-02T10:30:00.000Z', data: { scheduled_for: '2025-06-02T10:30:00.000Z', trigger_type: 'cron' } });
      expect(await job(s.jobId)).toMatchObject({ next_run_at: new Date('2025-06-03T10:30:00Z'), is_running: true, run_count: 1 });
    });

    it('a prepared firing released before its instant (the replica stops) rolls back: never early', async () => {
      clock.t = new Date('2025-06-02T10:44:59.000Z');
      const s = await createScheduledScript(db.dataSource, tenant, { cron_expression: '45 10 * * *', next_run_at: new Date('2025-06-02T10:45:00Z') });
      await expect(firing.fireAt(new Date('2025-06-02T10:45:00Z'), async () => undefined)).rejects.toThrow(/released before its instant; rolled back/);
      expect(await requestsFor(s.jobId)).toEqual([]);
      expect(await job(s.jobId)).toMatchObject({ next_run_at: new Date('2025-06-02T10:45:00Z'), is_running: false, run_count: 0 });
    });

    it('fires nothing for a paused script; re-activated, it resumes at the next future occurrence', async () => {
      clock.t = new Date('2025-06-02T11:00:00Z');
      const s = await createScheduledScript(db.dataSource, tenant, { cron_expression: '* * * * *', next_run_at: new Date('2025-06-02T11:00:00Z'), status: 'paused' });
      clock.t = new Date('2025-06-02T11:03:10Z');
      expect(await firing.fireDue()).toBe(0);
      // The registry re-activates the script and resets next_run_at in the same transaction.
      await db.dataSource.query(`UPDATE scripts SET status = 'active' WHERE id = $1`, [s.scriptId]);
      await db.dataSource.query('UPDATE script_scheduled_jobs SET next_run_at = NULL WHERE id = $1', [s.jobId]);
      await firing.scheduleNew();
      expect(await firing.fireDue()).toBe(0);
      expect((await job(s.jobId)).next_run_at).toEqual(new Date('2025-06-02T11:04:00Z'));
      expect(await requestsFor(s.jobId)).toEqual([]);
    });

    it('after an outage: skip jumps to the next future occurrence; run_once fires one catch-up first', async () => {
      clock.t = new Date('2025-06-02T12:00:00Z');
      const skip = await createScheduledScript(db.dataSource, tenant, { next_run_at: new Date('2025-06-02T12:00:00Z') });
      const once = await createScheduledScript(db.dataSource, tenant, { next_run_at: new Date('2025-06-02T12:00:00Z'), schedule: { misfire_policy: 'run_once' } });
      clock.t = new Date('2025-06-02T12:10:30Z'); // every replica was down for ten minutes
      expect(await firing.fireDue()).toBe(2);
      expect(await requestsFor(skip.jobId)).toEqual([]);
      expect(await job(skip.jobId)).toMatchObject({ next_run_at: new Date('2025-06-02T12:11:00Z'), is_running: false, run_count: 0 });
      const [catchUp] = await requestsFor(once.jobId);
      expect(catchUp.data).toMatchObject({ scheduled_for: '2025-06-02T12:10:00.000Z', trigger_data: { catch_up: true, missed_occurrences: 11 } });
      expect(await job(once.jobId)).toMatchObject({ next_run_at: new Date('2025-06-02T12:11:00Z'), is_running: true, run_count: 1 });
    });

    describe('outcomes', () => {
      const finished = (s: { scriptId: string; jobId: string }, scheduledFor: string, status: ScriptExecutionFinished['status'], error?: string) =>
        createCloudEvent<ScriptExecutionFinished>({
          source: 'provisio/execution-worker',
          type: EventType.ScriptExecutionFinished,
          tenantid: tenant.tenantId,
          subject: s.scriptId,
          data: { execution_id: globalThis.crypto.randomUUID(), script_id: s.scriptId, status, trigger_type: 'cron', duration_ms: 42, error: error ?? null, scheduled_job_id: s.jobId, scheduled_for: scheduledFor },
        });
      const publish = async (s: { scriptId: string }, ...events: object[]) =>
        producer.send({ topic: prefix + Topic.ScriptExecutions, messages: events.map((e) => ({ key: messageKey.tenantScript(tenant.tenantId, s.scriptId), value: JSON.stringify(e) })) });
      const consumed = (ids: string[]) =>
        eventually(async () => (await db.dataSource.query('SELECT count(*)::int AS n FROM processed_events WHERE consumer = $1 AND event_id = ANY($2)', [ConsumerGroup.SchedulerExecutions, ids]))[0].n === ids.length, {
          what: 'results consumed',
          timeoutMs: 60_000,
        });

      it('records a result once (redelivery included), clears is_running, and applies failure_action after the threshold', async () => {
        clock.t = new Date('2025-06-02T13:00:00.050Z');
        const s = await createScheduledScript(db.dataSource, tenant, { next_run_at: new Date('2025-06-02T13:00:00Z'), schedule: { failure_action: 'pause', failure_threshold: 2 } });
        await firing.fireDue();
        const ok = finished(s, '2025-06-02T13:00:00.000Z', 'completed');
        await publish(s, ok, ok);
        await consumed([ok.id]);
        expect(await job(s.jobId)).toMatchObject({ is_running: false, last_run_status: 'completed', success_count: 1, failure_count: 0, total_duration_ms: '42', locked_by: null });

        for (const minute of ['01', '02']) {
          clock.t = new Date(`2025-06-02T13:${minute}:00.050Z`);
          expect(await firing.fireDue()).toBe(1);
          const failed = finished(s, `2025-06-02T13:${minute}:00.000Z`, 'failed', 'TypeError: x is undefined');
          await publish(s, failed);
          await consumed([failed.id]);
        }
        expect(await job(s.jobId)).toMatchObject({ status: 'paused', is_running: false, last_run_status: 'failed', failure_count: 2, consecutive_failures: 2, run_count: 3, last_error: 'TypeError: x is undefined' });
        clock.t = new Date('2025-06-02T13:03:00.050Z');
        expect(await firing.fireDue()).toBe(0); // paused by its failure action
      });

      it('consumes script changes (they only wake the loop)', async () => {
        const changed = createCloudEvent({ source: 'provisio/script-registry', type: EventType.ScriptChanged, tenantid: tenant.tenantId, data: { script_id: globalThis.crypto.randomUUID(), change: 'status_changed', status: 'active' } });
        // The group starts at the end of the topic: keep publishing until it has joined and sees one.
        await eventually(
          async () => {
            await producer.send({ topic: prefix + Topic.ScriptChanges, messages: [{ key: 'k', value: JSON.stringify({ ...changed, id: globalThis.crypto.randomUUID() }) }] });
            return (await db.dataSource.query('SELECT count(*)::int AS n FROM processed_events WHERE consumer = $1', [ConsumerGroup.SchedulerScriptChanges]))[0].n > 0;
          },
          { what: 'a script change consumed', timeoutMs: 60_000, intervalMs: 500 },
        );
      });

      it('releases a run stuck past max_execution_time_ms + grace as timeout; its late result is not counted again', async () => {
        clock.t = new Date('2025-06-02T14:00:00Z');
        const s = await createScheduledScript(db.dataSource, tenant, { next_run_at: new Date('2025-06-02T14:00:00Z'), max_execution_time_ms: 1000 });
        await firing.fireDue();
        clock.t = new Date('2025-06-02T14:00:01.500Z'); // 1 s limit + 1 s grace not yet over
        expect(await firing.releaseStuckRuns()).toBe(0);
        clock.t = new Date('2025-06-02T14:00:02.500Z');
        expect(await firing.releaseStuckRuns()).toBe(1);
        expect(await job(s.jobId)).toMatchObject({ is_running: false, last_run_status: 'timeout', failure_count: 1, consecutive_failures: 1, last_error: expect.stringContaining('no result by 2025-06-02T14:00:02.000Z') });

        const late = finished(s, '2025-06-02T14:00:00.000Z', 'completed');
        await publish(s, late);
        await consumed([late.id]);
        expect(await job(s.jobId)).toMatchObject({ last_run_status: 'timeout', success_count: 0, failure_count: 1 });
      });
    });
  });
});
