import type { Script, ScriptScheduledJob } from '@provisio/persistence';
import type { ScheduleDefinition } from '@provisio/platform';
import type { RunState } from './timing/run-outcome';

/**
 * Column lists of `script_scheduled_jobs` (alias `j`) that several features read, and their rows: each a
 * `Pick` of the table's one declaration, the `ScriptScheduledJob` entity (libs/persistence).
 */
const columns = (keys: readonly string[]) => keys.map((k) => `j.${k}`).join(', ');

const DEFINITION_KEYS = ['id', 'frequency', 'cron_expression', 'timezone', 'interval_seconds', 'run_at', 'day_filter'] as const;
export const DEFINITION_COLUMNS = columns(DEFINITION_KEYS);
export type DefinitionRow = Pick<ScriptScheduledJob, (typeof DEFINITION_KEYS)[number]>;

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

export type DueJobRow = DefinitionRow &
  Pick<ScriptScheduledJob, 'tenant_id' | 'script_id' | 'misfire_policy' | 'owner_permissions'> &
  Pick<Script, 'required_permissions'> & {
    /** Due, so never NULL here. */
    next_run_at: Date;
    /** From the script's resource_limits; numeric, so a string. */
    max_execution_time_ms: string | null;
  };

const RUN_STATE_KEYS = [
  'id',
  'tenant_id',
  'script_id',
  'status',
  'is_running',
  'last_run_at',
  'next_run_at',
  'allow_concurrent',
  'failure_action',
  'failure_threshold',
  'consecutive_failures',
  'success_count',
  'failure_count',
  'total_duration_ms',
  'notify_on_success',
  'notify_on_failure',
  'notification_emails',
  'locked_until',
] as const;
export const RUN_STATE_COLUMNS = columns(RUN_STATE_KEYS);
export type RunStateRow = Pick<ScriptScheduledJob, (typeof RUN_STATE_KEYS)[number]>;

export function runStateOf(row: RunStateRow): RunState {
  return { ...row, is_running: row.is_running === true };
}
