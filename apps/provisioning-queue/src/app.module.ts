import { DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@provisio/platform';
import { CommonModule } from './common/common.module';
import type { AppConfig } from './config';
import { ConnectorsModule } from './connectors/connectors.module';
import { hookScriptExecution } from './hooks/hook-script-execution';
import { IdentitiesModule } from './identities/identities.module';
import { OperationsModule } from './operations/operations.module';

/**
 * Provisioning queue: the identity store (kept from the upstream's domain events), the connectors and
 * their API, and the provisioning operations against target systems with hooks, retries and DLQ.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({ service: 'provisioning-queue', config, database: true, redis: true, kafka: true, outboxRelay: true }),
        CommonModule,
        hookScriptExecution({ poolSize: config.HOOK_SANDBOX_POOL_SIZE, runsPerProcess: config.PROVISIONING_CONCURRENCY, announceRuns: config.HOOK_RUN_EVENTS }),
        IdentitiesModule,
        ConnectorsModule,
        OperationsModule,
      ],
    };
  }
}
