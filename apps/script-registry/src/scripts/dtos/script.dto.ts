import { ApiProperty } from '@nestjs/swagger';
import { SCRIPT_STATUSES, SCRIPT_TYPES } from '@provisio/persistence';
import { HTTP_METHODS } from '../script-rules';

/** A script as lists show it: everything but the source. Actor ids are JWT subjects. */
export class ScriptSummaryDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) tenant_id: string;
  @ApiProperty({ format: 'uuid' }) organization_id: string;
  @ApiProperty() name: string;
  @ApiProperty({ nullable: true, type: String }) description: string | null;
  @ApiProperty({ enum: SCRIPT_TYPES }) type: string;
  @ApiProperty({ enum: SCRIPT_STATUSES }) status: string;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' }, example: { max_execution_time_ms: 30000, max_memory_bytes: 67108864, max_concurrent_runs: 5, max_api_calls_per_minute: 60, max_output_size_bytes: 1048576 } })
  resource_limits: Record<string, number>;
  @ApiProperty({ nullable: true, type: String }) cron_expression: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'Time zone of the cron (scheduled scripts).' }) timezone: string | null;
  @ApiProperty({ nullable: true, type: String }) http_path: string | null;
  @ApiProperty({ nullable: true, enum: HTTP_METHODS, isArray: true }) http_methods: string[] | null;
  @ApiProperty({ nullable: true, type: [String] }) event_types: string[] | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata: Record<string, unknown>;
  @ApiProperty({ type: [String] }) tags: string[];
  @ApiProperty({ description: 'Number of the live version.' }) current_version: number;
  @ApiProperty() is_system: boolean;
  @ApiProperty({ type: [String] }) required_permissions: string[];
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) template_id: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'Hex SHA-256 of the live source.' }) source_sha256: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'JWT subject of the creator.' }) created_by: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'JWT subject of the last modifier.' }) updated_by: string | null;
  @ApiProperty({ format: 'date-time' }) created_at: Date;
  @ApiProperty({ format: 'date-time' }) updated_at: Date;
}

export class ScriptDto extends ScriptSummaryDto {
  @ApiProperty({ description: 'Source of the live version (`current_version`).' }) source: string;
}

export class ScriptPageDto {
  @ApiProperty({ type: [ScriptSummaryDto] }) items: ScriptSummaryDto[];
  @ApiProperty() total: number;
  @ApiProperty() limit: number;
  @ApiProperty() offset: number;
}

