import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Admin, IHeaders, Kafka, Producer } from 'kafkajs';
import type { CloudEvent } from '@provisio/contracts';
import { APP_CONFIG, SERVICE_NAME } from '../tokens';
import { createKafka, createProducer, ensureTopics, KafkaSettings } from './kafka-client';

export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json; charset=UTF-8';
/** Carries the CloudEvent id outside the body, so tools can find a message without parsing it. */
export const EVENT_ID_HEADER = 'provisio-event-id';

export interface OutgoingEvent {
  /** Topic base name from `Topic` (the configured prefix is added here). */
  topic: string;
  key: string;
  event: CloudEvent;
  headers?: IHeaders;
}

/** An event as JSON text, with the id it carries. */
export interface SerializedEvent {
  topic: string;
  key: string;
  id: string;
  json: string;
  headers?: IHeaders;
}

/**
 * The service's Kafka client: one producer and one admin, connected at start-up; topics ensured.
 * Publishing directly is for work that needs no transaction; business changes go through the outbox.
 */
@Injectable()
export class KafkaService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(KafkaService.name);
  readonly kafka: Kafka;
  readonly producer: Producer;
  readonly admin: Admin;

  constructor(
    @Inject(APP_CONFIG) readonly settings: KafkaSettings,
    @Inject(SERVICE_NAME) readonly serviceName: string,
  ) {
    this.kafka = createKafka(settings, `provisio-${serviceName}`);
    this.producer = createProducer(this.kafka);
    this.admin = this.kafka.admin();
  }

  topic(base: string): string {
    return this.settings.KAFKA_TOPIC_PREFIX + base;
  }

  async onModuleInit(): Promise<void> {
    await this.admin.connect();
    const created = await ensureTopics(this.admin, this.settings.KAFKA_TOPIC_PREFIX);
    if (created.length) this.logger.log({ message: 'created topics', topics: created });
    await this.producer.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.producer.disconnect().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
  }

  async publish(events: OutgoingEvent[]): Promise<void> {
    await this.publishSerialized(events.map(({ topic, key, event, headers }) => ({ topic, key, id: event.id, json: JSON.stringify(event), headers })));
  }

  /**
   * `publish` for events already serialized (the outbox relay reads them from PostgreSQL as text, so they
   * are not parsed and stringified again). `id` is the CloudEvent id, sent as the `EVENT_ID_HEADER` header.
   */
  async publishSerialized(events: SerializedEvent[]): Promise<void> {
    if (events.length === 0) return;
    const byTopic = new Map<string, { key: string; value: string; headers: IHeaders }[]>();
    for (const { topic, key, id, json, headers } of events) {
      const name = this.topic(topic);
      const list = byTopic.get(name) ?? byTopic.set(name, []).get(name)!;
      list.push({ key, value: json, headers: { ...headers, 'content-type': CLOUDEVENTS_CONTENT_TYPE, [EVENT_ID_HEADER]: id } });
    }
    await this.producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
  }

  /** Readiness: the cluster answers. */
  async ping(): Promise<void> {
    await this.admin.describeCluster();
  }
}
