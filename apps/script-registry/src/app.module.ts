import { DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@provisio/platform';
import { AuditModule } from './audit/audit.module';
import { CommonModule } from './common/common.module';
import type { AppConfig } from './config';
import { RegistryExtensionsModule } from './registry-extensions.module';
import { ScriptsModule } from './scripts/scripts.module';
import { VersionsModule } from './versions/versions.module';

/** Script registry: the HTTP API where tenants write, version, test and bind their scripts. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({ service: 'script-registry', config, database: true, redis: false, kafka: true, outboxRelay: true }),
        CommonModule,
        ScriptsModule,
        VersionsModule,
        AuditModule,
        // Templates, hook bindings, validation and dry runs, execution logs, analytics.
        RegistryExtensionsModule,
      ],
    };
  }
}
