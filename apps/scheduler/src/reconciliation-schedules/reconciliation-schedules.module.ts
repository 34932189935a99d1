import { Module } from '@nestjs/common';
import { SchedulerCoreModule } from '../core.module';
import { ReconciliationFiringLoop } from './reconciliation-firing.loop';
import { ReconciliationFiringService } from './reconciliation-firing.service';

/**
 * Fires reconciliation schedules (`reconciliation_schedules`, written by the reconciler's API): one
 * `provisio.reconciliation.requested` per due occurrence across replicas, through the outbox. The
 * reconciler starts the runs. See docs/scheduler.md, "Reconciliation schedules".
 */
@Module({ imports: [SchedulerCoreModule], providers: [ReconciliationFiringService, ReconciliationFiringLoop], exports: [ReconciliationFiringService] })
export class ReconciliationSchedulesModule {}
