import { Injectable, OnModuleInit } from '@nestjs/common';
import { ConsumerGroup, EventType, OperationFinished, operationFinishedSchema, Topic } from '@provisio/contracts';
import { TenantDatabase } from '@provisio/persistence';
import { EventConsumerHost } from '@provisio/platform';
import { RemediationRepository } from './remediation.repository';

/** Why a result failed, from the operation's end. */
function failureOf(event: OperationFinished): string {
  if (event.status === 'rejected') return `the provisioning queue refused the operation: ${event.error_message ?? 'no reason given'}`;
  return `the provisioning operation ended ${event.status}${event.error_message ? `: ${event.error_message}` : ''} (GET /operations/${event.operation_id})`;
}

/**
 * Settles remediation toward a target: consumes `provisio.operation.finished` from
 * `provisio.provisioning-operations` and, when the operation is one a RemediationResult waits for
 * (its id was chosen by the reconciler), marks the result `succeeded` (`completed`; the discrepancy is
 * resolved) or `failed` (`dead_letter`; `rejected`: the queue could not create it; `cancelled`: a
 * conflict cancelled it at once). Every other
 * operation's end matches no result and changes nothing. Idempotent through the consumer host.
 */
@Injectable()
export class OperationOutcomesConsumer implements OnModuleInit {
  constructor(
    private readonly host: EventConsumerHost,
    private readonly db: TenantDatabase,
    private readonly repo: RemediationRepository,
  ) {}

  onModuleInit(): void {
    this.host.register<OperationFinished>({
      groupId: ConsumerGroup.ReconcilerProvisioningOperations,
      topic: Topic.ProvisioningOperations,
      schemaFor: (type) => (type === EventType.OperationFinished ? operationFinishedSchema : null),
      handle: async (event, { manager }) => {
        const { data } = event;
        if (!['completed', 'dead_letter', 'rejected', 'cancelled'].includes(data.status)) return null;
        const succeeded = data.status === 'completed';
        return this.repo.settle(this.db.join(manager, event.tenantid), data.operation_id, succeeded, succeeded ? null : failureOf(data));
      },
    });
  }
}
