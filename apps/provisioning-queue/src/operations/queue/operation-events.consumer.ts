import { Injectable, OnModuleInit } from '@nestjs/common';
import { z } from 'zod';
import { ConsumerGroup, EventType, Topic } from '@provisio/contracts';
import { TenantDatabase } from '@provisio/persistence';
import { EventConsumerHost } from '@provisio/platform';
import { OperationsRepository } from '../operations.repository';
import { OperationQueue } from './operation-queue.service';

const createdSchema = z.object({ operation_id: z.uuid(), priority: z.number().int().default(0) }).catchall(z.unknown());
type Created = z.infer<typeof createdSchema>;

/**
 * Enqueues operations once their creation has committed: every creation is announced on
 * `provisio.provisioning-operations` through the outbox (in the creating transaction), and this
 * consumer of the queue's own topic turns the announcements of operations still `pending` into BullMQ
 * jobs (one statement per batch says which: most were enqueued at their commit already, and many have
 * run). Enqueueing is idempotent (the job id is the operation id); should an announcement be lost, the
 * sweep finds the operation.
 */
@Injectable()
export class OperationEventsConsumer implements OnModuleInit {
  constructor(
    private readonly host: EventConsumerHost,
    private readonly queue: OperationQueue,
    private readonly db: TenantDatabase,
    private readonly operations: OperationsRepository,
  ) {}

  onModuleInit(): void {
    this.host.register<Created>({
      groupId: ConsumerGroup.ProvisioningOperations,
      topic: Topic.ProvisioningOperations,
      schemaFor: (type) => (type === EventType.OperationCreated ? createdSchema : null),
      handleMany: async (events) => events.map(() => null),
      handle: async () => null,
      afterCommitAll: async (applied) => {
        const pending = await this.operations.stillPending(
          this.db.allTenants('announced operations of every tenant: which are still to enqueue'),
          applied.map(({ event }) => event.data.operation_id),
        );
        await this.queue.enqueue(pending);
      },
    });
  }
}
