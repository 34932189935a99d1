import { randomUUID } from 'node:crypto';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { Kafka, KafkaMessage, logLevel } from 'kafkajs';

/**
 * Helpers for integration tests against the real local stack. Each suite gets its own topic prefix (and
 * its own database schema from @provisio/persistence/testing), so suites never see each other's data.
 */
export function uniqueTopicPrefix(): string {
  return `t${randomUUID().slice(0, 8)}.`;
}

export function testKafka(): Kafka {
  const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
  if (brokers.length === 0) throw new Error('KAFKA_BROKERS is not set (run through npm test)');
  return new Kafka({ clientId: `test-${randomUUID().slice(0, 8)}`, brokers, logLevel: logLevel.NOTHING });
}

export interface ReadMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

function toRead(topic: string, partition: number, message: KafkaMessage): ReadMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(Array.isArray(value) ? value[0] : value);
  return { topic, partition, offset: message.offset, key: message.key?.toString() ?? null, value: message.value?.toString() ?? null, headers };
}

/**
 * Reads a topic from the beginning with a throwaway group until `done(messages)` is true, then keeps
 * reading for `settleMs` more (so a duplicate arriving late is still seen), or fails after `timeoutMs`.
 */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  done: (messages: ReadMessage[]) => boolean,
  { timeoutMs = 30_000, settleMs = 500 } = {},
): Promise<ReadMessage[]> {
  const messages: ReadMessage[] = [];
  const consumer = kafka.consumer({ groupId: `test-reader-${randomUUID()}`, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ partition, message }) => void messages.push(toRead(topic, partition, message)) });
    const deadline = Date.now() + timeoutMs;
    while (!done(messages)) {
      if (Date.now() > deadline) throw new Error(`readTopic(${topic}): condition not met in ${timeoutMs} ms; read ${messages.length} messages`);
      await sleep(50);
    }
    await sleep(settleMs);
    return messages;
  } finally {
    await consumer.disconnect();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `probe` returns a truthy value, or fails with the last value seen. */
export async function eventually<T>(probe: () => Promise<T>, { timeoutMs = 30_000, intervalMs = 100, what = 'condition' } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`${what} not met in ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
    await sleep(intervalMs);
  }
}

export const TEST_JWT_SECRET = 'integration-tests-only-secret-0123456789abcdef';

/** The environment an app needs in a test, pointed at the suite's schema and topic prefix. */
export function testEnv(overrides: Record<string, string>): Record<string, string> {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    DATABASE_URL: process.env.DATABASE_URL ?? '',
    REDIS_URL: process.env.REDIS_URL ?? '',
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '',
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    OUTBOX_POLL_INTERVAL_MS: '50',
    ...overrides,
  };
}

/**
 * A TCP port free on this machine now, for a service a test starts as a child process. A random pick in
 * 39000-39999 can land on a port the kernel already gave a client connection (that range is inside
 * Linux's ephemeral ports), and the child then dies with EADDRINUSE.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export * from './security-matrix';
export * from './api-caller';
