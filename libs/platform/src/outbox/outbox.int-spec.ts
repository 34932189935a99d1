import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { createCloudEvent, Topic } from '@provisio/contracts';
import { migrations } from '@provisio/migrations';
import { createIsolatedSchema, IsolatedSchema } from '@provisio/persistence/testing';
import { authEnv, databaseEnv, kafkaEnv, outboxEnv, refineAuth, serviceEnv } from '../config/env';
import { loadConfig } from '../config/load-config';
import { ensureTopics } from '../kafka/kafka-client';
import { EVENT_ID_HEADER, KafkaService } from '../kafka/kafka.service';
import { Metrics } from '../metrics/metrics';
import { PlatformModule } from '../platform.module';
import { eventually, readTopic, testEnv, testKafka, uniqueTopicPrefix } from '../testing';
import { OutboxRelay } from './outbox-relay';
import { OutboxService } from './outbox.service';

const TENANT = '22222222-2222-4222-8222-222222222222';
const ROOT = join(__dirname, '..', '..', '..', '..');
const CHILD = join(ROOT, 'test', 'fixtures', 'outbox-relay-killed-after-publish.js');
const LEASE_MS = 1_500;
const schema = refineAuth(z.object({ ...serviceEnv, ...databaseEnv, ...kafkaEnv, ...outboxEnv, ...authEnv }));

/** A migrated schema of its own and the topics under a prefix of its own, for one suite. */
async function schemaAndTopics(kafka: ReturnType<typeof testKafka>): Promise<{ db: IsolatedSchema; prefix: string }> {
  const db = await createIsolatedSchema(migrations);
  const prefix = uniqueTopicPrefix();
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, prefix);
  await admin.disconnect();
  return { db, prefix };
}

