import { DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@provisio/platform';
import { ScriptExecutionModule } from '@provisio/script-execution';
import { AnalyticsModule } from './analytics/analytics.module';
import { AuditModule } from './audit/audit.module';
import { BindingsModule } from './bindings/bindings.module';
import { CommonModule } from './common/common.module';
import type { AppConfig } from './config';
import { DryRunsModule } from './dry-runs/dry-runs.module';
import { ExecutionLogsModule } from './execution-logs/execution-logs.module';
import { ExecutionsModule } from './executions/executions.module';
import { ScriptParametersModule } from './parameters/script-parameters.module';
import { ScriptsModule } from './scripts/scripts.module';
import { TemplatesModule } from './templates/templates.module';
import { TenantLimitsModule } from './tenant-limits/tenant-limits.module';
import { ValidationModule } from './validation/validation.module';
import { VersionsModule } from './versions/versions.module';

/**
 * Script registry: the HTTP API where tenants write, version, test and bind their scripts. One module per
 * feature folder (docs/registry.md, docs/registry-templates-bindings-runs.md).
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({ service: 'script-registry', config, database: true, redis: false, kafka: true, outboxRelay: true }),
        CommonModule,
        // The registry only compiles (validation, template checks) and runs dry runs, which are rare and
        // interactive: one QuickJS worker by default keeps the API process small; more runs queue.
        ScriptExecutionModule.forRoot({ pool: { size: config.REGISTRY_SANDBOX_POOL_SIZE }, acrossReplicas: false, eventSource: 'provisio/script-registry' }),
        ScriptsModule,
        VersionsModule,
        AuditModule,
        TemplatesModule,
        BindingsModule,
        ValidationModule,
        DryRunsModule,
        ExecutionLogsModule,
        AnalyticsModule,
        TenantLimitsModule,
        ScriptParametersModule,
        ExecutionsModule,
      ],
    };
  }
}
