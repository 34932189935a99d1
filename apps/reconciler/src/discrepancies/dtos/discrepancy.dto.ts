import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';
import { PageQueryDto } from '@provisio/platform';
import { DISCREPANCY_TYPES } from '../../classification/classifier';

export class ListDiscrepanciesQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() run_id?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() connector_id?: string;
  @ApiPropertyOptional({ enum: DISCREPANCY_TYPES }) @IsOptional() @IsIn(DISCREPANCY_TYPES) discrepancy_type?: string;
  @ApiPropertyOptional({ enum: ['pending', 'resolved', 'ignored'] }) @IsOptional() @IsIn(['pending', 'resolved', 'ignored']) resolution_status?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() identity_id?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(500) external_uid?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(255) attribute_name?: string;
}

export class TrendQueryDto {
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() connector_id?: string;
  @ApiPropertyOptional({ description: 'First day (ISO 8601; default: 30 days ago)' }) @IsOptional() @IsISO8601() from?: string;
  @ApiPropertyOptional({ description: 'Last day (ISO 8601; default: today)' }) @IsOptional() @IsISO8601() to?: string;
  @ApiPropertyOptional({ minimum: 1, maximum: 366, default: 30 }) @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(366) days?: number;
}

export class DiscrepancyDto {
  @ApiProperty() id: string;
  @ApiProperty() connector_id: string;
  @ApiProperty() run_id: string;
  @ApiProperty({ enum: DISCREPANCY_TYPES }) discrepancy_type: string;
  @ApiPropertyOptional({ nullable: true }) identity_id: string | null;
  @ApiPropertyOptional({ nullable: true }) external_uid: string | null;
  @ApiPropertyOptional({ nullable: true }) attribute_name: string | null;
  @ApiPropertyOptional({ nullable: true }) expected_value: string | null;
  @ApiPropertyOptional({ nullable: true }) actual_value: string | null;
  @ApiProperty({ enum: ['pending', 'resolved', 'ignored'] }) resolution_status: string;
  @ApiPropertyOptional({ nullable: true }) resolved_at: string | null;
  @ApiPropertyOptional({ nullable: true }) resolved_by: string | null;
  @ApiProperty({ description: 'What remediation would do by default (docs/reconciliation.md)' }) default_action: string | null;
  @ApiProperty() created_at: string;
}

export class DiscrepancyPageDto {
  @ApiProperty({ type: [DiscrepancyDto] }) items: DiscrepancyDto[];
  @ApiProperty() total: number;
  @ApiProperty() limit: number;
  @ApiProperty() offset: number;
}

export class DiscrepancySummaryDto {
  @ApiProperty() total: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' } }) by_type: Record<string, number>;
}
export class ActionSummaryDto {
  @ApiProperty() total: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' } }) by_action: Record<string, number>;
}
export class MismatchedAttributeDto {
  @ApiProperty() attribute_name: string;
  @ApiProperty() count: number;
}
export class PerformanceMetricsDto {
  @ApiProperty() total_duration_ms: number;
  @ApiProperty() accounts_per_second: number;
  @ApiProperty() api_calls_made: number;
}
export class ReconciliationReportDto {
  @ApiProperty() run_id: string;
  @ApiProperty({ type: DiscrepancySummaryDto }) discrepancy_summary: DiscrepancySummaryDto;
  @ApiProperty({ type: ActionSummaryDto, description: 'Actions taken (reconciliation_actions of the run, by action_type); for a dry run also the default actions it would take (would_<action>)' }) action_summary: ActionSummaryDto;
  @ApiProperty({ type: [MismatchedAttributeDto] }) top_mismatched_attributes: MismatchedAttributeDto[];
  @ApiProperty({ type: PerformanceMetricsDto }) performance_metrics: PerformanceMetricsDto;
}

export class DiscrepancyTrendPointDto {
  @ApiProperty({ description: 'ISO date' }) date: string;
  @ApiProperty() total: number;
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'integer' } }) by_type?: Record<string, number>;
}
