import { DynamicModule, Module } from '@nestjs/common';
import { TenantDataModule } from '@provisio/persistence';
import { OutboxService, PlatformModule } from '@provisio/platform';
import { ScriptExecutionModule } from '@provisio/script-execution';
import { CancellationsModule } from './cancellations/cancellations.module';
import type { AppConfig } from './config';
import { DeadLettersModule } from './dead-letters/dead-letters.module';
import { DomainEventsModule } from './domain-events/domain-events.module';
import { ExecutionsModule } from './executions/executions.module';
import { HttpTriggersModule } from './http-triggers/http-triggers.module';
import { ParametersModule } from './parameters/parameters.module';
import { EXECUTION_SOURCE } from './execution-source';

/** Execution worker: turns domain events and execution requests into sandboxed script executions. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({ service: 'execution-worker', config, database: true, redis: true, kafka: true, outboxRelay: true }),
        TenantDataModule.forRoot({ outbox: OutboxService }),
        ScriptExecutionModule.forRoot({
          pool: config.SANDBOX_POOL_SIZE > 0 ? { size: config.SANDBOX_POOL_SIZE } : {},
          runsPerProcess: config.EXECUTION_CONCURRENCY,
          acrossReplicas: true,
          eventSource: EXECUTION_SOURCE,
        }),
        ParametersModule,
        ExecutionsModule,
        DomainEventsModule,
        DeadLettersModule,
        HttpTriggersModule,
        CancellationsModule,
      ],
    };
  }
}
