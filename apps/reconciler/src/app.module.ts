import { DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@provisio/platform';
import type { AppConfig } from './config';

/** Reconciler: compares the identity store with each target system and remediates. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({ service: 'reconciler', config, database: true, redis: true, kafka: true, outboxRelay: true }),
      ],
    };
  }
}
