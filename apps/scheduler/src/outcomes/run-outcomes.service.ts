import { Injectable, Logger } from '@nestjs/common';
import type { CloudEvent, ScriptExecutionFinished } from '@provisio/contracts';
import type { TenantScoped } from '@provisio/persistence';
import { RUN_STATE_COLUMNS, RunStateRow, runStateOf } from '../scheduled-jobs';
import { SchedulerMetrics } from '../scheduler.metrics';
import { decideOutcome, RunResult, RunStateChanges } from '../timing/run-outcome';

/** Columns `decideOutcome` may change; anything else in a changes object is a bug, not an update. */
const CHANGEABLE: readonly (keyof RunStateChanges)[] = [
  'is_running',
  'locked_by',
  'locked_until',
  'last_run_status',
  'success_count',
  'failure_count',
  'consecutive_failures',
  'last_duration_ms',
  'total_duration_ms',
  'last_error',
  'status',
];

export type OutcomeSource = 'result' | 'lease_expired';

/**
 * Records how scheduled runs ended on their schedule's row: from the worker's
 * `provisio.script.execution.finished` events, and for runs the sweep releases after their lease. Always
 * inside the caller's transaction (`db`, scoped to the schedule's tenant), on a row it holds locked.
 */
@Injectable()
export class RunOutcomesService {
  private readonly logger = new Logger(RunOutcomesService.name);

  constructor(private readonly metrics: SchedulerMetrics) {}

  /** Applies a finished event. Returns the job's `next_run_at` when the event closed its run (to wake the loop). */
  async recordFinished(event: CloudEvent<ScriptExecutionFinished>, db: TenantScoped, now: Date): Promise<Date | null> {
    const { scheduled_job_id: jobId, scheduled_for: scheduledFor } = event.data;
    if (!jobId || !scheduledFor) return null; // not a scheduled run
    const row = await db.one<RunStateRow>(`SELECT ${RUN_STATE_COLUMNS} FROM script_scheduled_jobs j WHERE j.tenant_id = $1 AND j.id = $2 FOR NO KEY UPDATE`, [jobId]);
    if (!row) return null; // the schedule was deleted (or the id belongs to no schedule of this tenant)
    const closed = await this.apply(db, row, { scheduled_for: new Date(scheduledFor), status: event.data.status, duration_ms: event.data.duration_ms, error: event.data.error }, 'result', now);
    return closed ? row.next_run_at : null;
  }

  /** Applies one outcome to a locked row. Returns whether it closed the schedule's current run. */
  async apply(db: TenantScoped, row: RunStateRow, result: RunResult, source: OutcomeSource, now: Date): Promise<boolean> {
    const decision = decideOutcome(runStateOf(row), result);
    const context = { schedule_id: row.id, tenant_id: row.tenant_id, script_id: row.script_id, scheduled_for: result.scheduled_for.toISOString(), status: result.status };
    if (decision.kind === 'ignore') {
      this.metrics.lateResults.inc();
      this.logger.log({ message: 'result of a run already released as timed out; not counted again', ...context });
      return false;
    }
    const entries = CHANGEABLE.filter((column) => decision.changes[column] !== undefined).map((column) => [column, decision.changes[column]] as const);
    // $1 is the tenant, then the id and the time.
    const values: unknown[] = [row.id, now];
    const sets = entries.map(([column, value]) => {
      values.push(value);
      return `${column} = $${values.length + 1}`;
    });
    await db.execute(`UPDATE script_scheduled_jobs SET ${[...sets, 'updated_at = $3'].join(', ')} WHERE tenant_id = $1 AND id = $2`, values);

    this.metrics.outcomes.inc({ status: result.status });
    if (source === 'lease_expired') {
      this.metrics.runsReleased.inc();
      this.logger.warn({ message: 'run held is_running past its lease; released and recorded as timeout', ...context });
    }
    if (decision.failure_action) {
      this.metrics.failureActions.inc({ action: decision.failure_action });
      const streak = { consecutive_failures: decision.changes.consecutive_failures, error: decision.changes.last_error };
      if (decision.failure_action === 'notify') {
        this.metrics.notifications.inc({ kind: 'failure_action' });
        this.logger.warn({ message: 'schedule keeps failing (failure_action notify)', ...context, ...streak, notification_emails: row.notification_emails });
      } else {
        this.logger.warn({ message: `schedule ${decision.changes.status ?? row.status} after consecutive failures (failure_action ${decision.failure_action})`, ...context, ...streak });
      }
    }
    for (const kind of decision.notify) {
      this.metrics.notifications.inc({ kind });
      this.logger.log({ message: `scheduled run ${kind === 'success' ? 'succeeded' : 'failed'} (notify_on_${kind})`, ...context, notification_emails: row.notification_emails });
    }
    return decision.closes_run;
  }

  /** Releases a run whose lease ran out without a result. */
  async releaseExpired(db: TenantScoped, row: RunStateRow, now: Date): Promise<void> {
    if (!row.last_run_at) {
      // is_running without a run of ours to blame: just release it.
      await db.execute('UPDATE script_scheduled_jobs SET is_running = false, locked_by = NULL, locked_until = NULL, updated_at = $3 WHERE tenant_id = $1 AND id = $2', [row.id, now]);
      return;
    }
    const lease = row.locked_until ? ` by ${row.locked_until.toISOString()}` : '';
    await this.apply(
      db,
      row,
      {
        scheduled_for: row.last_run_at,
        status: 'timeout',
        duration_ms: Math.max(0, now.getTime() - row.last_run_at.getTime()),
        error: `no result${lease} (max_execution_time_ms + SCHEDULER_RUN_GRACE_MS); released by the scheduler`,
      },
      'lease_expired',
      now,
    );
  }
}
