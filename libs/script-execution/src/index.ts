/**
 * @provisio/script-execution: the one way a Provisio service runs a script and records it, shared by the
 * execution worker (its queue and HTTP triggers), the script registry (dry runs, validation's pool) and
 * the provisioning queue (before/after hooks, in the same process as the connector call).
 *
 *  - ScriptExecutionModule.forRoot({ pool, runsPerProcess?, acrossReplicas, eventSource }): global; owns
 *    the process's SandboxPool (sized by each app from its own config), ready before the app serves,
 *    closed on shutdown, its figures in /metrics.
 *  - ScriptExecution.run(script, context, { trigger, bindingId?, connectorId?, … }): runs and records a
 *    new script_executions row (binding_id, connector_id, script_version), announced through the outbox
 *    unless a dry run (`dry_run = true`).
 *  - ScriptExecution.execute / record / recordMany: runs of rows that exist already (the worker's queue),
 *    recorded once whoever ran them, the batch in one statement with its events.
 *  - ScriptExecution.cancel(executionId): ends a run of this process `cancelled` (SandboxPool.cancel).
 *  - ScriptExecution.recordSkipped(tenantId, runs): rows of runs that never happened (`skipped`, with why).
 *  - loadScriptAtVersion(db, scriptId, version) (script-versions.ts): a script at a stored version, to run.
 *  - ScriptRunGate (gate/script-run-gate.ts): the one per-script concurrency gate every run passes.
 *
 * Every run gets its script's limits lowered to the tenant's caps and the tenant's allowed fetch hosts
 * and ports. Statements go through the tenant layer of @provisio/persistence (TenantDataModule).
 */
export { ScriptExecutionModule, SandboxPoolLifecycle } from './script-execution.module';
export type { ScriptExecutionOptions } from './script-execution.options';
export { ScriptExecution, type FinishedExecution, type RecordedRun, type RunnableScript, type RunOptions, type SandboxRun, type SkippedScriptRun } from './script-execution.service';
export {
  EXECUTION_COLUMNS,
  ExecutionRecords,
  RUNNING_GRACE_MS,
  SCRIPT_TO_RUN_COLUMNS,
  SCRIPT_TO_RUN_JOINS,
  splitClaimedRow,
  TERMINAL_LIST,
  type ClaimedRow,
  type ExecutionRow,
  type ScriptToRun,
} from './execution-records.repository';
export { ConcurrencyLimitReached } from './gate/script-run-gate';
export { loadScriptAtVersion } from './script-versions';
