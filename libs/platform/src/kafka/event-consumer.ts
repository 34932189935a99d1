import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { Consumer, EachBatchPayload, IHeaders, KafkaMessage } from 'kafkajs';
import { DataSource, EntityManager } from 'typeorm';
import type { ZodType } from 'zod';
import { CloudEvent, cloudEventSchema, dlqTopicOf } from '@provisio/contracts';
import { isPermanent } from '../errors/domain-errors';
import { Metrics } from '../metrics/metrics';
import { describeDataError, isDataError } from '../storable/data-errors';
import { parseStorableJson } from '../storable/storable-text';
import { GroupCommit, JointApplyFailed } from './group-commit';
import { KafkaService } from './kafka.service';

export interface MessageContext {
  topic: string;
  partition: number;
  offset: string;
  /** The transaction the effect must use; the event id is recorded in it (idempotency). */
  manager: EntityManager;
}

export interface EventHandlerSpec<T = unknown> {
  /** Consumer group; also the idempotency scope in `processed_events`. */
  groupId: string;
  /** Topic base name from `Topic`. */
  topic: string;
  /**
   * The schema of `data` for an event type, or `null` for types this consumer ignores (they are
   * acknowledged and skipped, not dead-lettered: they are valid, just not for us).
   */
  schemaFor(type: string): ZodType<T> | null;
  /** Applies the event inside the transaction; what it returns is handed to `afterCommit`. */
  handle(event: CloudEvent<T>, context: MessageContext): Promise<unknown>;
  /**
   * Optional: applies the new events of a group at once (one statement rather than one per event),
   * answering what `handle` would have answered for each, in order. Used instead of `handle` when given.
   */
  handleMany?(events: CloudEvent<T>[], manager: EntityManager): Promise<unknown[]>;
  /**
   * Optional: runs in each transaction before `handle` runs for its new events, with all of them (for
   * example to read in one statement what each `handle` would look up on its own).
   */
  prepare?(events: CloudEvent<T>[], manager: EntityManager): Promise<void>;
  /**
   * Work that must follow the commit (for example enqueueing jobs for rows the handler created). It runs
   * once per applied event; if the process dies before it, the owning feature must recover (a sweep).
   */
  afterCommit?(event: CloudEvent<T>, handled: unknown): Promise<void>;
  /** The same, once per committed group of events (cheaper when the follow-up work batches well). */
  afterCommitAll?(applied: AppliedEvent<T>[]): Promise<void>;
  /** Start from the earliest offset when the group has none committed (default: true). */
  fromBeginning?: boolean;
}

export interface AppliedEvent<T = unknown> {
  event: CloudEvent<T>;
  handled: unknown;
}

/** Messages of one partition applied in one transaction: bounds the transaction while amortising its commit. */
const MAX_EVENTS_PER_TRANSACTION = 200;
/** Events of several partitions' groups applied together in one transaction (see GroupCommit). */
const MAX_EVENTS_PER_JOINT_TRANSACTION = 1000;

export type DeadLetterReason = 'not-json' | 'not-cloudevent' | 'invalid-data' | 'handler-rejected' | 'unstorable';

/**
 * An event that can never be applied: the handler rejected it (a permanent DomainError), or PostgreSQL
 * refused to store what it carries (a data error, SQLSTATE class 22 or 23: see isDataError).
 */
function isPermanentFailure(error: unknown): boolean {
  return isPermanent(error) || isDataError(error);
}

function deadLetterReasonOf(error: unknown): { reason: DeadLetterReason; error: string } {
  return isDataError(error) ? { reason: 'unstorable', error: describeDataError(error) } : { reason: 'handler-rejected', error: (error as Error).message };
}

/** Headers of a dead-lettered message: why, and where it came from. */
export const DlqHeader = {
  Reason: 'dlq-reason',
  Error: 'dlq-error',
  OriginalTopic: 'dlq-original-topic',
  OriginalPartition: 'dlq-original-partition',
  OriginalOffset: 'dlq-original-offset',
  OriginalTimestamp: 'dlq-original-timestamp',
  ConsumerGroup: 'dlq-consumer-group',
  FailedAt: 'dlq-failed-at',
  /** Set when the `.dlq` topic refused the message as too large: it was sent without its value. */
  ValueOmitted: 'dlq-value-omitted',
} as const;

