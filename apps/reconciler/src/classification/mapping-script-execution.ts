import type { DynamicModule } from '@nestjs/common';
import { ScriptExecutionModule } from '@provisio/script-execution';

/** CloudEvents `source` of the `finished` events of the reconciler's mapping-script runs. */
export const RECONCILER_EVENT_SOURCE = 'provisio/reconciler';

/**
 * Connector mapping scripts run in this process while a run computes its expected side, through the shared
 * ScriptExecutionModule with this service's own sandbox pool (RECONCILIATION_SANDBOX_POOL_SIZE workers):
 * each batch is a `script_executions` row (trigger `api`, `connector_id`), and `max_concurrent_runs` holds
 * across replicas and with the other services' runs of the same script.
 */
export function mappingScriptExecution(options: { poolSize: number }): DynamicModule {
  return ScriptExecutionModule.forRoot({
    pool: { size: options.poolSize },
    runsPerProcess: options.poolSize * 2,
    acrossReplicas: true,
    eventSource: RECONCILER_EVENT_SOURCE,
  });
}
