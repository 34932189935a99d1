import { Module } from '@nestjs/common';
import { SchedulesController } from './schedules.controller';
import { SchedulesRepository } from './schedules.repository';
import { SchedulesService } from './schedules.service';

/** Reconciliation schedules: their API (definition, next_run_at). The scheduler owns the firing. */
@Module({
  controllers: [SchedulesController],
  providers: [SchedulesRepository, SchedulesService],
})
export class SchedulesModule {}
