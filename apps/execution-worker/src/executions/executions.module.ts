import { Module } from '@nestjs/common';
import { ExecutionQueue } from './execution-queue.service';
import { ExecutionRequestsConsumer } from './execution-requests.consumer';
import { ExecutionsRepository } from './executions.repository';

/**
 * The worker's side of executions: the queue (BullMQ retries, dead letters, the recovery sweep) and
 * execution requests in. Running and recording are ScriptExecutionModule's (`@provisio/script-execution`).
 */
@Module({
  providers: [ExecutionsRepository, ExecutionQueue, ExecutionRequestsConsumer],
  exports: [ExecutionsRepository, ExecutionQueue],
})
export class ExecutionsModule {}
