import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { applyMapping } from '@provisio/connectors';
import { ConsumerGroup, createCloudEvent, EventType, messageKey, OperationRequested, operationRequestedSchema, Topic } from '@provisio/contracts';
import { TenantDatabase, TenantTransaction } from '@provisio/persistence';
import { APP_CONFIG, EventConsumerHost } from '@provisio/platform';
import type { AppConfig } from '../config';
import { parseMapping } from '../connectors/connector-settings';
import { IdentitiesRepository } from '../identities/identities.repository';
import { OperationPayload } from './operation-plan';
import { OPERATION_SOURCE, OperationPlanner } from './operation-planner.service';
import { OperationRow, OperationsRepository } from './operations.repository';
import { OperationQueue } from './queue/operation-queue.service';

/**
 * The reconciler's remediation toward a target (`provisio.operation.requested` on
 * `provisio.remediation-requests`) becomes a provisioning operation through the queue's normal creation
 * path (OperationPlanner.create: logged, conflict-checked, announced, enqueued; then hooks, per-account
 * ordering, retries and dead letters as for any operation), with the id the request names. Idempotent
 * twice over: the consumer host records the event, and an operation that already has the id is left
 * alone. A request whose identity or connector is gone creates nothing and answers
 * `provisio.operation.finished` with status `rejected`; one whose operation a conflict cancels at once
 * answers `cancelled`: either way the reconciler's result does not wait forever.
 */
@Injectable()
export class RemediationRequestsConsumer implements OnModuleInit {
  constructor(
    private readonly host: EventConsumerHost,
    private readonly db: TenantDatabase,
    private readonly operations: OperationsRepository,
    private readonly identities: IdentitiesRepository,
    private readonly planner: OperationPlanner,
    private readonly queue: OperationQueue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.host.register<OperationRequested>({
      groupId: ConsumerGroup.ProvisioningRemediationRequests,
      topic: Topic.RemediationRequests,
      schemaFor: (type) => (type === EventType.OperationRequested ? operationRequestedSchema : null),
      handle: (event, { manager }) => this.create(this.db.join(manager, event.tenantid), event.data),
      afterCommitAll: (applied) => this.queue.enqueue(applied.map(({ handled }) => handled as OperationRow | null).filter((row): row is OperationRow => row !== null)),
    });
  }

  /** Creates the requested operation; null when it exists already, or could not be made or was cancelled at once (then announced). */
  private async create(tx: TenantTransaction, request: OperationRequested): Promise<OperationRow | null> {
    if (await this.operations.find(tx, request.operation_id)) return null;
    const connector = await this.operations.connector(tx, request.connector_id);
    if (!connector) return this.reject(tx, request, `connector ${request.connector_id} no longer exists`);
    const identity = request.user_id ? await this.identities.find(tx, request.user_id) : undefined;
    if (request.user_id && !identity) return this.reject(tx, request, `identity ${request.user_id} no longer exists`);
    const payload: OperationPayload = { hook_operation: request.operation_type, cause: { kind: 'reconciliation', request_id: request.request_id, run_id: request.run_id ?? null, discrepancy_id: request.discrepancy_id ?? null, subject: request.requested_by ?? null } };
    if (identity && request.operation_type !== 'delete') {
      // As an operator's operation for a user: the mapping gives the attributes (the mapping script, if any, runs when it runs).
      const mapped = applyMapping(parseMapping(connector.attribute_mapping), identity);
      payload.attributes = mapped.attributes;
      if (mapped.missing.length) payload.missing = mapped.missing;
      if (request.operation_type === 'update') payload.delta = { replace: mapped.attributes, remove: [] };
      if (request.operation_type === 'create' && identity.status !== 'active') payload.enabled = false;
      if (connector.mapping_script_id) payload.mapping_script_id = connector.mapping_script_id;
    }
    const [row] = await this.planner.create(tx, [
      {
        id: request.operation_id,
        connector_id: connector.id,
        connector_name: connector.name,
        user_id: request.user_id,
        operation_type: request.operation_type,
        object_class: 'account',
        target_uid: request.target_uid,
        account_key: request.user_id ?? `uid:${request.target_uid}`,
        priority: 0,
        max_retries: this.config.PROVISIONING_MAX_RETRIES,
        payload,
      },
    ]);
    // A conflict's default outcome may cancel it at once (a create while the identity's own create is open):
    // cancelOperation has announced that end already, so the reconciler's result does not wait.
    const now = await this.operations.find(tx, row.id);
    return now?.status === 'cancelled' ? null : row;
  }

  private async reject(tx: TenantTransaction, request: OperationRequested, why: string): Promise<null> {
    await tx.publish({
      topic: Topic.ProvisioningOperations,
      key: messageKey.tenantAccount(tx.tenantId, request.user_id ?? `uid:${request.target_uid}`),
      event: createCloudEvent({
        source: OPERATION_SOURCE,
        type: EventType.OperationFinished,
        tenantid: tx.tenantId,
        subject: request.operation_id,
        data: { operation_id: request.operation_id, connector_id: request.connector_id, user_id: request.user_id, operation_type: request.operation_type, status: 'rejected', error_message: why },
      }),
    });
    return null;
  }
}
