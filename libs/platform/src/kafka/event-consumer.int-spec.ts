import { Injectable, INestApplication, Module, OnModuleInit } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { createCloudEvent, Topic } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, IsolatedSchema } from '@provisio/persistence/testing';
import { ConfigError, loadConfig } from '../config/load-config';
import { authEnv, databaseEnv, kafkaEnv, outboxEnv, refineAuth, serviceEnv } from '../config/env';
import { TransientError, ValidationError } from '../errors/domain-errors';
import { PlatformModule } from '../platform.module';
import { eventually, readTopic, testEnv, testKafka, uniqueTopicPrefix } from '../testing';
import { DlqHeader, EventConsumerHost } from './event-consumer';

const TENANT = '11111111-1111-4111-8111-111111111111';
const GROUP = 'test.effects';
const schema = refineAuth(z.object({ ...serviceEnv, ...databaseEnv, ...kafkaEnv, ...outboxEnv, ...authEnv }));

/** A consumer whose effect is a row in `test_effects`, applied in the consumer's transaction. */
@Injectable()
class EffectConsumer implements OnModuleInit {
  /** Ids whose first delivery fails with a transient error (to prove the retry). */
  static failOnce = new Set<string>();
  static attempts = new Map<string, number>();
  constructor(private readonly host: EventConsumerHost) {}

  onModuleInit(): void {
    this.host.register<{ value: number }>({
      groupId: GROUP,
      topic: Topic.DomainEvents,
      schemaFor: (type) => (type === 'test.effect' ? z.object({ value: z.number().int() }) : null),
      // What each transaction was prepared with, recorded in it (rolled back with it).
      prepare: async (events, manager) => {
        await manager.query('INSERT INTO test_prepared (event_id) SELECT unnest($1::text[])', [events.map((e) => e.id)]);
      },
      handle: async (event, { manager, partition }) => {
        EffectConsumer.attempts.set(event.id, (EffectConsumer.attempts.get(event.id) ?? 0) + 1);
        if (EffectConsumer.failOnce.delete(event.id)) throw new TransientError('target briefly unavailable');
        if (event.data.value < 0) throw new ValidationError('value must not be negative', 'data.value');
        await manager.query('INSERT INTO test_effects (event_id, value, partition) VALUES ($1, $2, $3)', [event.id, event.data.value, partition]);
      },
    });
  }
}

@Module({ providers: [EffectConsumer] })
class EffectModule {}

