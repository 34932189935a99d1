import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';
import { RECONCILIATION_FREQUENCIES, RECONCILIATION_MODES, RECONCILIATION_SCHEDULE_OUTCOMES } from '@provisio/persistence';
import { PageQueryDto } from '@provisio/platform';

/** The definition fields a create and an update share; which of them a frequency uses is checked by the service. */
class ScheduleDefinitionFields {
  @ApiPropertyOptional({ enum: RECONCILIATION_MODES, default: 'full' })
  @IsOptional()
  @IsIn(RECONCILIATION_MODES)
  mode?: (typeof RECONCILIATION_MODES)[number];

  @ApiPropertyOptional({ minimum: 0, maximum: 23, default: 0, description: 'UTC hour of daily, weekly and monthly runs' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(23)
  hour_of_day?: number | null;

  @ApiPropertyOptional({ minimum: 0, maximum: 6, nullable: true, description: 'weekly: 0 (Sunday) to 6 (Saturday)' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(6)
  day_of_week?: number | null;

  @ApiPropertyOptional({ minimum: 1, maximum: 31, nullable: true, description: 'monthly: 1 to 31; in shorter months the last day' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(31)
  day_of_month?: number | null;

  @ApiPropertyOptional({ nullable: true, maxLength: 255, description: 'cron: 5 fields (minute first) or 6 (second first), or a descriptor (@daily …), in UTC' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  cron_expression?: string | null;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ default: false, description: 'Runs it starts are dry runs (report only, no remediation)' })
  @IsOptional()
  @IsBoolean()
  dry_run?: boolean;
}

export class CreateScheduleDto extends ScheduleDefinitionFields {
  @ApiProperty({ format: 'uuid', description: 'The connector to reconcile (one schedule per connector)' })
  @IsUUID()
  connector_id: string;

  @ApiProperty({ enum: RECONCILIATION_FREQUENCIES })
  @IsIn(RECONCILIATION_FREQUENCIES)
  frequency: (typeof RECONCILIATION_FREQUENCIES)[number];
}

export class UpdateScheduleDto extends ScheduleDefinitionFields {
  @ApiPropertyOptional({ enum: RECONCILIATION_FREQUENCIES })
  @IsOptional()
  @IsIn(RECONCILIATION_FREQUENCIES)
  frequency?: (typeof RECONCILIATION_FREQUENCIES)[number];
}

export class ListSchedulesQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  connector_id?: string;

  @ApiPropertyOptional({ enum: RECONCILIATION_FREQUENCIES })
  @IsOptional()
  @IsIn(RECONCILIATION_FREQUENCIES)
  frequency?: string;

  @ApiPropertyOptional({ enum: ['true', 'false'] })
  @IsOptional()
  @IsIn(['true', 'false'])
  enabled?: 'true' | 'false';
}

export class ScheduleDto {
  @ApiProperty() id: string;
  @ApiProperty() tenant_id: string;
  @ApiProperty() connector_id: string;
  @ApiPropertyOptional({ nullable: true }) connector_name: string | null;
  @ApiProperty({ enum: RECONCILIATION_MODES }) mode: string;
  @ApiProperty({ enum: RECONCILIATION_FREQUENCIES }) frequency: string;
  @ApiPropertyOptional({ nullable: true }) day_of_week: number | null;
  @ApiPropertyOptional({ nullable: true }) day_of_month: number | null;
  @ApiProperty() hour_of_day: number;
  @ApiPropertyOptional({ nullable: true }) cron_expression: string | null;
  @ApiPropertyOptional({ nullable: true, description: 'The cron the frequency stands for (UTC); null for a monthly day 29–31, clamped to shorter months' }) effective_cron: string | null;
  @ApiProperty({ description: 'Always UTC (seed 002 has no time zone)' }) timezone: string;
  @ApiProperty() enabled: boolean;
  @ApiProperty() dry_run: boolean;
  @ApiPropertyOptional({ nullable: true, description: 'The occurrence the scheduler last fired' }) last_run_at: string | null;
  @ApiPropertyOptional({ nullable: true, description: 'The next occurrence that will fire; null while disabled' }) next_run_at: string | null;
  @ApiPropertyOptional({ nullable: true, enum: RECONCILIATION_SCHEDULE_OUTCOMES, description: 'What became of the last occurrence' }) last_outcome: string | null;
  @ApiPropertyOptional({ nullable: true, description: 'The run the last started occurrence created' }) last_run_id: string | null;
  @ApiProperty() created_at: string;
  @ApiProperty() updated_at: string;
}

export class OccurrencesQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 10 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  count: number = 10;
}

export class OccurrencesDto {
  @ApiProperty() schedule_id: string;
  @ApiProperty({ description: 'Always UTC' }) timezone: string;
  @ApiProperty() enabled: boolean;
  @ApiPropertyOptional({ nullable: true }) next_run_at: string | null;
  @ApiProperty({ type: [String], description: 'The next occurrences after now (UTC), whether or not the schedule is enabled' }) items: string[];
}

export class SchedulePageDto {
  @ApiProperty({ type: [ScheduleDto] }) items: ScheduleDto[];
  @ApiProperty() total: number;
  @ApiProperty() limit: number;
  @ApiProperty() offset: number;
}
