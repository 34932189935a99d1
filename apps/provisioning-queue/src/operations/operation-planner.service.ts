import { Inject, Injectable } from '@nestjs/common';
import { createCloudEvent, EventType, messageKey, Topic } from '@provisio/contracts';
import type { TenantTransaction } from '@provisio/persistence';
import { APP_CONFIG } from '@provisio/platform';
import type { AppConfig } from '../config';
import { parseMapping, parsePolicy } from '../connectors/connector-settings';
import type { IdentityRow } from '../identities/identities.repository';
import { ConflictDetector } from './conflicts/conflict-detector';
import { planOperation } from './operation-plan';
import { NewOperation, OperationRow, OperationsRepository } from './operations.repository';

export const OPERATION_SOURCE = 'provisio/provisioning-queue';

/**
 * Creates provisioning operations inside the caller's transaction: one per connector whose policy
 * covers an identity that changed (IdentityChangesService calls `planChange` for every change), or the
 * one an operator asks for. Each operation is announced on `provisio.provisioning-operations`
 * through the outbox, so it exists, and is announced, if and only if the change commits; the queue's
 * own consumer of that topic enqueues it (and the sweep would, if that were lost).
 */
@Injectable()
export class OperationPlanner {
  constructor(
    private readonly operations: OperationsRepository,
    private readonly conflicts: ConflictDetector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async planChange(tx: TenantTransaction, change: { before: IdentityRow | null; after: IdentityRow | null; cause: Record<string, unknown> }): Promise<OperationRow[]> {
    const identity = change.after ?? change.before;
    // An identity removed through the API takes its links with it; its accounts are left as they are (docs/identities.md).
    if (!identity || !change.after) return [];
    const connectors = await this.operations.provisioningConnectors(tx);
    const planned: NewOperation[] = [];
    for (const connector of connectors) {
      let plan;
      try {
        plan = planOperation({ mapping: parseMapping(connector.attribute_mapping), policy: parsePolicy(connector.provisioning_policy), scripted: !!connector.mapping_script_id }, change.before, change.after);
      } catch {
        continue; // a stored mapping or policy this build no longer accepts: the connector API reports it on its next save
      }
      if (!plan) continue;
      planned.push({
        connector_id: connector.id,
        connector_name: connector.name,
        user_id: identity.id,
        operation_type: plan.operation_type,
        object_class: 'account',
        target_uid: null,
        account_key: identity.id,
        priority: 0,
        max_retries: this.config.PROVISIONING_MAX_RETRIES,
        payload: { ...plan.payload, ...(connector.mapping_script_id && plan.operation_type !== 'delete' ? { mapping_script_id: connector.mapping_script_id } : {}), cause: change.cause },
      });
    }
    return this.create(tx, planned);
  }

  /** Inserts operations, detects conflicts with open operations of the same accounts, and announces them. */
  async create(tx: TenantTransaction, planned: NewOperation[]): Promise<OperationRow[]> {
    if (planned.length === 0) return [];
    const created = await this.operations.insert(tx, planned);
    for (const operation of created) {
      await this.operations.log(tx, operation.id, 'info', `created: ${operation.operation_type} (${operation.payload.hook_operation}) of ${operation.object_class} on ${operation.connector_name}`);
      await this.conflicts.detect(tx, operation);
    }
    await tx.publish(
      created.map((operation) => ({
        topic: Topic.ProvisioningOperations,
        key: messageKey.tenantAccount(tx.tenantId, operation.account_key ?? operation.id),
        event: createCloudEvent({
          source: OPERATION_SOURCE,
          type: EventType.OperationCreated,
          tenantid: tx.tenantId,
          subject: operation.id,
          data: {
            operation_id: operation.id,
            connector_id: operation.connector_id,
            connector_name: operation.connector_name,
            user_id: operation.user_id,
            operation_type: operation.operation_type,
            hook_operation: operation.payload.hook_operation,
            priority: operation.priority,
          },
        }),
      })),
    );
    return created;
  }
}
