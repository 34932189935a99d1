import type { TerminalExecutionStatus } from '@provisio/contracts';
import type { ScheduleFailureAction, ScheduleStatus } from '@provisio/persistence';

/**
 * How a finished run (or one released after its lease) changes its schedule's row. Pure: the outcome
 * consumer and the stuck-run sweep both call it on a row they hold locked.
 *
 * A run is identified by its occurrence (`scheduled_for`); `last_run_at` holds the occurrence of the last
 * run the schedule fired. The result of that run *closes* it: `is_running` and the lease are cleared and
 * `last_run_status` is set. A result for a run that was already closed (the sweep recorded it as
 * `timeout`, then the worker answered after all) is ignored, so nothing is counted twice. With
 * `allow_concurrent`, results of earlier runs that are still open are counted without closing anything.
 *
 * Counters: `completed` is a success, `failed` and `timeout` are failures (`failure_count`,
 * `consecutive_failures`, `last_error`); `cancelled` and `skipped` count as neither. `run_count` is
 * incremented when a run fires, not here. After `failure_threshold` consecutive failures the schedule's
 * `failure_action` applies: `pause` and `disable` set its status, `notify` is reported to the caller (a log
 * line and a metric), `continue` does nothing.
 */
/** How a run ended: one of the terminal execution statuses (`@provisio/contracts`). */
export type FinishedStatus = TerminalExecutionStatus;

export interface RunState {
  status: ScheduleStatus;
  is_running: boolean;
  last_run_at: Date | null;
  allow_concurrent: boolean;
  failure_action: ScheduleFailureAction;
  failure_threshold: number;
  consecutive_failures: number;
  success_count: number;
  failure_count: number;
  /** BIGINT: pg gives it as a string. */
  total_duration_ms: number | string;
  notify_on_success: boolean;
  notify_on_failure: boolean;
}

export interface RunResult {
  scheduled_for: Date;
  status: FinishedStatus;
  duration_ms: number;
  error?: string | null;
}

export interface RunStateChanges {
  is_running?: boolean;
  locked_by?: null;
  locked_until?: null;
  last_run_status?: FinishedStatus;
  success_count?: number;
  failure_count?: number;
  consecutive_failures?: number;
  last_duration_ms?: number;
  total_duration_ms?: string;
  last_error?: string | null;
  status?: ScheduleStatus;
}

export type OutcomeDecision =
  | { kind: 'ignore'; reason: 'already_closed' }
  | {
      kind: 'record';
      closes_run: boolean;
      changes: RunStateChanges;
      /** The failure action that applies now (`continue` never appears). */
      failure_action: Exclude<ScheduleFailureAction, 'continue'> | null;
      /** `notify_on_success` / `notify_on_failure` notifications due. */
      notify: ('success' | 'failure')[];
    };

export function decideOutcome(state: RunState, result: RunResult): OutcomeDecision {
  const current = state.last_run_at?.getTime();
  const slot = result.scheduled_for.getTime();
  let closes = false;
  if (current === slot) {
    if (!state.is_running) return { kind: 'ignore', reason: 'already_closed' };
    closes = true;
  } else if (current !== undefined && slot < current && !state.allow_concurrent) {
    // Without concurrency a later run fires only once the earlier one is closed, here by the stuck-run
    // sweep (as timeout): this is that run's late result, already counted.
    return { kind: 'ignore', reason: 'already_closed' };
  }

  const changes: RunStateChanges = {};
  if (closes) Object.assign(changes, { is_running: false, locked_by: null, locked_until: null, last_run_status: result.status });

  const duration = Math.max(0, Math.round(result.duration_ms));
  const succeeded = result.status === 'completed';
  const failed = result.status === 'failed' || result.status === 'timeout';
  let failureAction: Exclude<ScheduleFailureAction, 'continue'> | null = null;
  if (succeeded || failed) {
    changes.last_duration_ms = duration;
    changes.total_duration_ms = String(BigInt(state.total_duration_ms) + BigInt(duration));
  }
  if (succeeded) {
    changes.success_count = state.success_count + 1;
    changes.consecutive_failures = 0;
    if (closes) changes.last_error = null;
  }
  if (failed) {
    changes.failure_count = state.failure_count + 1;
    changes.consecutive_failures = state.consecutive_failures + 1;
    changes.last_error = (result.error ?? '').trim() || `run ${result.status}`;
    if (changes.consecutive_failures >= state.failure_threshold && state.failure_action !== 'continue') {
      failureAction = state.failure_action;
      if (failureAction === 'pause' && state.status === 'active') changes.status = 'paused';
      if (failureAction === 'disable' && state.status !== 'disabled') changes.status = 'disabled';
    }
  }
  const notify: ('success' | 'failure')[] = [];
  if (succeeded && state.notify_on_success) notify.push('success');
  if (failed && state.notify_on_failure) notify.push('failure');
  return { kind: 'record', closes_run: closes, changes, failure_action: failureAction, notify };
}
