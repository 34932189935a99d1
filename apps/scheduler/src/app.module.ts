import { DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@provisio/platform';
import type { AppConfig } from './config';

/** Scheduler: fires cron-scheduled scripts exactly once per occurrence, across replicas. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({ service: 'scheduler', config, database: true, redis: false, kafka: true, outboxRelay: true }),
      ],
    };
  }
}
