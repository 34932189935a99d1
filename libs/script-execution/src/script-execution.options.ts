import type { SandboxPoolOptions } from '@provisio/sandbox';

/** What an app tells ScriptExecutionModule.forRoot, from its own configuration. */
export interface ScriptExecutionOptions {
  /** The app's sandbox pool (each app sizes its own: the worker runs everything, the registry only dry runs). */
  pool: SandboxPoolOptions;
  /** Script runs of this process at once, whatever started them (the gate's step 2); none: no bound of its own. */
  runsPerProcess?: number;
  /** Holds max_concurrent_runs across replicas with Redis leases (the gate's step 3); needs PlatformModule's `redis`. */
  acrossReplicas: boolean;
  /** CloudEvents `source` of the `finished` events this app's runs announce (`provisio/execution-worker`). */
  eventSource: string;
  /**
   * Whether `run` and `recordSkipped` announce each run on `provisio.script-executions` (default true).
   * The provisioning queue's hook runs are not, unless asked: three or more a provisioning operation, whose
   * own `provisio.operation.finished` stands for the chain; every run is still a row (and in the execution feed).
   */
  announceRuns?: boolean;
}

export const SCRIPT_EXECUTION_OPTIONS = Symbol('SCRIPT_EXECUTION_OPTIONS');
