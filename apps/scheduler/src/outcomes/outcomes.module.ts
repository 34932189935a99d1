import { Module } from '@nestjs/common';
import { SchedulerCoreModule } from '../core.module';
import { ExecutionOutcomesConsumer } from './execution-outcomes.consumer';
import { RunOutcomesService } from './run-outcomes.service';

/** Results of scheduled runs in: counters, last status, failure actions, `is_running` cleared. */
@Module({ imports: [SchedulerCoreModule], providers: [RunOutcomesService, ExecutionOutcomesConsumer], exports: [RunOutcomesService] })
export class OutcomesModule {}
