import { DynamicModule, Module } from '@nestjs/common';
import { TenantDataModule } from '@provisio/persistence';
import { OutboxService, PlatformModule } from '@provisio/platform';
import type { AppConfig } from './config';
import { FiringModule } from './firing/firing.module';
import { OutcomesModule } from './outcomes/outcomes.module';
import { ReconciliationSchedulesModule } from './reconciliation-schedules/reconciliation-schedules.module';
import { SchedulesModule } from './schedules/schedules.module';
import { ScriptChangesModule } from './script-changes/script-changes.module';

/**
 * Scheduler: fires scheduled scripts exactly once per occurrence across replicas (`firing/`), records how
 * their runs ended (`outcomes/`), wakes up on script changes (`script-changes/`) and serves the schedules
 * API (`schedules/`); fires reconciliation schedules the same way (`reconciliation-schedules/`). The time
 * arithmetic (cron, time zones, misfires) is pure, in libs/platform (`scheduling/`) and `timing/`. See
 * docs/scheduler.md.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({ service: 'scheduler', config, database: true, redis: false, kafka: true, outboxRelay: true }),
        TenantDataModule.forRoot({ outbox: OutboxService }),
        FiringModule,
        OutcomesModule,
        ReconciliationSchedulesModule,
        SchedulesModule,
        ScriptChangesModule,
      ],
    };
  }
}
