import { Injectable } from '@nestjs/common';
import type { ConflictOutcome, TenantTransaction } from '@provisio/persistence';
import { cancelOperation } from '../operation-cancel';
import { touchedAttributes } from '../operation-plan';
import { OperationRow, OperationsRepository } from '../operations.repository';
import { ConflictsRepository } from './conflicts.repository';

/** A conflict between an open operation `a` and a newer one `b` of the same account, and its default. */
export interface ConflictCase {
  type: 'overlapping_update' | 'update_after_delete' | 'delete_after_change' | 'duplicate_create';
  attributes: string[];
  /** The default outcome, and which operation it cancels (none: the two run in order). */
  outcome: ConflictOutcome;
  cancels: 'a' | 'b' | null;
  notes: string;
}

/**
 * Which case two operations of one account are (pure). Operations of one account run one at a time in
 * the order they were created, so most overlaps resolve themselves by that order; the defaults:
 *
 *  - update after update, overlapping attributes: `overlapping_update`, **superseded** — the later
 *    values win (it runs last); disjoint attributes are no conflict, the two updates merge by running;
 *  - update after a delete still open: `update_after_delete`, **rejected** — the update is cancelled
 *    (there will be no account to update);
 *  - delete after an open create or update: `delete_after_change`, **superseded** — the earlier
 *    operation is cancelled if it has not started (a running one finishes, then the delete runs);
 *  - create after an open create: `duplicate_create`, **rejected** — the later create is cancelled.
 */
export function conflictCase(a: OperationRow, b: OperationRow): ConflictCase | null {
  const touchedA = touchedAttributes(a.operation_type, a.payload);
  const touchedB = touchedAttributes(b.operation_type, b.payload);
  if (a.operation_type === 'update' && b.operation_type === 'update') {
    const overlap = touchedB.filter((name) => touchedA.includes(name));
    if (overlap.length === 0) return null;
    return { type: 'overlapping_update', attributes: overlap, outcome: 'superseded', cancels: null, notes: 'default: the later update supersedes the earlier one for these attributes (it runs after it)' };
  }
  if (a.operation_type === 'delete' && b.operation_type === 'update') {
    return { type: 'update_after_delete', attributes: touchedB, outcome: 'rejected', cancels: 'b', notes: 'default: the update is rejected, the account is being deleted' };
  }
  if (b.operation_type === 'delete' && a.operation_type !== 'delete') {
    return { type: 'delete_after_change', attributes: touchedA, outcome: 'superseded', cancels: 'a', notes: 'default: the delete supersedes the earlier change, which is cancelled if it has not started' };
  }
  if (a.operation_type === 'create' && b.operation_type === 'create') {
    return { type: 'duplicate_create', attributes: touchedB.filter((name) => touchedA.includes(name)), outcome: 'rejected', cancels: 'b', notes: 'default: the second create is rejected' };
  }
  return null;
}

const isOperatorMade = (operation: OperationRow) => operation.payload.cause?.kind === 'operator';

/**
 * Records the conflicts of a new operation with the open operations of its account and applies the
 * default of each case. A default that cannot be applied (the operation to cancel is already running)
 * or a conflict involving an operator's own operation (`POST /operations`: never cancelled by a rule)
 * is left `pending` for an operator to resolve.
 */
@Injectable()
export class ConflictDetector {
  constructor(
    private readonly operations: OperationsRepository,
    private readonly conflicts: ConflictsRepository,
  ) {}

  async detect(tx: TenantTransaction, b: OperationRow): Promise<void> {
    if (!b.account_key) return;
    const open = await this.operations.openOnAccount(tx, b.connector_id, b.account_key, b.id);
    for (const a of open) {
      if (a.created_at > b.created_at) continue;
      const found = conflictCase(a, b);
      if (!found) continue;
      const operatorMade = isOperatorMade(a) || isOperatorMade(b);
      let applied = false;
      if (!operatorMade) {
        if (found.cancels === null) applied = true;
        else applied = (await cancelOperation(this.operations, tx, found.cancels === 'a' ? a : b, `conflict ${found.type} with operation ${found.cancels === 'a' ? b.id : a.id}`)) !== undefined;
      }
      await this.conflicts.insert(tx, {
        a: a.id,
        b: b.id,
        type: found.type,
        attributes: found.attributes,
        status: applied ? 'resolved' : 'pending',
        outcome: applied ? found.outcome : null,
        notes: applied ? found.notes : `${found.notes}; not applied (${operatorMade ? "an operator's operation" : 'the operation is already running'}): an operator resolves it`,
      });
      await this.operations.log(tx, b.id, 'warn', `conflict ${found.type} with operation ${a.id} on ${found.attributes.join(', ') || 'the account'}: ${applied ? found.outcome : 'pending'}`);
      if (applied && found.cancels === 'b') return; // b is cancelled: no further conflicts of it matter
    }
  }
}
