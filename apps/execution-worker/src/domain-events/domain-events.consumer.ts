import { Injectable, OnModuleInit } from '@nestjs/common';
import { ConsumerGroup, DOMAIN_EVENT_TYPE_PATTERN, domainEventDataSchema, DomainEventData, Topic } from '@provisio/contracts';
import { EventConsumerHost } from '@provisio/platform';
import { ExecutionQueue } from '../executions/execution-queue.service';
import { CreatedExecution, EventTriggeredExecutionsService } from './event-triggered-executions.service';

/** Consumes upstream domain events (`user.created` ...). Thin: validation is the host's, the work the service's. */
@Injectable()
export class DomainEventsConsumer implements OnModuleInit {
  constructor(
    private readonly host: EventConsumerHost,
    private readonly executions: EventTriggeredExecutionsService,
    private readonly queue: ExecutionQueue,
  ) {}

  onModuleInit(): void {
    this.host.register<DomainEventData>({
      groupId: ConsumerGroup.WorkerDomainEvents,
      topic: Topic.DomainEvents,
      // Every well-formed domain event type may have subscribers; anything else is not a domain event.
      schemaFor: (type) => (DOMAIN_EVENT_TYPE_PATTERN.test(type) ? domainEventDataSchema : null),
      handle: async (event, { manager }) => (await this.executions.createForEvents([event], manager))[0],
      handleMany: (events, manager) => this.executions.createForEvents(events, manager),
      afterCommitAll: (applied) => this.queue.runCreated(applied.flatMap((a) => a.handled as CreatedExecution[])),
    });
  }
}