class PoisonMessage extends Error {
  constructor(readonly reason: DeadLetterReason, message: string) {
    super(message);
  }
}

type Parsed = { kind: 'event'; event: CloudEvent } | { kind: 'ignored' };
interface ValidMessage {
  topic: string;
  partition: number;
  message: KafkaMessage;
  event: CloudEvent;
}

/**
 * Runs the service's Kafka consumers. Every message is parsed as a CloudEvent and its data validated;
 * a message that fails goes to the topic's `.dlq` with the reason in its headers, and the partition
 * moves on. Its text is made storable first (toStorable: NUL and unpaired surrogates become U+FFFD). A
 * valid event is applied once: its source and id are recorded in `processed_events` in the same
 * transaction as the effect, so a redelivery finds it and does nothing. The events of a fetched batch
 * are applied in one transaction (up to MAX_EVENTS_PER_TRANSACTION), so throughput does not hinge on one
 * commit per message, and the groups that several partitions hand in at the same moment are joined into
 * one transaction (GroupCommit). If the handler rejects one event permanently, or PostgreSQL refuses its
 * data (isDataError), the joint transaction is re-applied per partition group, then one event at a time,
 * and only that one is dead-lettered; the rest of the batch is applied. A batch in which nothing fails
 * pays nothing for this. Errors that may pass are rethrown: nothing of the group
 * commits, the offsets are not resolved, and kafkajs retries.
 */
