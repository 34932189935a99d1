import { DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@provisio/platform';
import type { AppConfig } from './config';

/** Provisioning queue: provisioning operations against target systems, with hooks, retries and DLQ. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({ service: 'provisioning-queue', config, database: true, redis: true, kafka: true, outboxRelay: true }),
      ],
    };
  }
}
