import { DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@provisio/platform';
import type { AppConfig } from './config';

/** Script registry: the HTTP API where tenants write, version, test and bind their scripts. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({ service: 'script-registry', config, database: true, redis: false, kafka: true, outboxRelay: true }),
      ],
    };
  }
}
