import { Injectable, INestApplication, Module, OnModuleInit } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Producer } from 'kafkajs';
import { z } from 'zod';
import { createCloudEvent, Topic } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, IsolatedSchema } from '@provisio/persistence/testing';
import { loadConfig } from '../config/load-config';
import { authEnv, databaseEnv, kafkaEnv, outboxEnv, refineAuth, serviceEnv } from '../config/env';
import { PlatformModule } from '../platform.module';
import { REPLACEMENT_CHARACTER as R } from '../storable/storable-text';
import { eventually, readTopic, testEnv, testKafka, uniqueTopicPrefix } from '../testing';
import { DlqHeader, EventConsumerHost } from './event-consumer';

const TENANT = '22222222-2222-4222-8222-222222222222';
const GROUP = 'test.texts';
const schema = refineAuth(z.object({ ...serviceEnv, ...databaseEnv, ...kafkaEnv, ...outboxEnv, ...authEnv }));
const dataSchema = z.object({ text: z.string(), code: z.string().default('ok') }).catchall(z.unknown());

/**
 * Stores what an upstream system sent as it comes: `text` in a jsonb and a text column, `code` in a
 * varchar(10) (too long a code is a data error PostgreSQL raises: SQLSTATE 22001).
 */
@Injectable()
class TextConsumer implements OnModuleInit {
  constructor(private readonly host: EventConsumerHost) {}

  onModuleInit(): void {
    this.host.register<z.infer<typeof dataSchema>>({
      groupId: GROUP,
      topic: Topic.DomainEvents,
      schemaFor: (type) => (type === 'test.text' ? dataSchema : null),
      handleMany: async (events, manager) => {
        await manager.query(
          `INSERT INTO test_texts (source, event_id, doc, body, code)
           SELECT e.source, e.id, e.doc, e.doc->>'text', e.doc->>'code' FROM jsonb_to_recordset($1::jsonb) AS e(source text, id text, doc jsonb)`,
          [JSON.stringify(events.map((e) => ({ source: e.source, id: e.id, doc: e.data })))],
        );
        return events.map(() => undefined);
      },
      handle: () => Promise.reject(new Error('handleMany is used')),
    });
  }
}

@Module({ providers: [TextConsumer] })
class TextModule {}

