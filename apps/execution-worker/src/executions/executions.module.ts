import { Module } from '@nestjs/common';
import { ExecutionQueue } from './execution-queue.service';
import { ExecutionRequestsConsumer } from './execution-requests.consumer';
import { ExecutionHeartbeat } from './execution-heartbeat.service';
import { ExecutionRunner } from './execution-runner.service';
import { ExecutionsRepository } from './executions.repository';
import { ScriptConcurrency } from './script-concurrency.service';

/** Running executions: the queue, the runner, per-script concurrency, and execution requests in. */
@Module({
  providers: [ExecutionsRepository, ScriptConcurrency, ExecutionHeartbeat, ExecutionRunner, ExecutionQueue, ExecutionRequestsConsumer],
  exports: [ExecutionsRepository, ExecutionRunner, ExecutionQueue],
})
export class ExecutionsModule {}
