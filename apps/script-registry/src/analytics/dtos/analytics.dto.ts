import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsISO8601, IsOptional, Max, Min } from 'class-validator';
import { SCRIPT_STATUSES } from '@provisio/persistence';

export const DEFAULT_RANGE_DAYS = 30;
export const MAX_RANGE_DAYS = 366;

export class AnalyticsRangeQueryDto {
  @ApiPropertyOptional({ format: 'date-time', description: `Start (inclusive) of the range of started_at. Default: \`to\` − ${DEFAULT_RANGE_DAYS} days.` })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: `End (exclusive). Default: now. At most ${MAX_RANGE_DAYS} days after \`from\`.` })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}

export class DashboardQueryDto extends AnalyticsRangeQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 50, description: 'How many scripts `scripts` lists (the most executed in the range).' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit: number = 50;
}

export class ScriptSummaryItemDto {
  @ApiProperty({ format: 'uuid' }) script_id: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: SCRIPT_STATUSES }) status: string;
  @ApiProperty() total_executions: number;
  @ApiProperty({ nullable: true, type: Number, description: '0–100; null without finished executions.' }) success_rate: number | null;
  @ApiProperty({ nullable: true, type: Number }) avg_duration_ms: number | null;
  @ApiProperty({ format: 'date-time' }) last_executed_at: string;
}

/** Seed 000's AnalyticsDashboard, over [from, to), without dry runs. */
export class AnalyticsDashboardDto {
  @ApiProperty({ description: "The tenant's scripts (now, whatever the range)." }) total_scripts: number;
  @ApiProperty({ description: 'Scripts in status active (now).' }) active_scripts: number;
  @ApiProperty({ description: 'Executions started in the range, whatever their status (dry runs excluded).' }) total_executions: number;
  @ApiProperty({ nullable: true, type: Number, description: '100 × completed / (completed + failed + timeout); null without finished executions.' }) success_rate: number | null;
  @ApiProperty({ nullable: true, type: Number, description: 'Mean metrics.duration_ms of finished executions.' }) avg_duration_ms: number | null;
  @ApiProperty({ description: 'Scripts with at least one execution in the range.' }) executed_scripts: number;
  @ApiProperty({ type: [ScriptSummaryItemDto], description: 'The most executed scripts in the range (`limit` of them).' }) scripts: ScriptSummaryItemDto[];
  @ApiProperty({ format: 'date-time' }) from: string;
  @ApiProperty({ format: 'date-time' }) to: string;
}

export class DailyTrendDto {
  @ApiProperty({ example: '2025-01-31', description: 'UTC day.' }) date: string;
  @ApiProperty() executions: number;
  @ApiProperty({ description: 'completed' }) successes: number;
  @ApiProperty({ description: 'failed or timeout' }) failures: number;
  @ApiProperty({ nullable: true, type: Number }) avg_duration_ms: number | null;
}

export class TopErrorDto {
  @ApiProperty() error_message: string;
  @ApiProperty() count: number;
  @ApiProperty({ format: 'date-time' }) last_occurred: string;
}

/** Seed 000's ScriptAnalytics, over [from, to), without dry runs. */
export class ScriptAnalyticsDto {
  @ApiProperty({ format: 'uuid' }) script_id: string;
  @ApiProperty() name: string;
  @ApiProperty() total_executions: number;
  @ApiProperty({ nullable: true, type: Number, description: '0–100; null without finished executions.' }) success_rate: number | null;
  @ApiProperty({ nullable: true, type: Number }) avg_duration_ms: number | null;
  @ApiProperty({ nullable: true, type: Number, description: '95th percentile (percentile_cont) of metrics.duration_ms of finished executions.' }) p95_duration_ms: number | null;
  @ApiProperty({ type: [DailyTrendDto], description: 'Every UTC day of the range, oldest first.' }) daily_trends: DailyTrendDto[];
  @ApiProperty({ type: [TopErrorDto], description: 'The 10 most frequent error messages of failed and timed-out runs.' }) top_errors: TopErrorDto[];
  @ApiProperty({ format: 'date-time' }) from: string;
  @ApiProperty({ format: 'date-time' }) to: string;
}
