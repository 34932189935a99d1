import { Logger } from '@nestjs/common';
import { Admin, ITopicConfig, Kafka, KafkaConfig, logLevel, LogEntry, Producer } from 'kafkajs';
import { DLQ_SUFFIX, topicsToCreate } from '@provisio/contracts';
import { JavaCompatiblePartitioner } from './partitioner';

export interface KafkaSettings {
  KAFKA_BROKERS: string[];
  KAFKA_CLIENT_ID?: string;
  KAFKA_TOPIC_PREFIX: string;
  KAFKA_SSL: boolean;
  KAFKA_SASL_MECHANISM?: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  KAFKA_SASL_USERNAME?: string;
  KAFKA_SASL_PASSWORD?: string;
  KAFKA_PARTITIONS_CONSUMED_CONCURRENTLY: number;
}

const LEVELS: Record<number, 'error' | 'warn' | 'log' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'log',
  [logLevel.DEBUG]: 'debug',
};

/** kafkajs logs through the service's logger, so they come out as the same JSON lines. */
function logCreator() {
  const logger = new Logger('Kafka');
  return ({ level, log }: LogEntry) => {
    const { message, ...extra } = log;
    logger[LEVELS[level] ?? 'log']({ message: message, ...extra });
  };
}

export function createKafka(settings: KafkaSettings, clientId: string): Kafka {
  const config: KafkaConfig = {
    clientId: settings.KAFKA_CLIENT_ID ?? clientId,
    brokers: settings.KAFKA_BROKERS,
    ssl: settings.KAFKA_SSL,
    logLevel: logLevel.WARN,
    logCreator,
    connectionTimeout: 5_000,
    retry: { initialRetryTime: 200, retries: 12, maxRetryTime: 10_000 },
    ...(settings.KAFKA_SASL_MECHANISM
      ? { sasl: { mechanism: settings.KAFKA_SASL_MECHANISM, username: settings.KAFKA_SASL_USERNAME!, password: settings.KAFKA_SASL_PASSWORD! } as KafkaConfig['sasl'] }
      : {}),
  };
  return new Kafka(config);
}

/** Idempotent, acks=all producer with the Java-compatible murmur2 partitioner (same key → same partition as Java clients). */
export function createProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: JavaCompatiblePartitioner,
    // An idempotent producer must not give up on a send (kafkajs: limiting retries may break EoS); callers
    // (outbox relay, DLQ) wait through a broker outage instead, and readiness reports Kafka down meanwhile.
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 10_000 },
  });
}

/**
 * A dead letter is the original message byte for byte plus the `dlq-*` headers: a message just under the
 * broker's 1 MB limit must still fit on its `.dlq`, or the consumer would retry it forever.
 */
export const DLQ_MAX_MESSAGE_BYTES = 2 * 1024 * 1024;

/**
 * Creates every declared topic that does not exist yet, with its partition count. Safe to run from every
 * replica at once: "already exists" is success. Existing topics with fewer partitions are grown.
 */
export async function ensureTopics(admin: Admin, prefix = ''): Promise<string[]> {
  const wanted = topicsToCreate(prefix);
  const existing = new Set(await admin.listTopics());
  const missing: ITopicConfig[] = wanted
    .filter((t) => !existing.has(t.name))
    .map((t) => ({
      topic: t.name,
      numPartitions: t.partitions,
      replicationFactor: -1, // the broker's default.replication.factor
      configEntries: [
        ...(t.retentionMs ? [{ name: 'retention.ms', value: String(t.retentionMs) }] : []),
        ...(t.name.endsWith(DLQ_SUFFIX) ? [{ name: 'max.message.bytes', value: String(DLQ_MAX_MESSAGE_BYTES) }] : []),
      ],
    }));
  if (missing.length > 0) {
    try {
      await admin.createTopics({ topics: missing, waitForLeaders: true });
    } catch (error) {
      // Another replica may have created them in between; anything else is real.
      if (!/already exists/i.test(String((error as Error).message)) && (error as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw error;
    }
  }
  const metadata = await admin.fetchTopicMetadata({ topics: wanted.map((t) => t.name) });
  const grow = metadata.topics
    .map((t) => ({ topic: t.name, have: t.partitions.length, want: wanted.find((w) => w.name === t.name)!.partitions }))
    .filter((t) => t.have < t.want);
  if (grow.length > 0) await admin.createPartitions({ topicPartitions: grow.map((t) => ({ topic: t.topic, count: t.want })) });
  return missing.map((t) => t.topic);
}
