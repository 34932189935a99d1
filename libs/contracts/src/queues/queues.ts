/**
 * BullMQ queue and job names, with explicit string values: renaming a class never orphans queued jobs.
 */
export const Queue = {
  /** Script executions to run (event-triggered ones retried with backoff, then dead-lettered). */
  ScriptExecutions: 'script-executions',
  ProvisioningOperations: 'provisioning-operations',
  Reconciliation: 'reconciliation',
} as const;
export type QueueName = (typeof Queue)[keyof typeof Queue];

export const Job = {
  ExecuteScript: 'execute-script',
  ExecuteOperation: 'execute-operation',
  RunReconciliation: 'run-reconciliation',
  /** One segment of a reconciliation run (part of the target's search or of the identity store). */
  ReconcileSegment: 'reconcile-segment',
} as const;
export type JobName = (typeof Job)[keyof typeof Job];
