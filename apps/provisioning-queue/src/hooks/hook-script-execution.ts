import type { DynamicModule } from '@nestjs/common';
import { ScriptExecutionModule } from '@provisio/script-execution';

/** Hook runs one sandbox worker holds at once (the pool's default is 2). */
const HOOK_RUNS_PER_WORKER = 8;

/** CloudEvents `source` of the `finished` events of hook runs. */
export const HOOK_EVENT_SOURCE = 'provisio/provisioning-queue';

/**
 * Hook scripts run in this process, beside the connector call (`ScriptExecution.run(script, context,
 * { trigger: 'hook', bindingId, connectorId })` records each run with its binding, connector and
 * version): the shared ScriptExecutionModule with this service's pool. `max_concurrent_runs` holds
 * across replicas and with the execution worker's runs of the same script.
 */
export function hookScriptExecution(options: { poolSize?: number; runsPerProcess?: number; announceRuns?: boolean } = {}): DynamicModule {
  return ScriptExecutionModule.forRoot({
    // Hooks are short and many (three per operation in a busy queue): each worker holds up to 8 at once,
    // so it never idles waiting for this busy main thread to hand it the next. The price: a run may
    // wait behind another tenant's slow hook on the same worker (at most its time limit).
    pool: { ...(options.poolSize ? { size: options.poolSize } : {}), maxQueuedPerWorker: HOOK_RUNS_PER_WORKER },
    runsPerProcess: options.runsPerProcess ?? 64,
    acrossReplicas: true,
    eventSource: HOOK_EVENT_SOURCE,
    // Not announced unless asked (HOOK_RUN_EVENTS): at three or more a provisioning operation, the events
    // would outnumber everything else the queue publishes, and the operation's own event stands for them.
    announceRuns: options.announceRuns ?? false,
  });
}
