import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Producer } from 'kafkajs';
import { createCloudEvent, messageKey, Topic } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, createTenantFixture, IsolatedSchema } from '@provisio/persistence/testing';
import { loadConfig } from '@provisio/platform';
import { eventually, testEnv, testKafka, uniqueTopicPrefix } from '@provisio/platform/testing';
import { AppModule } from '../app.module';
import { appConfigSchema } from '../config';

describe('execution-worker: domain events from a plain Kafka client', () => {
  let db: IsolatedSchema;
  let app: INestApplication;
  let producer: Producer;
  let prefix: string;
  let tenant: { tenantId: string; organizationId: string };
  let scriptId: string;
  const kafka = testKafka();

  beforeAll(async () => {
    db = await createIsolatedSchema(migrations);
    tenant = await createTenantFixture(db.dataSource);
    [{ id: scriptId }] = await db.dataSource.query(
      `INSERT INTO scripts (tenant_id, organization_id, name, source, type, status, event_types)
       VALUES ($1, $2, 'welcome', 'export default async (ctx) => ctx.event', 'event', 'active', ARRAY['user.created'])
       RETURNING id`,
      [tenant.tenantId, tenant.organizationId],
    );
    await db.dataSource.query(`INSERT INTO script_event_subscriptions (script_id, tenant_id, event_type) VALUES ($1, $2, 'user.created')`, [scriptId, tenant.tenantId]);
    prefix = uniqueTopicPrefix();
    const config = loadConfig(appConfigSchema, testEnv({ DATABASE_SCHEMA: db.schema, KAFKA_TOPIC_PREFIX: prefix }));
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

  const executionsFor = (eventId: string) =>
    db.dataSource.query(`SELECT script_id, status, trigger_type, trigger_data, input, output FROM script_executions WHERE trigger_data->>'event_id' = $1`, [eventId]);

  it('creates and runs one event-triggered execution per subscribed active script, once per event', async () => {
    const event = createCloudEvent({ source: '//hr.example.com', type: 'user.created', tenantid: tenant.tenantId, subject: 'u-1', data: { user_id: 'u-1', first_name: 'Zoë' } });
    const message = { key: messageKey.tenantAccount(tenant.tenantId, 'u-1'), value: JSON.stringify(event) };
    await producer.send({ topic: prefix + Topic.DomainEvents, messages: [message] });
    await producer.send({ topic: prefix + Topic.DomainEvents, messages: [message] }); // redelivered

    const rows = await eventually(async () => {
      const found = await executionsFor(event.id);
      return found.length > 0 && found[0].status === 'completed' ? found : null;
    }, { what: 'execution recorded and run' });
    // A later event on the same key proves the duplicate has been consumed by now.
    const later = createCloudEvent({ source: '//hr.example.com', type: 'user.created', tenantid: tenant.tenantId, data: { user_id: 'u-1' } });
    await producer.send({ topic: prefix + Topic.DomainEvents, messages: [{ ...message, value: JSON.stringify(later) }] });
    await eventually(async () => (await executionsFor(later.id)).length === 1, { what: 'later event recorded' });

    expect(await executionsFor(event.id)).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      script_id: scriptId,
      status: 'completed',
      trigger_type: 'event',
      trigger_data: { event_id: event.id, event_type: 'user.created', source: '//hr.example.com', subject: 'u-1' },
      input: { user_id: 'u-1', first_name: 'Zoë' },
      output: { event_id: event.id, event_type: 'user.created', data: { user_id: 'u-1', first_name: 'Zoë' } },
    });
  });

  it('runs events of two sources that share an id, in one batch, each once with its own data', async () => {
    const hr = createCloudEvent({ source: '//hr.example.com', type: 'user.created', tenantid: tenant.tenantId, data: { user_id: 'u-hr' } });
    const crm = { ...createCloudEvent({ source: '//crm.example.com', type: 'user.created', tenantid: tenant.tenantId, data: { user_id: 'u-crm' } }), id: hr.id };
    const key = messageKey.tenantAccount(tenant.tenantId, 'shared-id');
    await producer.send({ topic: prefix + Topic.DomainEvents, messages: [hr, crm, hr].map((e) => ({ key, value: JSON.stringify(e) })) });
    const rows: { status: string; input: { user_id: string }; trigger_data: { source: string } }[] = await eventually(async () => {
      const found = await executionsFor(hr.id);
      return found.length === 2 && found.every((r: { status: string }) => r.status === 'completed') ? found : null;
    }, { what: 'both events run' });
    expect(rows.map((r) => [r.trigger_data.source, r.input.user_id]).sort()).toEqual([['//crm.example.com', 'u-crm'], ['//hr.example.com', 'u-hr']]);
  });

  it('ignores events of other tenants and other types, and scripts that are not active', async () => {
    const otherTenant = await createTenantFixture(db.dataSource);
    const foreign = createCloudEvent({ source: 's', type: 'user.created', tenantid: otherTenant.tenantId, data: { user_id: 'x' } });
    const otherType = createCloudEvent({ source: 's', type: 'user.deleted', tenantid: tenant.tenantId, data: { user_id: 'x' } });
    await db.dataSource.query(`UPDATE scripts SET status = 'paused' WHERE id = $1`, [scriptId]);
    const whilePaused = createCloudEvent({ source: 's', type: 'user.created', tenantid: tenant.tenantId, data: { user_id: 'x' } });
    for (const event of [foreign, otherType, whilePaused]) {
      await producer.send({ topic: prefix + Topic.DomainEvents, messages: [{ key: 'k', value: JSON.stringify(event) }] });
    }
    await eventually(async () => (await db.dataSource.query('SELECT count(*)::int AS n FROM processed_events WHERE event_id = ANY($1)', [[foreign.id, otherType.id, whilePaused.id]]))[0].n === 3, { what: 'all three consumed' });
    for (const event of [foreign, otherType, whilePaused]) expect(await executionsFor(event.id)).toEqual([]);
  });
});
