import { Injectable, OnModuleInit } from '@nestjs/common';
import { ConsumerGroup, isUserEventType, Topic, USER_EVENT_DATA_SCHEMAS } from '@provisio/contracts';
import { TenantDatabase } from '@provisio/persistence';
import { EventConsumerHost } from '@provisio/platform';
import { OperationPlanner } from '../operations/operation-planner.service';
import type { OperationRow } from '../operations/operations.repository';
import { UpstreamUsersService, UserEvent } from './upstream-users.service';

/**
 * Consumes `user.*` domain events from `provisio.domain-events` into the identity store. Idempotent
 * through the consumer host (the event's source and id are recorded in the same transaction as the
 * change); a payload that fails its schema, or that the rules reject, goes to the topic's `.dlq` and the
 * partition moves on. Other domain event types are acknowledged and skipped. Thin: the rules are in
 * `UpstreamUsersService`, which reads the identities a transaction's events name in one statement first
 * (`prepare`). The provisioning operations an event's change created are enqueued as soon
 * as its transaction commits (OperationPlanner.committed).
 */
@Injectable()
export class UserEventsConsumer implements OnModuleInit {
  constructor(
    private readonly host: EventConsumerHost,
    private readonly db: TenantDatabase,
    private readonly upstream: UpstreamUsersService,
    private readonly planner: OperationPlanner,
  ) {}

  onModuleInit(): void {
    this.host.register<UserEvent['data']>({
      groupId: ConsumerGroup.ProvisioningDomainEvents,
      topic: Topic.DomainEvents,
      schemaFor: (type) => (isUserEventType(type) ? USER_EVENT_DATA_SCHEMAS[type] : null),
      prepare: async (events, manager) => {
        const byTenant = new Map<string, UserEvent[]>();
        for (const event of events as UserEvent[]) {
          const ofTenant = byTenant.get(event.tenantid);
          if (ofTenant) ofTenant.push(event);
          else byTenant.set(event.tenantid, [event]);
        }
        for (const [tenantId, ofTenant] of byTenant) await this.upstream.prefetch(ofTenant, this.db.join(manager, tenantId));
      },
      handle: async (event, { manager }) => {
        this.planner.takeCreated(manager); // what an attempt that rolled back left
        await this.upstream.apply(event, this.db.join(manager, event.tenantid));
        return this.planner.takeCreated(manager);
      },
      afterCommitAll: (applied) => this.planner.committed(applied.flatMap(({ handled }) => handled as OperationRow[])),
    });
  }
}