describe('EventConsumerHost: untrusted text from a plain Kafka client', () => {
  let db: IsolatedSchema;
  let app: INestApplication;
  let producer: Producer;
  let prefix: string;
  const kafka = testKafka();

  beforeAll(async () => {
    db = await createIsolatedSchema(migrations);
    await db.dataSource.query('CREATE TABLE test_texts (source text NOT NULL, event_id text NOT NULL, doc jsonb NOT NULL, body text NOT NULL, code varchar(10))');
    prefix = uniqueTopicPrefix();
    const config = loadConfig(schema, testEnv({ DATABASE_SCHEMA: db.schema, KAFKA_TOPIC_PREFIX: prefix, KAFKA_PARTITIONS_CONSUMED_CONCURRENTLY: '12' }));
    const moduleRef = await Test.createTestingModule({
      imports: [PlatformModule.forRoot({ service: 'untrusted-text-test', config, database: true, kafka: true }), TextModule],
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

  const stored = (source: string, id: string): Promise<{ doc: { text: string }; body: string }[]> =>
    db.dataSource.query('SELECT doc, body FROM test_texts WHERE source = $1 AND event_id = $2', [source, id]);
  const event = (text: string, extra: Record<string, unknown> = {}, source = '//hr.example.com') => createCloudEvent({ source, type: 'test.text', tenantid: TENANT, data: { text, ...extra } });
  const send = (key: string, values: string[]) => producer.send({ topic: prefix + Topic.DomainEvents, acks: -1, messages: values.map((value) => ({ key, value })) });

  it('stores NUL, lone surrogates and control characters with NUL and unpaired surrogates as U+FFFD; later events on the partition run', async () => {
    const key = 'k-text';
    const nul = event('a\u0000b');
    const lone = event('high \uD800 low \uDFFF pair \uD83D\uDE00');
    const controls = event('tab\tbell\u0007esc\u001b del\u007f line\nbreak');
    const keyed = createCloudEvent({ source: '//hr.example.com', type: 'test.text', tenantid: TENANT, data: { text: 'in a key', ['nul\u0000key']: 1 } });
    const after = event('after');
    // JSON.stringify writes NUL and unpaired surrogates as the escapes `\u0000`, `\ud800`: valid JSON.
    expect(JSON.stringify(nul)).toContain('\\u0000');
    expect(JSON.stringify(lone)).toContain('\\ud800');
    await send(key, [nul, lone, controls, keyed, after].map((e) => JSON.stringify(e)));

    await eventually(async () => (await stored(after.source, after.id)).length === 1, { what: 'the event after them applied' });
    expect(await stored(nul.source, nul.id)).toEqual([{ doc: { text: `a${R}b`, code: 'ok' }, body: `a${R}b` }]);
    expect((await stored(lone.source, lone.id))[0].body).toBe(`high ${R} low ${R} pair \uD83D\uDE00`);
    expect((await stored(controls.source, controls.id))[0].body).toBe('tab\tbell\u0007esc\u001b del\u007f line\nbreak'); // faithful
    const [keyedRow]: { doc: Record<string, unknown> }[] = await db.dataSource.query('SELECT doc FROM test_texts WHERE event_id = $1', [keyed.id]);
    expect(keyedRow.doc).toEqual({ text: 'in a key', code: 'ok', [`nul${R}key`]: 1 });
  });

  it('stores a string close to the broker\'s 1 MB message limit, NUL included, and moves on', async () => {
    const big = event(`${'x'.repeat(500_000)}\u0000${'y'.repeat(480_000)}`); // ~980 KB as a message
    const after = event('after big');
    await send('k-big', [JSON.stringify(big)]);
    await send('k-big', [JSON.stringify(after)]);
    await eventually(async () => (await stored(after.source, after.id)).length === 1, { what: 'the event after the big one applied', timeoutMs: 60_000 });
    const [{ length, nul }] = await db.dataSource.query(`SELECT length(body) AS length, position($2 in body) AS nul FROM test_texts WHERE event_id = $1`, [big.id, R]);
    expect({ length, nul }).toEqual({ length: 980_001, nul: 500_001 });
  });

  it('dead-letters only the event PostgreSQL refuses (data error), with the SQLSTATE, even joined with other partitions and close to 1 MB', async () => {
    const refused = event('z'.repeat(990_000), { code: 'much-too-long-a-code' }); // 22001 on the varchar(10)
    const others = Array.from({ length: 24 }, (_, i) => event(`other ${i}`));
    const sameKeyAfter = event('behind the refused one');
    await producer.send({
      topic: prefix + Topic.DomainEvents,
      acks: -1,
      messages: [
        { key: 'k-refused', value: JSON.stringify(refused) },
        ...others.map((e, i) => ({ key: `k-other-${i}`, value: JSON.stringify(e) })),
        { key: 'k-refused', value: JSON.stringify(sameKeyAfter) },
      ],
    });
    await eventually(async () => (await db.dataSource.query('SELECT count(*)::int AS n FROM test_texts WHERE event_id = ANY($1)', [[...others, sameKeyAfter].map((e) => e.id)]))[0].n === others.length + 1, {
      what: 'every other event applied',
      timeoutMs: 60_000,
    });
    const dlq = await readTopic(kafka, `${prefix}${Topic.DomainEvents}.dlq`, (m) => m.some((x) => x.key === 'k-refused'), { timeoutMs: 60_000 });
    const mine = dlq.filter((m) => m.key === 'k-refused');
    expect(mine).toHaveLength(1);
    expect(mine[0].headers[DlqHeader.Reason]).toBe('unstorable');
    expect(mine[0].headers[DlqHeader.Error]).toMatch(/^22001: value too long/);
    expect(mine[0].value).toBe(JSON.stringify(refused)); // byte for byte
    expect(await stored(refused.source, refused.id)).toEqual([]);
    const [{ n }] = await db.dataSource.query('SELECT count(*)::int AS n FROM processed_events WHERE consumer = $1 AND event_id = $2', [GROUP, refused.id]);
    expect(n).toBe(0); // not recorded as applied: nothing of it committed
  });

  it('dead-letters a message near 1 MB without its value when an older .dlq topic refuses it as too large', async () => {
    // A .dlq topic that takes less than the message and its dlq-* headers (one created before dead-letter
    // topics took 2 MiB takes 1 MB; here 500 KB, so a message of 600 KB stands for one just under 1 MB).
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: 2 /* TOPIC */, name: `${prefix}${Topic.DomainEvents}.dlq`, configEntries: [{ name: 'max.message.bytes', value: '500000' }, { name: 'retention.ms', value: String(28 * 24 * 3600 * 1000) }] }],
      });
    } finally {
      await admin.disconnect();
    }
    const refused = event('w'.repeat(600_000), { code: 'far-too-long-a-code' }); // 22001, and too large for that .dlq
    const after = event('behind the too-large one');
    await send('k-too-large', [JSON.stringify(refused)]);
    await send('k-too-large', [JSON.stringify(after)]);
    await eventually(async () => (await stored(after.source, after.id)).length === 1, { what: 'the event behind it applied', timeoutMs: 60_000 });
    const dlq = await readTopic(kafka, `${prefix}${Topic.DomainEvents}.dlq`, (m) => m.some((x) => x.key === 'k-too-large'), { timeoutMs: 60_000 });
    const [letter] = dlq.filter((m) => m.key === 'k-too-large');
    expect(letter.value === null).toBe(true); // (not toBeNull: a failure would print 600 KB)
    expect(letter.headers[DlqHeader.Reason]).toBe('unstorable');
    expect(letter.headers[DlqHeader.ValueOmitted]).toMatch(/^\d+ bytes, more than .*\.dlq accepts/);
    expect(letter.headers[DlqHeader.OriginalOffset]).toMatch(/^\d+$/);
  });

  it('keys idempotency by source and id: the same id from two sources is applied twice, a redelivery never', async () => {
    const fromHr = event('from hr', {}, '//hr.example.com');
    const fromCrm = { ...event('from crm', {}, '//crm.example.com'), id: fromHr.id };
    await send('k-sources', [JSON.stringify(fromHr), JSON.stringify(fromCrm), JSON.stringify(fromHr), JSON.stringify(fromCrm)]);
    const marker = event('marker');
    await send('k-sources', [JSON.stringify(marker)]);
    await eventually(async () => (await stored(marker.source, marker.id)).length === 1, { what: 'marker applied' });
    expect(await stored('//hr.example.com', fromHr.id)).toEqual([{ doc: { text: 'from hr', code: 'ok' }, body: 'from hr' }]);
    expect(await stored('//crm.example.com', fromHr.id)).toEqual([{ doc: { text: 'from crm', code: 'ok' }, body: 'from crm' }]);
    const recorded = await db.dataSource.query('SELECT source FROM processed_events WHERE consumer = $1 AND event_id = $2 ORDER BY source', [GROUP, fromHr.id]);
    expect(recorded).toEqual([{ source: '//crm.example.com' }, { source: '//hr.example.com' }]);
  });
});
