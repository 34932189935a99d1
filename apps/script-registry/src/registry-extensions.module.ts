import { Module } from '@nestjs/common';
import { AnalyticsModule } from './analytics/analytics.module';
import { BindingsModule } from './bindings/bindings.module';
import { ExecutionLogsModule } from './execution-logs/execution-logs.module';
import { TemplatesModule } from './templates/templates.module';
import { ValidationModule } from './validation/validation.module';

/**
 * The registry's second half (docs/registry-part-b.md): templates, hook bindings, validation and dry runs
 * (with the registry's sandbox pool), execution logs and analytics. Needs what `AppModule` provides:
 * the platform (database, auth, outbox) and the global `CommonModule` (`TenantDatabase`).
 */
@Module({
  imports: [TemplatesModule, BindingsModule, ValidationModule, ExecutionLogsModule, AnalyticsModule],
})
export class RegistryExtensionsModule {}
