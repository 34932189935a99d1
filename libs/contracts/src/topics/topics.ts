/**
 * Every Kafka topic Provisio uses, declared once. Services create them at start-up with these partition
 * counts (see `ensureTopics` in libs/platform). Each consumed topic has a `.dlq` sibling for messages that
 * cannot be parsed or validated, and the retry pipelines publish exhausted work to their own `.dlq`.
 *
 * Keys (see `messageKey`) keep what must stay in order on one partition: tenant + script for script
 * traffic, tenant + account for provisioning traffic.
 */
export const Topic = {
  /** Upstream domain events (`user.created`, `user.updated`, ...), published by identity systems. */
  DomainEvents: 'provisio.domain-events',
  /** Requests to execute a script (`manual`, `api`, `oneoff`, `cron`), from the registry and scheduler. */
  ScriptExecutionRequests: 'provisio.script-execution-requests',
  /** One event per finished script execution. */
  ScriptExecutions: 'provisio.script-executions',
  /**
   * Executions cancelled while running (from the registry): every worker replica reads every message
   * (a consumer group per replica) and interrupts the run if it holds it.
   */
  ScriptExecutionCancellations: 'provisio.script-execution-cancellations',
  /** Script definitions changed (created, updated, status changed, deleted): workers and scheduler refresh. */
  ScriptChanges: 'provisio.script-changes',
  /** Event-triggered runs that exhausted their retries (mirrors `script_event_dead_letters`). */
  ScriptEventsDlq: 'provisio.script-events.dlq',
  /** Provisioning operations created, completed or failed. */
  ProvisioningOperations: 'provisio.provisioning-operations',
  /** Provisioning operations that exhausted their retries (mirrors status `dead_letter`). */
  ProvisioningOperationsDlq: 'provisio.provisioning-operations.dlq',
  /** Reconciliation runs requested and finished. */
  ReconciliationRuns: 'provisio.reconciliation-runs',
  /**
   * Operations the reconciler asks the provisioning queue to create (remediation toward a target), keyed
   * by tenant + account like the operations themselves.
   */
  RemediationRequests: 'provisio.remediation-requests',
} as const;
export type TopicName = (typeof Topic)[keyof typeof Topic];

export interface TopicSpec {
  name: string;
  partitions: number;
  /** Consumed topics get a `.dlq` sibling for poison messages. */
  consumed: boolean;
  retentionMs?: number;
}

const WEEK_MS = 7 * 24 * 3600 * 1000;

export const TOPICS: readonly TopicSpec[] = [
  { name: Topic.DomainEvents, partitions: 12, consumed: true },
  { name: Topic.ScriptExecutionRequests, partitions: 12, consumed: true },
  { name: Topic.ScriptExecutions, partitions: 6, consumed: true },
  { name: Topic.ScriptExecutionCancellations, partitions: 3, consumed: true, retentionMs: 24 * 3600 * 1000 },
  { name: Topic.ScriptChanges, partitions: 3, consumed: true },
  { name: Topic.ScriptEventsDlq, partitions: 3, consumed: false, retentionMs: 4 * WEEK_MS },
  { name: Topic.ProvisioningOperations, partitions: 12, consumed: true },
  { name: Topic.ProvisioningOperationsDlq, partitions: 3, consumed: false, retentionMs: 4 * WEEK_MS },
  { name: Topic.ReconciliationRuns, partitions: 3, consumed: true },
  { name: Topic.RemediationRequests, partitions: 6, consumed: true },
];

export const DLQ_SUFFIX = '.dlq';

/** The poison-message topic of a consumed topic. */
export function dlqTopicOf(topic: string): string {
  return topic.endsWith(DLQ_SUFFIX) ? topic : `${topic}${DLQ_SUFFIX}`;
}

/**
 * Every topic to create: the declared ones plus a `.dlq` for each consumed one. A prefix (for example
 * `staging.`) lets several environments share one cluster; it is applied to every name.
 */
export function topicsToCreate(prefix = ''): TopicSpec[] {
  const all = new Map<string, TopicSpec>();
  for (const spec of TOPICS) {
    all.set(spec.name, spec);
    if (spec.consumed) {
      const dlq = dlqTopicOf(spec.name);
      if (!all.has(dlq)) all.set(dlq, { name: dlq, partitions: 3, consumed: false, retentionMs: 4 * WEEK_MS });
    }
  }
  return [...all.values()].map((spec) => ({ ...spec, name: prefix + spec.name }));
}

/** Message keys: what must stay in order shares a partition. */
export const messageKey = {
  tenantScript: (tenantId: string, scriptId: string) => `${tenantId}:script:${scriptId}`,
  tenantAccount: (tenantId: string, accountId: string) => `${tenantId}:account:${accountId}`,
  tenantConnector: (tenantId: string, connectorId: string) => `${tenantId}:connector:${connectorId}`,
  tenant: (tenantId: string) => tenantId,
};

/** Consumer groups, one per (service, topic) pair; also the idempotency scope in `processed_events`. */
export const ConsumerGroup = {
  WorkerDomainEvents: 'execution-worker.domain-events',
  WorkerExecutionRequests: 'execution-worker.execution-requests',
  /** Prefix of the per-replica groups of `ScriptExecutionCancellations` (`<prefix>.<replica id>`): a broadcast. */
  WorkerExecutionCancellations: 'execution-worker.execution-cancellations',
  SchedulerExecutions: 'scheduler.script-executions',
  SchedulerScriptChanges: 'scheduler.script-changes',
  /** The reconciler's consumer of `provisio.reconciliation.requested` (fired schedules): starts the runs. */
  ReconcilerReconciliationRequests: 'reconciler.reconciliation-requests',
  /** The identity store's consumer of `user.*` domain events (provisioning-queue). */
  ProvisioningDomainEvents: 'provisioning-queue.domain-events',
  /** The provisioning queue's consumer of its own operation announcements: enqueues each created operation. */
  ProvisioningOperations: 'provisioning-queue.provisioning-operations',
  /** The provisioning queue's consumer of the reconciler's remediation requests: creates each operation. */
  ProvisioningRemediationRequests: 'provisioning-queue.remediation-requests',
  /** The reconciler's consumer of finished operations: settles the RemediationResults that asked for them. */
  ReconcilerProvisioningOperations: 'reconciler.provisioning-operations',
} as const;