@Injectable()
export class EventConsumerHost implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(EventConsumerHost.name);
  private readonly specs: EventHandlerSpec<never>[] = [];
  private readonly consumers: Consumer[] = [];
  private readonly joints = new Map<EventHandlerSpec<never>, GroupCommit<ValidMessage>>();

  constructor(
    private readonly kafka: KafkaService,
    private readonly metrics: Metrics,
    @Optional() private readonly dataSource?: DataSource,
  ) {}

  /** Called by feature consumers in `onModuleInit`; consumption starts once the app has booted. */
  register<T>(spec: EventHandlerSpec<T>): void {
    this.specs.push(spec as EventHandlerSpec<never>);
  }

  async onApplicationBootstrap(): Promise<void> {
    for (const spec of this.specs) this.consumers.push(await this.start(spec));
  }

  /** Leaving the group lets the other replicas take the partitions at once; in-flight messages finish first. */
  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.disconnect().catch(() => undefined)));
  }

  private async start(spec: EventHandlerSpec<never>): Promise<Consumer> {
    const consumer = this.kafka.kafka.consumer({
      // Environments sharing a cluster (topic prefix) must not share groups either.
      groupId: this.kafka.topic(spec.groupId),
      allowAutoTopicCreation: false,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      retry: { retries: 8, initialRetryTime: 300 },
    });
    await consumer.connect();
    await consumer.subscribe({ topic: this.kafka.topic(spec.topic), fromBeginning: spec.fromBeginning ?? true });
    await consumer.run({
      partitionsConsumedConcurrently: this.kafka.settings.KAFKA_PARTITIONS_CONSUMED_CONCURRENTLY,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.consumeBatch(spec, payload),
    });
    this.logger.log({ message: 'consuming', topic: spec.topic, group: spec.groupId });
    return consumer;
  }

  private async consumeBatch(spec: EventHandlerSpec<never>, { batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary }: EachBatchPayload): Promise<void> {
    for (let start = 0; start < batch.messages.length; start += MAX_EVENTS_PER_TRANSACTION) {
      if (!isRunning() || isStale()) return;
      const group = batch.messages.slice(start, start + MAX_EVENTS_PER_TRANSACTION);
      await this.consumeGroup(spec, batch.topic, batch.partition, group);
      resolveOffset(group[group.length - 1].offset);
      await commitOffsetsIfNecessary();
      await heartbeat();
    }
  }

  private async consumeGroup(spec: EventHandlerSpec<never>, topic: string, partition: number, messages: KafkaMessage[]): Promise<void> {
    const valid: ValidMessage[] = [];
    for (const message of messages) {
      let parsed: Parsed;
      try {
        parsed = this.parse(spec, message);
      } catch (error) {
        if (!(error instanceof PoisonMessage)) throw error;
        await this.deadLetter(spec, topic, partition, message, error.reason, error.message);
        continue;
      }
      if (parsed.kind === 'ignored') this.metrics.messagesConsumed.inc({ topic: spec.topic, result: 'ignored' });
      else valid.push({ topic, partition, message, event: parsed.event });
    }
    if (valid.length === 0) return;
    try {
      await this.applyJointly(spec, valid);
    } catch (error) {
      if (!isPermanentFailure(error)) throw error; // nothing committed; kafkajs retries the batch
      // One of them is permanently wrong: apply them one at a time so only that one is dead-lettered.
      for (const item of valid) {
        try {
          await this.apply(spec, [item]);
        } catch (single) {
          if (!isPermanentFailure(single)) throw single;
          const why = deadLetterReasonOf(single);
          await this.deadLetter(spec, topic, partition, item.message, why.reason, why.error);
        }
      }
    }
  }

  /**
   * Applies a partition's group together with the groups other partitions hand in at the same moment. If
   * that joint transaction fails permanently, another partition's event may be the wrong one: this group
   * is then applied alone.
   */
  private async applyJointly(spec: EventHandlerSpec<never>, items: ValidMessage[]): Promise<void> {
    try {
      await this.jointFor(spec).submit(items);
    } catch (error) {
      if (!(error instanceof JointApplyFailed)) throw error;
      if (!isPermanentFailure(error.cause)) throw error.cause; // nothing committed; kafkajs retries the batch
      await this.apply(spec, items);
    }
  }

  private jointFor(spec: EventHandlerSpec<never>): GroupCommit<ValidMessage> {
    let joint = this.joints.get(spec);
    if (!joint) this.joints.set(spec, (joint = new GroupCommit((items) => this.apply(spec, items), MAX_EVENTS_PER_JOINT_TRANSACTION)));
    return joint;
  }

  private parse(spec: EventHandlerSpec<never>, message: KafkaMessage): Parsed {
    let json: unknown;
    try {
      json = parseStorableJson(message.value?.toString('utf8') ?? '');
    } catch (error) {
      throw new PoisonMessage('not-json', `value is not JSON: ${(error as Error).message}`);
    }
    const envelope = cloudEventSchema.safeParse(json);
    if (!envelope.success) {
      const issue = envelope.error.issues[0];
      throw new PoisonMessage('not-cloudevent', `not a CloudEvent: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    const schema = spec.schemaFor(envelope.data.type);
    if (schema === null) return { kind: 'ignored' };
    const data = schema.safeParse(envelope.data.data);
    if (!data.success) {
      const issue = data.error.issues[0];
      throw new PoisonMessage('invalid-data', `data of ${envelope.data.type} is invalid: ${['data', ...issue.path].join('.')}: ${issue.message}`);
    }
    return { kind: 'event', event: { ...envelope.data, data: data.data } as CloudEvent };
  }

  /**
   * Applies events in one transaction; those already applied (redeliveries) are skipped. An event is
   * known by its source and id: ids are only unique per source.
   */
  private async apply(spec: EventHandlerSpec<never>, items: ValidMessage[]): Promise<void> {
    if (!this.dataSource) throw new Error(`consumer ${spec.groupId} needs the database for idempotency`);
    let duplicates = 0;
    const applied = await this.dataSource.transaction(async (manager) => {
      const fresh: { source: string; event_id: string }[] = await manager.query(
        `INSERT INTO processed_events (consumer, source, event_id) SELECT $1, s, i FROM unnest($2::text[], $3::text[]) AS e(s, i)
         ON CONFLICT DO NOTHING RETURNING source, event_id`,
        [spec.groupId, items.map((i) => i.event.source), items.map((i) => i.event.id)],
      );
      const pending = new Set(fresh.map((r) => processedKey(r.source, r.event_id)));
      // Not new, or the same event twice in this batch: already applied.
      const toApply = items.filter(({ event }) => pending.delete(processedKey(event.source, event.id)));
      duplicates = items.length - toApply.length;
      if (spec.handleMany && toApply.length) {
        const events = toApply.map(({ event }) => event as CloudEvent<never>);
        const handled = await spec.handleMany(events, manager);
        return events.map((event, i) => ({ event, handled: handled[i] }));
      }
      const done: AppliedEvent<never>[] = [];
      if (spec.prepare && toApply.length) await spec.prepare(toApply.map(({ event }) => event as CloudEvent<never>), manager);
      for (const { topic, partition, message, event } of toApply) {
        done.push({ event: event as CloudEvent<never>, handled: await spec.handle(event as CloudEvent<never>, { topic, partition, offset: message.offset, manager }) });
      }
      return done;
    });
    this.metrics.messagesConsumed.inc({ topic: spec.topic, result: 'applied' }, applied.length);
    if (duplicates) this.metrics.messagesConsumed.inc({ topic: spec.topic, result: 'duplicate' }, duplicates);
    if (applied.length) await this.afterCommit(spec, applied);
  }

  private async afterCommit(spec: EventHandlerSpec<never>, applied: AppliedEvent<never>[]): Promise<void> {
    try {
      if (spec.afterCommitAll) await spec.afterCommitAll(applied);
      if (spec.afterCommit) for (const { event, handled } of applied) await spec.afterCommit(event, handled);
    } catch (error) {
      this.logger.error({ message: 'after-commit work failed; the feature must recover it (a sweep)', group: spec.groupId, events: applied.length, error: (error as Error).message });
    }
  }

  private async deadLetter(spec: EventHandlerSpec<never>, topic: string, partition: number, message: KafkaMessage, reason: DeadLetterReason, error: string): Promise<void> {
    const headers: IHeaders = {
      ...message.headers,
      [DlqHeader.Reason]: reason,
      [DlqHeader.Error]: error.slice(0, 2000),
      [DlqHeader.OriginalTopic]: topic,
      [DlqHeader.OriginalPartition]: String(partition),
      [DlqHeader.OriginalOffset]: message.offset,
      [DlqHeader.OriginalTimestamp]: message.timestamp,
      [DlqHeader.ConsumerGroup]: spec.groupId,
      [DlqHeader.FailedAt]: new Date().toISOString(),
    };
    // If this send fails, the error propagates and the message is retried: never dropped.
    try {
      await this.kafka.producer.send({ topic: dlqTopicOf(topic), acks: -1, messages: [{ key: message.key, value: message.value, headers }] });
    } catch (sendError) {
      // A .dlq topic created before it took 2 MiB (DLQ_MAX_MESSAGE_BYTES) refuses a message near 1 MB with
      // its headers, every time: send the headers alone (they say where the original is) rather than
      // retry forever and hold the partition.
      if ((sendError as { type?: string }).type !== 'MESSAGE_TOO_LARGE') throw sendError;
      const omitted = { ...headers, [DlqHeader.ValueOmitted]: `${message.value?.length ?? 0} bytes, more than ${dlqTopicOf(topic)} accepts: read it at the original offset` };
      await this.kafka.producer.send({ topic: dlqTopicOf(topic), acks: -1, messages: [{ key: message.key, value: null, headers: omitted }] });
    }
    this.metrics.deadLettered.inc({ topic: spec.topic, reason });
    this.logger.warn({ message: 'dead-lettered a message', reason, error, topic, partition, offset: message.offset });
  }
}

/** One string per (source, id): JSON of the pair, so no choice of separator can make two pairs collide. */
function processedKey(source: string, id: string): string {
  return JSON.stringify([source, id]);
}
