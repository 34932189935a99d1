import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ExecutionsModule } from '../executions/executions.module';
import { TenantLimitsModule } from '../tenant-limits/tenant-limits.module';
import { VersionsModule } from '../versions/versions.module';
import { ScriptRoutingService } from './script-routing.service';
import { ScriptsController } from './scripts.controller';
import { ScriptsRepository } from './scripts.repository';
import { ScriptsService } from './scripts.service';

/** Scripts: their rules, lifecycle and derived routing. Exports the service (templates create through it) and the repository. */
@Module({
  imports: [AuditModule, VersionsModule, TenantLimitsModule, ExecutionsModule],
  controllers: [ScriptsController],
  providers: [ScriptsService, ScriptsRepository, ScriptRoutingService],
  exports: [ScriptsService, ScriptsRepository],
})
export class ScriptsModule {}
