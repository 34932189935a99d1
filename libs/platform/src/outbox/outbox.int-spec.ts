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
import { EVENT_ID_HEADER } from '../kafka/kafka.service';
import { PlatformModule } from '../platform.module';
import { eventually, readTopic, testEnv, testKafka, uniqueTopicPrefix } from '../testing';
import { OutboxService } from './outbox.service';

const TENANT = '22222222-2222-4222-8222-222222222222';
const ROOT = join(__dirname, '..', '..', '..', '..');
const CHILD = join(ROOT, 'test', 'fixtures', 'outbox-relay-killed-after-publish.js');
const LEASE_MS = 1_500;
const schema = refineAuth(z.object({ ...serviceEnv, ...databaseEnv, ...kafkaEnv, ...outboxEnv, ...authEnv }));

describe('transactional outbox and relay against the real broker', () => {
  let db: IsolatedSchema;
  let prefix: string;
  const kafka = testKafka();
  const outbox = new OutboxService();
  const topic = () => prefix + Topic.ScriptChanges;

  beforeAll(async () => {
    db = await createIsolatedSchema(migrations);
    await db.dataSource.query('CREATE TABLE test_orders (id serial PRIMARY KEY, note text)');
    prefix = uniqueTopicPrefix();
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, prefix);
    await admin.disconnect();
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

    // 1. A relay publishes the batch and is SIGKILLed before it can mark the rows.
    const child = spawn(process.execPath, [CHILD], {
      env: { ...process.env, DATABASE_SCHEMA: db.schema, KAFKA_TOPIC_PREFIX: prefix, OUTBOX_LEASE_MS: String(LEASE_MS) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
    expect({ signal, stderr }).toEqual({ signal: 'SIGKILL', stderr: '' });

    const limbo = await db.dataSource.query('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL AND probe_offsets IS NOT NULL');
    expect(limbo[0].n).toBe(50); // published to Kafka, never marked
    const afterCrash = await readTopic(kafka, topic(), (m) => m.length >= 50);
    expect(new Set(idsOnTopic(afterCrash))).toEqual(new Set(committed));

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
});
