import { Module } from '@nestjs/common';
import { ExecutionCancellationsConsumer } from './execution-cancellations.consumer';

/** Cancellations of running executions: the replica holding a run stops it in the sandbox. */
@Module({ providers: [ExecutionCancellationsConsumer] })
export class CancellationsModule {}
