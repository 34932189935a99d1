import { DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@provisio/platform';
import type { AppConfig } from './config';
import { DeadLettersModule } from './dead-letters/dead-letters.module';
import { DomainEventsModule } from './domain-events/domain-events.module';
import { ExecutionsModule } from './executions/executions.module';
import { HttpTriggersModule } from './http-triggers/http-triggers.module';
import { SandboxModule } from './sandbox/sandbox.module';

/** Execution worker: turns domain events and execution requests into sandboxed script executions. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({ service: 'execution-worker', config, database: true, redis: true, kafka: true, outboxRelay: true }),
        SandboxModule,
        ExecutionsModule,
        DomainEventsModule,
        DeadLettersModule,
        HttpTriggersModule,
      ],
    };
  }
}
