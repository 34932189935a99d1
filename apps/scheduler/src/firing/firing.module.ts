import { Module } from '@nestjs/common';
import { SchedulerCoreModule } from '../core.module';
import { OutcomesModule } from '../outcomes/outcomes.module';
import { FiringLoop } from './firing.loop';
import { FiringService } from './firing.service';

/** Due schedules in, execution requests out (through the outbox), once per occurrence across replicas. */
@Module({ imports: [SchedulerCoreModule, OutcomesModule], providers: [FiringService, FiringLoop], exports: [FiringService, FiringLoop] })
export class FiringModule {}
