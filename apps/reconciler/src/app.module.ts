import { DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@provisio/platform';
import { mappingScriptExecution } from './classification/mapping-script-execution';
import { CommonModule } from './common/common.module';
import type { AppConfig } from './config';
import { RunsModule } from './runs/runs.module';
import { SchedulesModule } from './schedules/schedules.module';

/**
 * Reconciler: compares the identity store with each target system (runs, discrepancies, guard rail,
 * reports) and starts the runs of its schedules when the scheduler fires them (`schedules/`). What it
 * announces (a run finished, remediation toward a target) goes through the outbox to Kafka.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({ service: 'reconciler', config, database: true, redis: true, kafka: true, outboxRelay: true }),
        CommonModule,
        mappingScriptExecution({ poolSize: config.RECONCILIATION_SANDBOX_POOL_SIZE }),
        RunsModule,
        SchedulesModule,
      ],
    };
  }
}
