import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Producer } from 'kafkajs';
import { createCloudEvent, Topic } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, createTenantFixture, IsolatedSchema, TenantFixture } from '@provisio/persistence/testing';
import { loadConfig, REPLACEMENT_CHARACTER as R } from '@provisio/platform';
import { eventually, readTopic, sleep, testEnv, testKafka, uniqueTopicPrefix } from '@provisio/platform/testing';
import { AppModule } from '../app.module';
import { appConfigSchema } from '../config';
import { ExecutionQueue } from './execution-queue.service';

/**
 * Every run ends with exactly one terminal record, whatever it returned or logged: text PostgreSQL
 * refuses is stored as U+FFFD, a record it still refuses becomes a `failed` record saying why, and the
 * recovery sweep re-queues an abandoned run a bounded number of times.
 */
describe('execution-worker: recording runs whatever they produce', () => {
  let db: IsolatedSchema;
  let app: INestApplication;
  let producer: Producer;
  let prefix: string;
  let tenant: TenantFixture;
  const kafka = testKafka();
  const MAX_RECOVERIES = 2;

  beforeAll(async () => {
    db = await createIsolatedSchema(migrations);
    tenant = await createTenantFixture(db.dataSource);
    prefix = uniqueTopicPrefix();
    // The sweep runs when the tests call it, not on a timer.
    const config = loadConfig(
      appConfigSchema,
      testEnv({ DATABASE_SCHEMA: db.schema, KAFKA_TOPIC_PREFIX: prefix, REDIS_KEY_PREFIX: `test:${prefix}`, SCRIPT_EVENT_RETRY_BASE_DELAY_MS: '100', SANDBOX_POOL_SIZE: '1', EXECUTION_SWEEP_INTERVAL_MS: '600000', EXECUTION_MAX_RECOVERIES: String(MAX_RECOVERIES) }),
    );
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
    app = moduleRef.createNestApplication();
    await app.init();
    producer = kafka.producer();
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await app?.close();
    await db?.drop();
  });

  async function eventScript(name: string, eventType: string, source: string): Promise<string> {
    const [{ id }] = await db.dataSource.query(
      `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, event_types, current_version, resource_limits)
       VALUES ($1, $2, $3, $4, 'event', 'active', ARRAY[$5], 1, '{"max_execution_time_ms": 5000}'::jsonb) RETURNING id`,
      [tenant.tenantId, tenant.organizationId, name, source, eventType],
    );
    await db.dataSource.query('INSERT INTO script_event_subscriptions (script_id, tenant_id, event_type) VALUES ($1, $2, $3)', [id, tenant.tenantId, eventType]);
    return id;
  }
  const publish = (event: ReturnType<typeof createCloudEvent>) => producer.send({ topic: prefix + Topic.DomainEvents, messages: [{ key: String(event.subject ?? event.id), value: JSON.stringify(event) }] });
  const executionsOf = (scriptId: string) => db.dataSource.query(`SELECT * FROM script_executions WHERE script_id = $1 ORDER BY started_at, retry_count`, [scriptId]);
  const deadLettersOf = (scriptId: string) => db.dataSource.query('SELECT * FROM script_event_dead_letters WHERE script_id = $1', [scriptId]);
  const terminal = (rows: { status: string }[]) => rows.length > 0 && rows.every((r) => !['pending', 'queued', 'running'].includes(r.status));

  it('records once a run that returns and logs NUL, lone surrogates, control characters and long lines (U+FFFD for the first two)', async () => {
    const scriptId = await eventScript(
      'hostile-text',
      'user.renamed',
      `export default async (ctx) => {
        console.log('nul \\u0000 here', 'lone \\ud800');
        console.warn('x'.repeat(20000));
        return { nul: 'a\\u0000b', lone: '\\udfff', pair: '\\ud83d\\ude00', controls: '\\t\\u0007\\u001b', ['key\\u0000']: 1, echoed: ctx.event.data.name, long: 'y'.repeat(300000) };
      }`,
    );
    const event = createCloudEvent({ source: '//hr', type: 'user.renamed', tenantid: tenant.tenantId, subject: 'u-text', data: { name: 'from \u0000 upstream \uDC00' } });
    await publish(event);
    const [run] = await eventually(async () => {
      const rows = await executionsOf(scriptId);
      return terminal(rows) ? rows : null;
    }, { what: 'the run recorded' });
    expect(run.status).toBe('completed');
    expect(run.input).toEqual({ name: `from ${R} upstream ${R}` });
    expect({ ...run.output, long: run.output.long.length }).toEqual({ nul: `a${R}b`, lone: R, pair: '😀', controls: '\t\u0007\u001b', [`key${R}`]: 1, echoed: `from ${R} upstream ${R}`, long: 300_000 });
    // (The sandbox's console cuts an argument at a NUL today; what reaches the record is stored.)
    expect(run.logs).toHaveLength(2);
    expect(run.logs[0].message).toMatch(new RegExp(`^nul .*lone ${R}$`));
    expect(run.logs[1].message).toBe('x'.repeat(20_000));
    // Not run again: the sweep finds nothing, and the row stays the only one.
    await app.get(ExecutionQueue).sweep();
    await sleep(500);
    expect(await executionsOf(scriptId)).toHaveLength(1);
  });

  it('records a run whose result PostgreSQL refuses as failed, with why, once, and dead-letters its event without retrying it', async () => {
    // A data error PostgreSQL raises on the record itself (SQLSTATE 23514), whatever the escaping does.
    await db.dataSource.query(`ALTER TABLE script_executions ADD CONSTRAINT test_refused_output CHECK (output IS NULL OR NOT (output ? 'refuse_me'))`);
    const scriptId = await eventScript('refused-result', 'user.refused', `export default async () => { console.log('logged'); return { refuse_me: true }; }`);
    const companion = await eventScript('companion', 'user.refused', `export default async () => ({ fine: true })`);
    const event = createCloudEvent({ source: '//hr', type: 'user.refused', tenantid: tenant.tenantId, subject: 'u-refused', data: { user_id: 'u-refused' } });
    await publish(event);
    const [letter] = await eventually(async () => {
      const letters = await deadLettersOf(scriptId);
      return letters.length ? letters : null;
    }, { what: 'the event dead-lettered' });
    const runs = await executionsOf(scriptId);
    expect(runs.map((r: { status: string; retry_count: number }) => [r.status, r.retry_count])).toEqual([['failed', 0]]);
    expect(runs[0].error).toMatch(/^the run ended completed but its result could not be stored \(23514: .*test_refused_output/);
    expect(runs[0]).toMatchObject({ output: null, logs: [], next_retry_at: null });
    expect(letter).toMatchObject({ execution_id: runs[0].id, event_type: 'user.refused' });
    expect(letter.error).toContain('could not be stored');
    // The other script's run of the same event, recorded in the same statement at first, is recorded as it ran.
    expect((await executionsOf(companion)).map((r: { status: string; output: unknown }) => [r.status, r.output])).toEqual([['completed', { fine: true }]]);
    await app.get(ExecutionQueue).sweep();
    await sleep(1_000); // a retry would be due after 100 ms
    expect(await executionsOf(scriptId)).toHaveLength(1);
  });

  it('dead-letters the failing runs of events close to 1 MB, and announces each on the .dlq topic', async () => {
    const scriptId = await eventScript('fails-big', 'user.big', `export default async (ctx) => { throw new Error('no room for ' + ctx.event.data.blob.length); }`);
    const events = Array.from({ length: 3 }, (_, n) => createCloudEvent({ source: '//hr', type: 'user.big', tenantid: tenant.tenantId, subject: 'u-big', data: { n, blob: `${'b'.repeat(900_000)}\u0000${n}` } }));
    for (const event of events) await publish(event); // one key: one partition, one after the other
    const letters = await eventually(async () => {
      const found = await deadLettersOf(scriptId);
      return found.length === 3 ? found : null;
    }, { what: 'three dead letters', timeoutMs: 60_000 });
    expect(letters.map((l: { event_data: { data: { blob: string } } }) => l.event_data.data.blob.length).sort()).toEqual([900_002, 900_002, 900_002]);
    const dlq = await readTopic(kafka, prefix + Topic.ScriptEventsDlq, (m) => m.filter((x) => JSON.parse(x.value!).data.script_id === scriptId).length >= 3, { timeoutMs: 60_000 });
    const mine = dlq.map((m) => JSON.parse(m.value!)).filter((e) => e.data.script_id === scriptId);
    expect(mine).toHaveLength(3);
    for (const e of mine) expect(e.data.event).toMatchObject({ event_type: 'user.big', data_omitted: expect.stringContaining('see the dead letter') });
  });

  it('re-queues an abandoned run and counts it; past EXECUTION_MAX_RECOVERIES fails it with why and dead-letters its event', async () => {
    const scriptId = await eventScript('abandoned', 'user.abandoned', `export default async () => 'ran'`);
    const abandoned = async (recoveries: number): Promise<string> => {
      const [{ id }] = await db.dataSource.query(
        `INSERT INTO script_executions (script_id, tenant_id, status, trigger_type, trigger_data, input, max_retries, started_at, recovery_count)
         VALUES ($1, $2, 'running', 'event', $3::jsonb, '{}'::jsonb, 2, now() - interval '1 hour', $4) RETURNING id`,
        [scriptId, tenant.tenantId, JSON.stringify({ event_id: `e-${recoveries}`, event_type: 'user.abandoned', source: '//hr' }), recoveries],
      );
      return id;
    };
    const requeued = await abandoned(MAX_RECOVERIES - 1);
    const exhausted = await abandoned(MAX_RECOVERIES);
    const sweep = app.get(ExecutionQueue);
    expect(await sweep.sweep()).toBe(1);
    const row = async (id: string) => (await db.dataSource.query('SELECT status, error, recovery_count, output FROM script_executions WHERE id = $1', [id]))[0];
    await eventually(async () => (await row(requeued)).status === 'completed', { what: 'the re-queued run completed' });
    expect(await row(requeued)).toMatchObject({ recovery_count: MAX_RECOVERIES, output: 'ran' });
    const failed = await row(exhausted);
    expect(failed).toMatchObject({ status: 'failed', recovery_count: MAX_RECOVERIES });
    expect(failed.error).toMatch(/^abandoned: the run was re-queued 2 times/);
    const letters = await deadLettersOf(scriptId);
    expect(letters.map((l: { execution_id: string }) => l.execution_id)).toEqual([exhausted]);
    expect(await sweep.sweep()).toBe(0);
  });
});
