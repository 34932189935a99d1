import { Injectable } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { Metrics } from '@provisio/platform';

/** The scheduler's own series, on the service's registry (served at /metrics with the platform's). */
@Injectable()
export class SchedulerMetrics {
  /** Due time → the execution request is in the outbox (committed). */
  readonly firingLag: Histogram;
  readonly fired: Counter<'kind'>;
  readonly skipped: Counter<'reason'>;
  readonly outcomes: Counter<'status'>;
  readonly runsReleased: Counter;
  readonly lateResults: Counter;
  readonly failureActions: Counter<'action'>;
  readonly notifications: Counter<'kind'>;
  readonly claimDuration: Histogram;

  constructor(metrics: Metrics) {
    const registers = [metrics.registry];
    this.firingLag = new Histogram({
      name: 'provisio_scheduler_firing_lag_seconds',
      help: 'From an occurrence’s due time to its execution request committed to the outbox',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.fired = new Counter({ name: 'provisio_scheduler_fired_total', help: 'Execution requests emitted: kind = scheduled, catch_up (misfire run_once) or manual (trigger now)', labelNames: ['kind'], registers });
    this.skipped = new Counter({ name: 'provisio_scheduler_skipped_total', help: 'Occurrences not fired: reason = misfire (missed beyond the threshold) or invalid_schedule', labelNames: ['reason'], registers });
    this.outcomes = new Counter({ name: 'provisio_scheduler_run_outcomes_total', help: 'Scheduled runs recorded, by status', labelNames: ['status'], registers });
    this.runsReleased = new Counter({ name: 'provisio_scheduler_runs_released_total', help: 'Runs that held is_running past max_execution_time_ms + grace, released and recorded as timeout', registers });
    this.lateResults = new Counter({ name: 'provisio_scheduler_late_results_total', help: 'Results of runs already released as timed out (ignored)', registers });
    this.failureActions = new Counter({ name: 'provisio_scheduler_failure_actions_total', help: 'Failure actions taken after failure_threshold consecutive failures', labelNames: ['action'], registers });
    this.notifications = new Counter({ name: 'provisio_scheduler_notifications_total', help: 'Notifications due (notify_on_success / notify_on_failure / failure_action notify); logged', labelNames: ['kind'], registers });
    this.claimDuration = new Histogram({
      name: 'provisio_scheduler_claim_seconds',
      help: 'Duration of one claim-and-fire transaction',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
  }
}
