import type { MisfirePolicy, ScheduleDayFilter, ScheduleFailureAction, ScheduleFrequency, ScheduleStatus } from '@provisio/persistence';
import type { RunState } from './timing/run-outcome';
import type { ScheduleDefinition } from './timing/schedule-timing';

/** Column lists and row shapes of `script_scheduled_jobs` (alias `j`) that several features read. */

export const DEFINITION_COLUMNS = 'j.id, j.frequency, j.cron_expression, j.timezone, j.interval_seconds, j.run_at, j.day_filter';

export interface DefinitionRow {
  id: string;
  frequency: ScheduleFrequency;
  cron_expression: string;
  timezone: string | null;
  interval_seconds: number | null;
  run_at: Date | null;
  day_filter: ScheduleDayFilter;
}

/** The definition the timing module evaluates; the job id seeds hashed (`H`) cron fields. */
export function definitionOf(row: DefinitionRow): ScheduleDefinition {
  return {
    frequency: row.frequency,
    cron_expression: row.cron_expression,
    timezone: row.timezone,
    interval_seconds: row.interval_seconds,
    run_at: row.run_at,
    day_filter: row.day_filter,
    seed: row.id,
  };
}

export interface DueJobRow extends DefinitionRow {
  tenant_id: string;
  script_id: string;
  next_run_at: Date;
  misfire_policy: MisfirePolicy;
  /** From the script's resource_limits; numeric, so a string. */
  max_execution_time_ms: string | null;
  /** The permissions of whoever last wrote the schedule, and what the script requires (seed 004). */
  owner_permissions: string[];
  required_permissions: string[];
}

export const RUN_STATE_COLUMNS =
  'j.id, j.tenant_id, j.script_id, j.status, j.is_running, j.last_run_at, j.next_run_at, j.allow_concurrent, j.failure_action, j.failure_threshold, ' +
  'j.consecutive_failures, j.success_count, j.failure_count, j.total_duration_ms, j.notify_on_success, j.notify_on_failure, j.notification_emails, j.locked_until';

export interface RunStateRow {
  id: string;
  tenant_id: string;
  script_id: string;
  status: ScheduleStatus;
  is_running: boolean | null;
  last_run_at: Date | null;
  next_run_at: Date | null;
  allow_concurrent: boolean;
  failure_action: ScheduleFailureAction;
  failure_threshold: number;
  consecutive_failures: number;
  success_count: number;
  failure_count: number;
  total_duration_ms: string;
  notify_on_success: boolean;
  notify_on_failure: boolean;
  notification_emails: string[];
  locked_until: Date | null;
}

export function runStateOf(row: RunStateRow): RunState {
  return { ...row, is_running: row.is_running === true };
}
