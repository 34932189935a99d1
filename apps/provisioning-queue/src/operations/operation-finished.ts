import { createCloudEvent, EventType, messageKey, Topic } from '@provisio/contracts';
import type { OperationRow } from './operations.repository';

/** The CloudEvents `source` of everything the provisioning queue announces. */
export const OPERATION_SOURCE = 'provisio/provisioning-queue';

/** The end states `provisio.operation.finished` announces. */
export type FinishedStatus = 'completed' | 'dead_letter' | 'cancelled';

/**
 * `provisio.operation.finished` for an operation that reached an end state, keyed by account so it
 * follows the account's other events. Published in the transaction that ends the operation: by the
 * runner (completed, dead letter) and by every cancel (an operator's, a conflict's), so that whoever
 * waits for the operation (the reconciler's remediation results) always hears how it ended.
 */
export function operationFinishedEvent(tenantId: string, operation: OperationRow, status: FinishedStatus, error?: { code?: string; message?: string | null }) {
  return {
    topic: Topic.ProvisioningOperations,
    key: messageKey.tenantAccount(tenantId, operation.account_key ?? operation.id),
    event: createCloudEvent({
      source: OPERATION_SOURCE,
      type: EventType.OperationFinished,
      tenantid: tenantId,
      subject: operation.id,
      data: {
        operation_id: operation.id,
        connector_id: operation.connector_id,
        user_id: operation.user_id,
        operation_type: operation.operation_type,
        status,
        ...(error?.code ? { error_code: error.code } : {}),
        ...(error?.message ? { error_message: error.message.slice(0, 2_000) } : {}),
      },
    }),
  };
}
