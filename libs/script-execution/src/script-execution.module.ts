import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { Metrics, RedisService } from '@provisio/platform';
import { SandboxPool } from '@provisio/sandbox';
import { ExecutionHeartbeat } from './execution-heartbeat';
import { ExecutionRecords } from './execution-records.repository';
import { ScriptConcurrency } from './gate/script-concurrency';
import { ScriptRunGate } from './gate/script-run-gate';
import { ScriptExecution } from './script-execution.service';
import { SCRIPT_EXECUTION_OPTIONS, type ScriptExecutionOptions } from './script-execution.options';

/** The app's sandbox pool: ready before the app serves, its figures in /metrics, closed after in-flight runs on shutdown. */
@Injectable()
export class SandboxPoolLifecycle implements OnApplicationShutdown {
  constructor(@Inject(SandboxPool) private readonly pool: SandboxPool, metrics: Metrics) {
    metrics.observeSandboxPool(() => pool.stats());
  }

  /** After the app stopped taking work: runs still queued end as failed. */
  async onApplicationShutdown(): Promise<void> {
    await this.pool.close();
  }
}

/**
 * Running scripts, for every service that runs one (the execution worker, the registry's dry runs, the
 * provisioning queue's hooks): the process's one `SandboxPool` and `ScriptExecution` (run, record,
 * cancel). Global: import it once, in the app module, with the app's options. Needs PlatformModule's
 * database (and `redis` with `acrossReplicas`) and TenantDataModule.
 */
@Global()
@Module({})
export class ScriptExecutionModule {
  static forRoot(options: ScriptExecutionOptions): DynamicModule {
    return {
      module: ScriptExecutionModule,
      providers: [
        { provide: SCRIPT_EXECUTION_OPTIONS, useValue: options },
        {
          provide: SandboxPool,
          useFactory: async () => {
            const pool = new SandboxPool(options.pool);
            await pool.ready();
            return pool;
          },
        },
        SandboxPoolLifecycle,
        ...(options.acrossReplicas ? [{ provide: ScriptConcurrency, inject: [RedisService], useFactory: (redis: RedisService) => new ScriptConcurrency(redis) }] : []),
        {
          provide: ScriptRunGate,
          inject: options.acrossReplicas ? [ScriptConcurrency] : [],
          useFactory: (concurrency?: ScriptConcurrency) => new ScriptRunGate(options.runsPerProcess, concurrency),
        },
        ExecutionRecords,
        ExecutionHeartbeat,
        ScriptExecution,
      ],
      exports: [SandboxPool, ScriptExecution, ExecutionRecords],
    };
  }
}
