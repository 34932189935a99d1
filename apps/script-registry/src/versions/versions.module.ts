import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ScriptVersionsController } from './script-versions.controller';
import { ScriptVersionsService } from './script-versions.service';

/** Script versions: numbering, history, diffs, rollback. Exports `ScriptVersionsService.append` for the scripts feature. */
@Module({
  imports: [AuditModule],
  controllers: [ScriptVersionsController],
  providers: [ScriptVersionsService],
  exports: [ScriptVersionsService],
})
export class VersionsModule {}