describe('transactional outbox and relay against the real broker', () => {
  let db: IsolatedSchema;
  let prefix: string;
  const kafka = testKafka();
  const outbox = new OutboxService();
  const topic = () => prefix + Topic.ScriptChanges;

  beforeAll(async () => {
    ({ db, prefix } = await schemaAndTopics(kafka));
    await db.dataSource.query('CREATE TABLE test_orders (id serial PRIMARY KEY, note text)');
  });

  afterAll(async () => db?.drop());

  /** A business change and its events in one transaction. */
  async function commitWithEvents(count: number, note: string, rollback = false): Promise<string[]> {
    const ids: string[] = [];
    await db.dataSource
      .transaction(async (manager) => {
        await manager.query('INSERT INTO test_orders (note) VALUES ($1)', [note]);
        const entries = Array.from({ length: count }, (_, i) => {
          const event = createCloudEvent({ source: 'test', type: 'provisio.script.changed', tenantid: TENANT, data: { n: i, note } });
          ids.push(event.id);
          return { topic: Topic.ScriptChanges, key: `${TENANT}:script:${i % 7}`, event };
        });
        await outbox.enqueue(manager, entries);
        if (rollback) throw new Error('rolled back on purpose');
      })
      .catch((error: Error) => {
        if (!rollback) throw error;
      });
    return ids;
  }

  const idsOnTopic = (messages: { headers: Record<string, string> }[]) => messages.map((m) => m.headers[EVENT_ID_HEADER]);

  it('publishes each committed event once, even when the relay is killed between publish and mark', async () => {
    if (!existsSync(join(ROOT, 'libs', 'platform', 'dist', 'index.js'))) throw new Error('build first (npm test does): the crash test runs the built relay');
    const committed = await commitWithEvents(50, 'first');
    const rolledBack = await commitWithEvents(5, 'never', true);

    // 1. A relay (batches of 20) publishes its first batch and is SIGKILLed before it can mark it; it has
    //    already claimed the second batch (pipelined), which it never sent.
    const child = spawn(process.execPath, [CHILD], {
      env: { ...process.env, DATABASE_SCHEMA: db.schema, KAFKA_TOPIC_PREFIX: prefix, OUTBOX_LEASE_MS: String(LEASE_MS), OUTBOX_BATCH_SIZE: '20' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
    expect({ signal, stderr }).toEqual({ signal: 'SIGKILL', stderr: '' });

    const [limbo] = await db.dataSource.query(
      'SELECT count(*) FILTER (WHERE probe_offsets IS NOT NULL)::int AS claimed, count(*)::int AS unpublished FROM outbox WHERE published_at IS NULL',
    );
    expect(limbo).toEqual({ claimed: 40, unpublished: 50 }); // 20 sent and 20 claimed, none marked
    const afterCrash = await readTopic(kafka, topic(), (m) => m.length >= 20, { settleMs: 1000 });
    expect(new Set(idsOnTopic(afterCrash))).toEqual(new Set(committed.slice(0, 20))); // the first batch (order across partitions is not kept)
    expect(afterCrash).toHaveLength(20);

    // 2. A new relay takes over once the lease runs out; it must find the rows on the topic, not resend them.
    const config = loadConfig(schema, testEnv({ DATABASE_SCHEMA: db.schema, KAFKA_TOPIC_PREFIX: prefix, OUTBOX_LEASE_MS: String(LEASE_MS) }));
    const moduleRef = await Test.createTestingModule({
      imports: [PlatformModule.forRoot({ service: 'relay-test', config, database: true, kafka: true, outboxRelay: true })],
    }).compile();
    const app: INestApplication = moduleRef.createNestApplication();
    await app.init();
    try {
      await eventually(async () => (await db.dataSource.query('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL'))[0].n === 0, { what: 'outbox drained', timeoutMs: 45_000 });

      // 3. New events after the takeover go out normally.
      const later = await commitWithEvents(20, 'second');
      await eventually(async () => (await db.dataSource.query('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL'))[0].n === 0, { what: 'later events published' });

      const all = await readTopic(kafka, topic(), (m) => m.length >= 70, { settleMs: 1500 });
      const ids = idsOnTopic(all);
      expect(ids).toHaveLength(70); // nothing twice
      expect(new Set(ids)).toEqual(new Set([...committed, ...later]));
      expect(ids.some((id) => rolledBack.includes(id))).toBe(false); // a rolled-back change announces nothing
    } finally {
      await app.close();
    }
  });

  it('keeps events of one key in the order they were committed', async () => {
    const all = await readTopic(kafka, topic(), (m) => m.length >= 70);
    const byKey = new Map<string, number[]>();
    for (const m of all) {
      const event = JSON.parse(m.value!);
      if (event.data.note !== 'first') continue;
      byKey.set(m.key!, [...(byKey.get(m.key!) ?? []), event.data.n]);
    }
    for (const sequence of byKey.values()) expect(sequence).toEqual([...sequence].sort((a, b) => a - b));
    expect(byKey.size).toBe(7);
  });

  it("takes part in a repository's statement: an event for each row it changed, or one if it changed any", async () => {
    const event = (note: string) => createCloudEvent({ source: 'test', type: 'provisio.script.changed', tenantid: TENANT, data: { note } });
    const [kept, skipped, once, never] = [event('kept'), event('skipped'), event('once'), event('never')];
    const entry = (e: typeof kept) => ({ topic: Topic.ScriptChanges, key: `${TENANT}:script:part`, event: e });
    const [{ id }] = await db.dataSource.query('INSERT INTO test_orders (note) VALUES ($1) RETURNING id', ['part']);
    const each = outbox.announceEach('changed', new Map([[String(id), entry(kept)], ['-1', entry(skipped)]]), 3);
    const changed = await db.dataSource.query(`WITH changed AS (UPDATE test_orders SET note = $2 WHERE id = $1 RETURNING id), ${each.cte} SELECT id FROM changed`, [id, 'changed', ...each.params]);
    expect(changed).toEqual([{ id }]);
    for (const [e, where] of [[once, 'id = $1'], [never, 'id < 0 AND id = $1']] as const) {
      const ifAny = outbox.announceIfAny('changed', entry(e), 2);
      await db.dataSource.query(`WITH changed AS (UPDATE test_orders SET note = 'again' WHERE ${where} RETURNING id), ${ifAny.cte} SELECT id FROM changed`, [id, ...ifAny.params]);
    }
    const written: { id: string }[] = await db.dataSource.query('SELECT id FROM outbox WHERE id = ANY($1) ORDER BY seq', [[kept.id, skipped.id, once.id, never.id]]);
    expect(written.map((r) => r.id)).toEqual([kept.id, once.id]);
  });

  it('commits events whose text PostgreSQL refuses (NUL, unpaired surrogates) with the change, as U+FFFD', async () => {
    const note = 'nul \u0000 high \uD800 low \uDC00 tab\t';
    const single = createCloudEvent({ source: 'test', type: 'provisio.script.changed', tenantid: TENANT, data: { note, ['k\u0000']: 1 } });
    const many = createCloudEvent({ source: 'test', type: 'provisio.script.changed', tenantid: TENANT, data: { note } });
    await db.dataSource.transaction(async (manager) => {
      const [{ id }] = await manager.query('INSERT INTO test_orders (note) VALUES ($1) RETURNING id', ['unstorable']);
      await outbox.enqueue(manager, { topic: Topic.ScriptChanges, key: `${TENANT}:script:\u0000`, event: single });
      const announced = outbox.announceEach('changed', new Map([[String(id), { topic: Topic.ScriptChanges, key: `${TENANT}:script:x`, event: many }]]), 2);
      await manager.query(`WITH changed AS (SELECT id FROM test_orders WHERE id = $1), ${announced.cte} SELECT id FROM changed`, [id, ...announced.params]);
    });
    const rows: { id: string; message_key: string; note: string; data: Record<string, unknown> }[] = await db.dataSource.query(
      `SELECT id, message_key, payload->'data'->>'note' AS note, payload->'data' AS data FROM outbox WHERE id = ANY($1) ORDER BY seq`,
      [[single.id, many.id]],
    );
    const stored = 'nul \uFFFD high \uFFFD low \uFFFD tab\t';
    expect(rows.map((r) => [r.id, r.note])).toEqual([[single.id, stored], [many.id, stored]]);
    expect(rows[0].message_key).toBe(`${TENANT}:script:\uFFFD`);
    expect(rows[0].data).toEqual({ note: stored, ['k\uFFFD']: 1 });
  });
});

describe('outbox relay when Kafka fails a send', () => {
  let db: IsolatedSchema;
  let prefix: string;
  const kafka = testKafka();
  const outbox = new OutboxService();

  beforeAll(async () => {
    ({ db, prefix } = await schemaAndTopics(kafka));
  });

  afterAll(async () => db?.drop());

  it('hands back the batch it had claimed ahead unsent, and still publishes every row once', async () => {
    const ids: string[] = [];
    await db.dataSource.transaction(async (manager) => {
      const entries = Array.from({ length: 30 }, (_, n) => {
        const event = createCloudEvent({ source: 'test', type: 'provisio.script.changed', tenantid: TENANT, data: { n } });
        ids.push(event.id);
        return { topic: Topic.ScriptChanges, key: `${TENANT}:script:${n % 3}`, event };
      });
      await outbox.enqueue(manager, entries);
    });
    const settings = { ...loadConfig(schema, testEnv({ KAFKA_TOPIC_PREFIX: prefix })), OUTBOX_BATCH_SIZE: 10, OUTBOX_LEASE_MS: 60_000 };
    const service = new KafkaService(settings, 'relay-send-failure');
    await service.onModuleInit();
    try {
      // New topics: their partitions have leaders before the relay asks for offsets.
      const ready = () => service.admin.fetchTopicOffsets(prefix + Topic.ScriptChanges).then(() => true, () => false);
      await eventually(ready, { what: 'topic partitions led' });
      // The first send fails after the relay has claimed the next batch (pipelined).
      const publish = service.publishSerialized.bind(service);
      let calls = 0;
      service.publishSerialized = async (events) => {
        if (++calls === 1) throw new Error('broker unavailable (test)');
        return publish(events);
      };
      const relay = new OutboxRelay(db.dataSource, service, new Metrics('relay-send-failure'), settings);
      await expect(relay.drain()).rejects.toThrow('broker unavailable');

      const rows: { claimed: boolean; attempts: number; probe: boolean }[] = await db.dataSource.query(
        'SELECT claimed_until IS NOT NULL AS claimed, attempts, probe_offsets IS NOT NULL AS probe FROM outbox ORDER BY seq',
      );
      // Batch 1: its send may have reached Kafka, so it stays claimed (in doubt) until its lease ends.
      expect(rows.slice(0, 10).every((r) => r.claimed && r.attempts === 1)).toBe(true);
      // Batch 2 was claimed ahead and never sent: back as if never claimed, offsets and all.
      expect(rows.slice(10, 20)).toEqual(Array.from({ length: 10 }, () => ({ claimed: false, attempts: 0, probe: false })));

      // Once the lease has passed, everything goes out exactly once.
      await db.dataSource.query(`UPDATE outbox SET claimed_until = now() - interval '1 second' WHERE claimed_until IS NOT NULL`);
      expect(await relay.drain()).toBe(30);
      const onTopic = await readTopic(kafka, prefix + Topic.ScriptChanges, (m) => m.length >= 30, { settleMs: 1000 });
      expect(onTopic.map((m) => m.headers[EVENT_ID_HEADER]).sort()).toEqual([...ids].sort());
    } finally {
      await service.onApplicationShutdown();
    }
  });
});

describe('outbox relay with large events', () => {
  let db: IsolatedSchema;
  let prefix: string;
  const kafka = testKafka();
  const outbox = new OutboxService();

  beforeAll(async () => {
    ({ db, prefix } = await schemaAndTopics(kafka));
  });

  afterAll(async () => db?.drop());

  it('publishes events that together exceed the broker message limit, one key, in order', async () => {
    // Four events of ~400 KB on one key (one partition): one record batch would be 1.6 MB, over the 1 MB limit.
    const events = Array.from({ length: 4 }, (_, n) => createCloudEvent({ source: 'test', type: 'provisio.script.changed', tenantid: TENANT, data: { n, blob: String(n).repeat(400_000) } }));
    await db.dataSource.transaction((manager) => outbox.enqueue(manager, events.map((event) => ({ topic: Topic.ScriptChanges, key: `${TENANT}:script:big`, event }))));
    const settings = { ...loadConfig(schema, testEnv({ KAFKA_TOPIC_PREFIX: prefix })), OUTBOX_BATCH_SIZE: 100, OUTBOX_LEASE_MS: 60_000 };
    const service = new KafkaService(settings, 'relay-large-events');
    await service.onModuleInit();
    try {
      await eventually(() => service.admin.fetchTopicOffsets(prefix + Topic.ScriptChanges).then(() => true, () => false), { what: 'topic partitions led' });
      const relay = new OutboxRelay(db.dataSource, service, new Metrics('relay-large-events'), settings);
      expect(await relay.drain()).toBe(4);
      const onTopic = await readTopic(kafka, prefix + Topic.ScriptChanges, (m) => m.length >= 4, { settleMs: 500 });
      expect(onTopic.map((m) => JSON.parse(m.value!).data.n)).toEqual([0, 1, 2, 3]);
    } finally {
      await service.onApplicationShutdown();
    }
  });
});
