import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsBooleanString, IsIn, IsISO8601, IsOptional, IsUUID } from 'class-validator';
import { EXECUTION_LOG_STATUSES, TRIGGER_TYPES } from '@provisio/persistence';
import { PageQueryDto } from '@provisio/platform';
import { splitList } from '../../scripts/dtos/validators';

/** Seed 000's ExecutionLog: a finished execution (`script_executions`), as the seed names its fields. */
export class ExecutionLogDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) tenant_id: string;
  @ApiProperty({ format: 'uuid' }) script_id: string;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'The hook binding that ran it (hooks only).' }) binding_id: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) connector_id: string | null;
  @ApiProperty({ nullable: true, type: Number, description: 'Version that was executed (null for a dry run of an unsaved source).' }) script_version: number | null;
  @ApiProperty({ enum: EXECUTION_LOG_STATUSES, description: 'completed → success, failed → failure, timeout → timeout, skipped/cancelled → skipped.' }) status: string;
  @ApiProperty() dry_run: boolean;
  @ApiProperty({ nullable: true, type: String, description: 'The input (ctx) as JSON text.' }) input_context: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'The output as JSON text.' }) output: string | null;
  @ApiProperty({ nullable: true, type: String }) error: string | null;
  @ApiProperty({ nullable: true, type: Number, description: 'metrics.duration_ms, else completed_at − started_at.' }) duration_ms: number | null;
  @ApiProperty({ nullable: true, type: String, description: 'JWT subject of who ran it (manual runs, dry runs).' }) executed_by: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'started_at.' }) executed_at: Date | null;
  @ApiProperty({ enum: TRIGGER_TYPES }) trigger_type: string;
}

export class ExecutionLogLineDto {
  @ApiProperty({ enum: ['debug', 'log', 'info', 'warn', 'error'] }) level: string;
  @ApiProperty() message: string;
  @ApiProperty({ format: 'date-time' }) timestamp: string;
}

export class ExecutionLogDetailDto extends ExecutionLogDto {
  @ApiProperty({ type: [ExecutionLogLineDto], description: 'What the script wrote with console.*' }) logs: ExecutionLogLineDto[];
}

export class ExecutionLogPageDto {
  @ApiProperty({ type: [ExecutionLogDto] }) items: ExecutionLogDto[];
  @ApiProperty() total: number;
  @ApiProperty() limit: number;
  @ApiProperty() offset: number;
}

/** `GET /execution-logs`: newest first; filters combine with AND. */
export class ListExecutionLogsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  script_id?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  binding_id?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  connector_id?: string;

  @ApiPropertyOptional({ description: `Comma-separated or repeated; any of ${EXECUTION_LOG_STATUSES.join(', ')}.`, type: String, example: 'failure,timeout' })
  @IsOptional()
  @Transform(({ value }) => splitList(value))
  @IsArray()
  @ArrayMaxSize(EXECUTION_LOG_STATUSES.length)
  @IsIn(EXECUTION_LOG_STATUSES, { each: true })
  status?: string[];

  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'Only dry runs (true) or only real runs (false).' })
  @IsOptional()
  @IsBooleanString()
  dry_run?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Executions started at or after this time.' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Executions started before this time.' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}
