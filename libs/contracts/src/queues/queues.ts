/**
 * BullMQ queue and job names, with explicit string values: renaming a class never orphans queued jobs.
 */
export const Queue = {
  ScriptEventRetries: 'script-event-retries',
  ProvisioningOperations: 'provisioning-operations',
  Reconciliation: 'reconciliation',
} as const;
export type QueueName = (typeof Queue)[keyof typeof Queue];

export const Job = {
  RetryScriptEvent: 'retry-script-event',
  ExecuteOperation: 'execute-operation',
  RunReconciliation: 'run-reconciliation',
} as const;
export type JobName = (typeof Job)[keyof typeof Job];
