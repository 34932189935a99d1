import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { createCloudEvent, EventType, messageKey, Topic } from '@provisio/contracts';
import type { TenantTransaction } from '@provisio/persistence';
import { APP_CONFIG } from '@provisio/platform';
import type { AppConfig } from '../config';
import { parseMapping, parsePolicy } from '../connectors/connector-settings';
import type { IdentityRow } from '../identities/identities.repository';
import { ConflictDetector } from './conflicts/conflict-detector';
import { planOperation } from './operation-plan';
import { ConnectorRulesRow, NewOperation, OperationRow, OperationsRepository } from './operations.repository';
import { OPERATION_SOURCE } from './operation-finished';

/** What planOperation needs of a connector. */
type PlanRules = Parameters<typeof planOperation>[0];

export { OPERATION_SOURCE };

/**
 * Creates provisioning operations inside the caller's transaction: one per connector whose policy
 * covers an identity that changed (IdentityChangesService calls `planChange` for every change), or the
 * one an operator asks for. Each operation is announced on `provisio.provisioning-operations`
 * through the outbox, so it exists, and is announced, if and only if the change commits; the queue's
 * own consumer of that topic enqueues it (and the sweep would, if that were lost).
 *
 * A caller that knows when its transaction commits (the domain-event consumer) takes the operations
 * created in it (`takeCreated`) and hands them to `committed` once it has: they are enqueued at once,
 * without waiting for the announcement's trip through Kafka.
 */
@Injectable()
export class OperationPlanner {
  /** Operations created in each transaction (by its EntityManager) and not yet taken. */
  private readonly created = new WeakMap<EntityManager, OperationRow[]>();
  /**
   * The tenant's provisioning connectors as each transaction read them first: a consumer's transaction
   * plans hundreds of changes of one tenant, and reads its connectors once.
   */
  private readonly connectorsIn = new WeakMap<EntityManager, Map<string, Promise<ConnectorRulesRow[]>>>();
  /** Parsed rules of the connector rows read (null: a stored mapping or policy that no longer parses). */
  private readonly rules = new WeakMap<ConnectorRulesRow, PlanRules | null>();
  /** The queue, once it registered (the planning module does not depend on it). */
  private enqueue?: (operations: OperationRow[]) => Promise<void>;

  constructor(
    private readonly operations: OperationsRepository,
    private readonly conflicts: ConflictDetector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Registers where committed operations are enqueued (OperationQueue does, at start). */
  enqueueWith(enqueue: (operations: OperationRow[]) => Promise<void>): void {
    this.enqueue = enqueue;
  }

  /** The operations created in `manager`'s transaction since the last take. */
  takeCreated(manager: EntityManager): OperationRow[] {
    const created = this.created.get(manager) ?? [];
    this.created.delete(manager);
    return created;
  }

  /** Enqueues operations whose transaction has committed (without a queue in this process: the announcement will). */
  async committed(operations: OperationRow[]): Promise<void> {
    if (operations.length && this.enqueue) await this.enqueue(operations);
  }

  async planChange(tx: TenantTransaction, change: { before: IdentityRow | null; after: IdentityRow | null; cause: Record<string, unknown> }): Promise<OperationRow[]> {
    const identity = change.after ?? change.before;
    // An identity removed through the API takes its links with it; its accounts are left as they are (docs/identities.md).
    if (!identity || !change.after) return [];
    const connectors = await this.connectorsOf(tx);
    const planned: NewOperation[] = [];
    for (const connector of connectors) {
      const rules = this.rulesOf(connector);
      if (!rules) continue; // a stored mapping or policy this build no longer accepts: the connector API reports it on its next save
      const plan = planOperation(rules, change.before, change.after);
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
    // A new identity has no operations yet: none of its new ones can conflict with an earlier one.
    return this.create(tx, planned, { fresh: change.before === null });
  }

  /** A connector's mapping and policy, parsed once per row read (a transaction plans hundreds of changes with the same rows). */
  private rulesOf(connector: ConnectorRulesRow): PlanRules | null {
    if (this.rules.has(connector)) return this.rules.get(connector)!;
    let rules: PlanRules | null;
    try {
      rules = { mapping: parseMapping(connector.attribute_mapping), policy: parsePolicy(connector.provisioning_policy), scripted: !!connector.mapping_script_id };
    } catch {
      rules = null;
    }
    this.rules.set(connector, rules);
    return rules;
  }

  private connectorsOf(tx: TenantTransaction): Promise<ConnectorRulesRow[]> {
    let byTenant = this.connectorsIn.get(tx.manager);
    if (!byTenant) this.connectorsIn.set(tx.manager, (byTenant = new Map()));
    let connectors = byTenant.get(tx.tenantId);
    if (!connectors) byTenant.set(tx.tenantId, (connectors = this.operations.provisioningConnectors(tx)));
    return connectors;
  }

  /** Inserts operations, detects conflicts with open operations of the same accounts, and announces them. */
  async create(tx: TenantTransaction, planned: NewOperation[], options: { fresh?: boolean } = {}): Promise<OperationRow[]> {
    if (planned.length === 0) return [];
    if (planned.length === 1) {
      // One statement: the row, its log line and its announcement.
      const given = planned[0] as NewOperation & { id?: string };
      const one = { ...given, id: given.id ?? randomUUID() };
      const operation = await this.operations.insertAnnounced(tx, one, createdLine(one), this.announcement(tx.tenantId, one));
      if (!options.fresh) await this.conflicts.detect(tx, operation);
      this.created.set(tx.manager, [...(this.created.get(tx.manager) ?? []), operation]);
      return [operation];
    }
    const created = await this.operations.insert(tx, planned);
    await this.operations.logMany(
      tx,
      created.map((operation) => ({ operation_id: operation.id, level: 'info', message: createdLine(operation) })),
    );
    if (!options.fresh) for (const operation of created) await this.conflicts.detect(tx, operation);
    this.created.set(tx.manager, [...(this.created.get(tx.manager) ?? []), ...created]);
    await tx.publish(created.map((operation) => this.announcement(tx.tenantId, operation)));
    return created;
  }

  /** `provisio.operation.created` of an operation. */
  private announcement(tenantId: string, operation: Pick<OperationRow, 'id' | 'account_key' | 'connector_id' | 'connector_name' | 'user_id' | 'operation_type' | 'priority' | 'payload'>) {
    return {
      topic: Topic.ProvisioningOperations,
      key: messageKey.tenantAccount(tenantId, operation.account_key ?? operation.id),
      event: createCloudEvent({
        source: OPERATION_SOURCE,
        type: EventType.OperationCreated,
        tenantid: tenantId,
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
    };
  }
}

const createdLine = (operation: Pick<OperationRow, 'operation_type' | 'object_class' | 'connector_name' | 'payload'>) =>
  `created: ${operation.operation_type} (${operation.payload.hook_operation}) of ${operation.object_class} on ${operation.connector_name}`;
