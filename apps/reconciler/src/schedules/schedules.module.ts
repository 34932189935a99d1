import { Module } from '@nestjs/common';
import { RunsModule } from '../runs/runs.module';
import { ReconciliationRequestsConsumer } from './reconciliation-requests.consumer';
import { ScheduledRunsService } from './scheduled-runs.service';
import { SchedulesController } from './schedules.controller';
import { SchedulesRepository } from './schedules.repository';
import { SchedulesService } from './schedules.service';

/**
 * Reconciliation schedules: their API (definition, next_run_at) and the consumer that turns each
 * occurrence the scheduler fires into a run (or a skipped occurrence). The scheduler owns the firing.
 */
@Module({
  imports: [RunsModule],
  controllers: [SchedulesController],
  providers: [SchedulesRepository, SchedulesService, ScheduledRunsService, ReconciliationRequestsConsumer],
})
export class SchedulesModule {}
