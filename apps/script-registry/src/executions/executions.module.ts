import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ScriptParametersModule } from '../parameters/script-parameters.module';
import { ExecutionsController } from './executions.controller';
import { ExecutionsService } from './executions.service';

/** Runs started from the API (run now), their progress and cancellation. Exports the recording `oneoff` activation uses. */
@Module({
  imports: [AuditModule, ScriptParametersModule],
  controllers: [ExecutionsController],
  providers: [ExecutionsService],
  exports: [ExecutionsService],
})
export class ExecutionsModule {}
