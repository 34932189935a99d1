import type { TenantTransaction } from '@provisio/persistence';
import { operationFinishedEvent } from './operation-finished';
import { OperationRow, OperationsRepository } from './operations.repository';

/**
 * Cancels an operation that has not started: `pending` and `awaiting_system` go to `cancelled`; a
 * `failed` one waiting for its retry goes back to `pending` first (the lifecycle has no failed →
 * cancelled). Answers the cancelled row, or undefined when the operation is running or finished. The
 * end is announced (`provisio.operation.finished`, status `cancelled`) in the same transaction.
 */
export async function cancelOperation(operations: OperationsRepository, tx: TenantTransaction, operation: OperationRow, reason: string): Promise<OperationRow | undefined> {
  if (operation.status === 'failed') {
    const back = await operations.transition(tx, operation.id, ['failed'], 'pending', { next_attempt_at: null });
    if (!back) return undefined;
  }
  const cancelled = await operations.transition(tx, operation.id, ['pending', 'awaiting_system'], 'cancelled', { completed_at: new Date(), next_attempt_at: null, error_message: reason });
  if (cancelled) {
    await operations.log(tx, operation.id, 'warn', `cancelled: ${reason}`);
    await tx.publish(operationFinishedEvent(tx.tenantId, cancelled, 'cancelled', { message: reason }));
  }
  return cancelled;
}
