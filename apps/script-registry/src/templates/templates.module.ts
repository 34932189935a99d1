import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ScriptRoutingService } from '../scripts/script-routing.service';
import { ScriptsRepository } from '../scripts/scripts.repository';
import { ScriptsService } from '../scripts/scripts.service';
import { ValidationModule } from '../validation/validation.module';
import { VersionsModule } from '../versions/versions.module';
import { TemplatesController } from './templates.controller';
import { TemplatesRepository } from './templates.repository';
import { TemplatesService } from './templates.service';

/**
 * Script templates (own and system) and their instantiation into scripts.
 *
 * Instantiation calls `ScriptsService.create`. `ScriptsModule` does not export `ScriptsService` (only its
 * repository), so its providers are listed here: the same stateless classes, the same code path. Once
 * `ScriptsModule` exports `ScriptsService`, import `ScriptsModule` instead of these three providers.
 */
@Module({
  imports: [AuditModule, VersionsModule, ValidationModule],
  controllers: [TemplatesController],
  providers: [TemplatesService, TemplatesRepository, ScriptsService, ScriptsRepository, ScriptRoutingService],
})
export class TemplatesModule {}
