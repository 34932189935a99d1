import { Module } from '@nestjs/common';
import { SchedulerCoreModule } from '../core.module';
import { SchedulesController } from './schedules.controller';
import { SchedulesService } from './schedules.service';

/** The HTTP API over schedules. */
@Module({ imports: [SchedulerCoreModule], controllers: [SchedulesController], providers: [SchedulesService] })
export class SchedulesModule {}
