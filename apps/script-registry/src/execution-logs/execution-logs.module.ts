import { Module } from '@nestjs/common';
import { ExecutionLogsController } from './execution-logs.controller';
import { ExecutionLogsService } from './execution-logs.service';

/** Execution logs: seed 000's ExecutionLog view over `script_executions` (read only). */
@Module({
  controllers: [ExecutionLogsController],
  providers: [ExecutionLogsService],
})
export class ExecutionLogsModule {}
