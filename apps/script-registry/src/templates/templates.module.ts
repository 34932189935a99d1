import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ScriptsModule } from '../scripts/scripts.module';
import { ValidationModule } from '../validation/validation.module';
import { TemplatesController } from './templates.controller';
import { TemplatesRepository } from './templates.repository';
import { TemplatesService } from './templates.service';

/** Script templates (own and system) and their instantiation into scripts, through `ScriptsService.create`. */
@Module({
  imports: [AuditModule, ScriptsModule, ValidationModule],
  controllers: [TemplatesController],
  providers: [TemplatesService, TemplatesRepository],
})
export class TemplatesModule {}
