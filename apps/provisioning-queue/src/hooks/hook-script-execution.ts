import type { DynamicModule } from '@nestjs/common';
import { ScriptExecutionModule } from '@provisio/script-execution';

/** CloudEvents `source` of the `finished` events of hook runs. */
export const HOOK_EVENT_SOURCE = 'provisio/provisioning-queue';

/**
 * Hook scripts run in this process, beside the connector call (`ScriptExecution.run(script, context,
 * { trigger: 'hook', bindingId, connectorId })` records each run with its binding, connector and
 * version): the shared ScriptExecutionModule with this service's pool. `max_concurrent_runs` holds
 * across replicas and with the execution worker's runs of the same script.
 */
export function hookScriptExecution(options: { poolSize?: number; runsPerProcess?: number } = {}): DynamicModule {
  return ScriptExecutionModule.forRoot({
    pool: options.poolSize ? { size: options.poolSize } : {},
    runsPerProcess: options.runsPerProcess ?? 64,
    acrossReplicas: true,
    eventSource: HOOK_EVENT_SOURCE,
  });
}
