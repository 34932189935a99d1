import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ScriptParametersModule } from '../parameters/script-parameters.module';
import { ExecutionFeedService } from './execution-feed.service';
import { ExecutionsController } from './executions.controller';
import { ExecutionsService } from './executions.service';

/** Runs started from the API (run now), their progress and cancellation, and the feed of finished records (tail). Exports the recording `oneoff` activation uses. */
@Module({
  imports: [AuditModule, ScriptParametersModule],
  controllers: [ExecutionsController],
  providers: [ExecutionsService, ExecutionFeedService],
  exports: [ExecutionsService],
})
export class ExecutionsModule {}
