import { Injectable, Module } from '@nestjs/common';
import { CLOCK, systemClock } from './clock';
import { SchedulerMetrics } from './scheduler.metrics';

/** Lets a feature ask the firing loop to look again soon (a run closed and its job is due). */
@Injectable()
export class LoopWakeups {
  private listener?: () => void;

  listen(listener: () => void): void {
    this.listener = listener;
  }

  soon(): void {
    this.listener?.();
  }
}

/** What every scheduler feature shares: the clock (override `CLOCK` in tests), metrics, loop wake-ups. */
@Module({
  providers: [{ provide: CLOCK, useValue: systemClock }, SchedulerMetrics, LoopWakeups],
  exports: [CLOCK, SchedulerMetrics, LoopWakeups],
})
export class SchedulerCoreModule {}