describe('EventConsumerHost against the real broker', () => {
  let db: IsolatedSchema;
  let app: INestApplication;
  let producer: Producer;
  let prefix: string;
  const kafka = testKafka();

  beforeAll(async () => {
    db = await createIsolatedSchema(migrations);
    // tx: the transaction that applied the effect (several partitions' groups share one when joined).
    await db.dataSource.query('CREATE TABLE test_effects (event_id text NOT NULL, value int NOT NULL, partition int NOT NULL, tx bigint NOT NULL DEFAULT txid_current())');
    await db.dataSource.query('CREATE TABLE test_prepared (event_id text NOT NULL, tx bigint NOT NULL DEFAULT txid_current())');
    prefix = uniqueTopicPrefix();
    const config = loadConfig(schema, testEnv({ DATABASE_SCHEMA: db.schema, KAFKA_TOPIC_PREFIX: prefix, KAFKA_PARTITIONS_CONSUMED_CONCURRENTLY: '12' }));
    const moduleRef = await Test.createTestingModule({
      imports: [PlatformModule.forRoot({ service: 'consumer-test', config, database: true, kafka: true }), EffectModule],
    }).compile();
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

  const effects = (ds: DataSource, id: string) => ds.query('SELECT value FROM test_effects WHERE event_id = $1', [id]);
  const send = (key: string, value: string | Buffer) => producer.send({ topic: prefix + Topic.DomainEvents, messages: [{ key, value }] });

  it('applies an event published by a plain Kafka client, once, even when it is delivered again', async () => {
    const event = createCloudEvent({ source: 'test', type: 'test.effect', tenantid: TENANT, data: { value: 7 } });
    await send('k-dup', JSON.stringify(event));
    await send('k-dup', JSON.stringify(event)); // the same event id again: a redelivery
    await eventually(async () => (await db.dataSource.query('SELECT count(*)::int AS n FROM processed_events WHERE consumer = $1 AND event_id = $2', [GROUP, event.id]))[0].n === 1, { what: 'event recorded' });
    // Give the duplicate time to be consumed, then check the effect happened once.
    const marker = createCloudEvent({ source: 'test', type: 'test.effect', tenantid: TENANT, data: { value: 1 } });
    await send('k-dup', JSON.stringify(marker));
    await eventually(async () => (await effects(db.dataSource, marker.id)).length === 1, { what: 'marker applied' });
    expect(await effects(db.dataSource, event.id)).toEqual([{ value: 7 }]);
    expect(EffectConsumer.attempts.get(event.id)).toBe(1);
  });

  it('sends poison messages to the .dlq topic with the reason and origin, and the partition keeps flowing', async () => {
    const key = 'k-poison'; // one key: one partition, so the good event queues behind the poison
    const bad = createCloudEvent({ source: 'test', type: 'test.effect', tenantid: TENANT, data: { value: 'seven' } });
    const rejected = createCloudEvent({ source: 'test', type: 'test.effect', tenantid: TENANT, data: { value: -1 } });
    const good = createCloudEvent({ source: 'test', type: 'test.effect', tenantid: TENANT, data: { value: 42 } });
    await send(key, 'this is not json {');
    await send(key, JSON.stringify({ hello: 'world' }));
    await send(key, JSON.stringify(bad));
    await send(key, JSON.stringify(rejected));
    await send(key, JSON.stringify(good));

    await eventually(async () => (await effects(db.dataSource, good.id)).length === 1, { what: 'good event after poison applied' });
    const dlq = await readTopic(kafka, `${prefix}${Topic.DomainEvents}.dlq`, (m) => m.filter((x) => x.key === key).length >= 4);
    const mine = dlq.filter((m) => m.key === key);
    expect(mine.map((m) => m.headers[DlqHeader.Reason])).toEqual(['not-json', 'not-cloudevent', 'invalid-data', 'handler-rejected']);
    for (const m of mine) {
      expect(m.headers[DlqHeader.OriginalTopic]).toBe(prefix + Topic.DomainEvents);
      expect(Number(m.headers[DlqHeader.OriginalPartition])).toBeGreaterThanOrEqual(0);
      expect(m.headers[DlqHeader.OriginalOffset]).toMatch(/^\d+$/);
      expect(m.headers[DlqHeader.ConsumerGroup]).toBe(GROUP);
    }
    expect(mine[0].value).toBe('this is not json {'); // the original bytes, untouched
    expect(mine[2].headers[DlqHeader.Error]).toContain('data.value');
    expect(mine[3].headers[DlqHeader.Error]).toContain('must not be negative');
    expect(await effects(db.dataSource, rejected.id)).toEqual([]);
  });

  /** `count` events on as many keys (so most partitions), published in one request. */
  async function burst(count: number, value: (i: number) => number) {
    const events = Array.from({ length: count }, (_, i) => createCloudEvent({ source: 'test', type: 'test.effect', tenantid: TENANT, data: { value: value(i) } }));
    await producer.send({ topic: prefix + Topic.DomainEvents, messages: events.map((e, i) => ({ key: `k-burst-${e.id}-${i}`, value: JSON.stringify(e) })) });
    return events;
  }

  it('applies the groups several partitions hand in together in one transaction', async () => {
    const events = await burst(36, () => 1);
    const ids = events.map((e) => e.id);
    const rows: { partition: number; tx: string }[] = await eventually(async () => {
      const applied = await db.dataSource.query('SELECT partition, tx FROM test_effects WHERE event_id = ANY($1)', [ids]);
      return applied.length === ids.length ? applied : null;
    }, { what: 'the burst applied' });
    const partitions = new Set(rows.map((r) => r.partition)).size;
    const transactions = new Set(rows.map((r) => r.tx)).size;
    expect(partitions).toBeGreaterThan(4);
    expect(transactions).toBeLessThan(partitions);
  });

  it('when a joint transaction fails on one event, applies every other event once and dead-letters only that one', async () => {
    const events = await burst(36, (i) => (i === 17 ? -1 : 2));
    const bad = events[17];
    const good = events.filter((e) => e !== bad).map((e) => e.id);
    await eventually(async () => (await db.dataSource.query('SELECT count(*)::int AS n FROM test_effects WHERE event_id = ANY($1)', [good]))[0].n === good.length, { what: 'the good events applied' });
    const dlq = await readTopic(kafka, `${prefix}${Topic.DomainEvents}.dlq`, (m) => m.some((x) => x.key?.startsWith(`k-burst-${bad.id}`)));
    expect(dlq.filter((m) => m.key?.startsWith('k-burst-')).map((m) => m.headers[DlqHeader.Reason])).toEqual(['handler-rejected']);
    expect(await effects(db.dataSource, bad.id)).toEqual([]);
    const counts = await db.dataSource.query('SELECT event_id, count(*)::int AS n FROM test_effects WHERE event_id = ANY($1) GROUP BY 1 HAVING count(*) > 1', [good]);
    expect(counts).toEqual([]);
  });

  it('prepares each transaction with exactly the new events it then handles', async () => {
    const events = await burst(24, () => 4);
    const ids = events.map((e) => e.id);
    await eventually(async () => (await db.dataSource.query('SELECT count(*)::int AS n FROM test_effects WHERE event_id = ANY($1)', [ids]))[0].n === ids.length, { what: 'the burst applied' });
    // Everything this suite applied so far (redeliveries, a joint transaction rolled back, retries included):
    // each effect's transaction was prepared with its event, and no committed preparation names an event it did not apply.
    const unprepared = await db.dataSource.query('SELECT e.event_id FROM test_effects e WHERE NOT EXISTS (SELECT 1 FROM test_prepared p WHERE p.event_id = e.event_id AND p.tx = e.tx)');
    const unapplied = await db.dataSource.query('SELECT p.event_id FROM test_prepared p WHERE NOT EXISTS (SELECT 1 FROM test_effects e WHERE e.event_id = p.event_id AND e.tx = p.tx)');
    expect(unprepared).toEqual([]);
    expect(unapplied).toEqual([]);
    expect((await db.dataSource.query('SELECT count(*)::int AS n FROM test_prepared WHERE event_id = ANY($1)', [ids]))[0].n).toBe(ids.length);
  });

  it('retries an event whose handler fails transiently, and applies it once', async () => {
    const event = createCloudEvent({ source: 'test', type: 'test.effect', tenantid: TENANT, data: { value: 5 } });
    EffectConsumer.failOnce.add(event.id);
    await send('k-retry', JSON.stringify(event));
    await eventually(async () => (await effects(db.dataSource, event.id)).length === 1, { what: 'retried event applied' });
    expect(EffectConsumer.attempts.get(event.id)).toBe(2);
  });

  it('acknowledges valid events of types nobody here handles without dead-lettering them', async () => {
    const other = createCloudEvent({ source: 'test', type: 'group.created', tenantid: TENANT, data: {} });
    const after = createCloudEvent({ source: 'test', type: 'test.effect', tenantid: TENANT, data: { value: 3 } });
    await send('k-other', JSON.stringify(other));
    await send('k-other', JSON.stringify(after));
    await eventually(async () => (await effects(db.dataSource, after.id)).length === 1, { what: 'event after an ignored one applied' });
    const dlq = await readTopic(kafka, `${prefix}${Topic.DomainEvents}.dlq`, () => true, { settleMs: 1000 });
    expect(dlq.filter((m) => m.key === 'k-other')).toEqual([]);
  });

  it('refuses to start on a wrong variable, naming it', () => {
    expect(() => loadConfig(schema, testEnv({ KAFKA_BROKERS: 'no-port-here' }))).toThrow(ConfigError);
  });
});
