import { Injectable, OnModuleInit } from '@nestjs/common';
import { ConsumerGroup, isUserEventType, Topic, USER_EVENT_DATA_SCHEMAS } from '@provisio/contracts';
import { TenantDatabase } from '@provisio/persistence';
import { EventConsumerHost } from '@provisio/platform';
import { UpstreamUsersService, UserEvent } from './upstream-users.service';

/**
 * Consumes `user.*` domain events from `provisio.domain-events` into the identity store. Idempotent
 * through the consumer host (the event's source and id are recorded in the same transaction as the
 * change); a payload that fails its schema, or that the rules reject, goes to the topic's `.dlq` and the
 * partition moves on. Other domain event types are acknowledged and skipped. Thin: the rules are in
 * `UpstreamUsersService`.
 */
@Injectable()
export class UserEventsConsumer implements OnModuleInit {
  constructor(
    private readonly host: EventConsumerHost,
    private readonly db: TenantDatabase,
    private readonly upstream: UpstreamUsersService,
  ) {}

  onModuleInit(): void {
    this.host.register<UserEvent['data']>({
      groupId: ConsumerGroup.ProvisioningDomainEvents,
      topic: Topic.DomainEvents,
      schemaFor: (type) => (isUserEventType(type) ? USER_EVENT_DATA_SCHEMAS[type] : null),
      handle: (event, { manager }) => this.upstream.apply(event, this.db.join(manager, event.tenantid)),
    });
  }
}
