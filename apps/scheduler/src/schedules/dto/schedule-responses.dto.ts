import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  MISFIRE_POLICIES,
  MisfirePolicy,
  SCHEDULE_DAY_FILTERS,
  SCHEDULE_FAILURE_ACTIONS,
  SCHEDULE_FREQUENCIES,
  SCHEDULE_STATUSES,
  SCRIPT_STATUSES,
  ScheduleDayFilter,
  ScheduleFailureAction,
  ScheduleFrequency,
  ScheduleStatus,
  ScriptStatus,
} from '@provisio/persistence';

/** A `script_scheduled_jobs` row as the API shows it: the seeds' field names, actors as subjects. */
export class ScheduleDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) script_id: string;
  @ApiProperty() script_name: string;
  @ApiProperty({ enum: SCRIPT_STATUSES, description: 'Only schedules of active scripts fire' }) script_status: ScriptStatus;
  @ApiProperty({ format: 'uuid' }) tenant_id: string;
  @ApiProperty({ enum: SCHEDULE_FREQUENCIES }) frequency: ScheduleFrequency;
  @ApiProperty({ example: '30 2 * * *', description: '5 fields, or 6 with seconds first; @once / @every <n>s for once / interval' }) cron_expression: string;
  @ApiProperty({ example: 'Europe/Paris' }) timezone: string;
  @ApiProperty({ type: Number, nullable: true }) interval_seconds: number | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) run_at: string | null;
  @ApiProperty({ enum: SCHEDULE_DAY_FILTERS }) day_filter: ScheduleDayFilter;
  @ApiProperty({ enum: SCHEDULE_STATUSES }) status: ScheduleStatus;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'The next occurrence that will fire (NULL until the scheduler has computed it)' }) next_run_at: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'The occurrence of the last run fired' }) last_run_at: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'pending while the last run is out, then completed, failed, timeout, cancelled or skipped' }) last_run_status: string | null;
  @ApiProperty() is_running: boolean;
  @ApiProperty() allow_concurrent: boolean;
  @ApiProperty({ enum: MISFIRE_POLICIES }) misfire_policy: MisfirePolicy;
  @ApiProperty({ enum: SCHEDULE_FAILURE_ACTIONS }) failure_action: ScheduleFailureAction;
  @ApiProperty() failure_threshold: number;
  @ApiProperty() consecutive_failures: number;
  @ApiProperty() notify_on_success: boolean;
  @ApiProperty() notify_on_failure: boolean;
  @ApiProperty({ type: [String] }) notification_emails: string[];
  @ApiProperty() run_count: number;
  @ApiProperty() success_count: number;
  @ApiProperty() failure_count: number;
  @ApiProperty({ type: Number, nullable: true, description: 'success_count / (success_count + failure_count)' }) success_rate: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'total_duration_ms / (success_count + failure_count)' }) average_duration_ms: number | null;
  @ApiProperty({ type: Number, nullable: true }) last_duration_ms: number | null;
  @ApiProperty() total_duration_ms: number;
  @ApiProperty({ type: String, nullable: true }) last_error: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The scheduler replica that fired the current run' }) locked_by: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'Until when the current run may hold is_running' }) locked_until: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'Subject of the creator' }) created_by: string | null;
  @ApiProperty({ type: String, nullable: true }) updated_by: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) created_at: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) updated_at: string | null;
}

export class SchedulePageDto {
  @ApiProperty({ type: [ScheduleDto] }) items: ScheduleDto[];
  @ApiProperty() total: number;
  @ApiProperty() limit: number;
  @ApiProperty() offset: number;
}

export class OccurrenceDto {
  @ApiProperty({ format: 'date-time', example: '2025-03-30T01:30:00.000Z' }) at: string;
  @ApiProperty({ description: 'The same instant on the schedule’s wall clock', example: '2025-03-30T03:30:00+02:00' }) local: string;
}

export class OccurrencesDto {
  @ApiProperty({ format: 'uuid' }) schedule_id: string;
  @ApiProperty() timezone: string;
  @ApiProperty({ enum: SCHEDULE_STATUSES }) status: ScheduleStatus;
  @ApiProperty({ enum: SCRIPT_STATUSES }) script_status: ScriptStatus;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) next_run_at: string | null;
  @ApiProperty({ type: [OccurrenceDto], description: 'The next occurrences after now by the schedule’s definition (they fire only while the schedule and its script are active)' })
  items: OccurrenceDto[];
}

export class TriggerAcceptedDto {
  @ApiProperty({ format: 'uuid', description: 'Id of the provisio.script.execution.requested event' }) request_id: string;
  @ApiProperty({ format: 'uuid' }) schedule_id: string;
  @ApiProperty({ format: 'uuid' }) script_id: string;
  @ApiProperty({ enum: ['manual'] }) trigger_type: 'manual';
  @ApiProperty({ format: 'date-time' }) requested_at: string;
}

export class ErrorDto {
  @ApiProperty() status: number;
  @ApiProperty() code: string;
  @ApiProperty() message: string;
  @ApiPropertyOptional() field?: string;
}
