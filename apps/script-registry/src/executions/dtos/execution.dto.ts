import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsISO8601, IsOptional, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';
import { EXECUTION_STATUSES, TRIGGER_TYPES } from '@provisio/persistence';
import { PageQueryDto } from '@provisio/platform';
import { IsJsonObject } from '../../common/validators';
import { splitList } from '../../scripts/dtos/validators';

/** The input of one run is a JSON object of at most this (the 100 kB body limit comes first). */
export const RUN_INPUT_BYTES = 64 * 1024;
/** `GET /executions/{id}?wait=` is bounded: a request never holds a connection longer than this. */
export const MAX_WAIT_SECONDS = 60;

export class RunScriptDto {
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, default: {}, description: "Values of the script's parameters (checked against `GET /scripts/{id}/parameters`' `input_schema`)." })
  @IsOptional()
  @IsJsonObject(RUN_INPUT_BYTES)
  input?: Record<string, unknown>;
}

export class ExecutionDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) tenant_id: string;
  @ApiProperty({ format: 'uuid' }) script_id: string;
  @ApiProperty({ enum: EXECUTION_STATUSES }) status: string;
  @ApiProperty({ enum: TRIGGER_TYPES }) trigger_type: string;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true, description: 'Secret parameters are "********".' }) input: Record<string, unknown> | null;
  @ApiProperty({ nullable: true, description: 'What the script returned (completed runs).' }) output: unknown;
  @ApiProperty({ nullable: true, type: String }) error: string | null;
  @ApiProperty({ nullable: true, type: 'object', additionalProperties: true }) metrics: Record<string, unknown> | null;
  @ApiProperty({ nullable: true, type: Number, description: 'The version that ran.' }) script_version: number | null;
  @ApiProperty({ nullable: true, type: String, description: 'JWT subject of who started it (null for triggers).' }) executed_by: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'JWT subject of who cancelled it.' }) cancelled_by: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) cancelled_at: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'When it was recorded while pending, then when it started running.' }) started_at: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) completed_at: Date | null;
  @ApiProperty() retry_count: number;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) parent_execution_id: string | null;
  @ApiProperty() dry_run: boolean;
  @ApiProperty({ description: 'True once the status is terminal (completed, failed, timeout, cancelled, skipped).' }) finished: boolean;
}

export class ExecutionDetailDto extends ExecutionDto {
  @ApiProperty({ type: 'array', items: { type: 'object', additionalProperties: true }, description: 'Captured console lines `{ level, message, timestamp }`.' }) logs: unknown[];
}

export class ExecutionPageDto {
  @ApiProperty({ type: [ExecutionDto] }) items: ExecutionDto[];
  @ApiProperty() total: number;
  @ApiProperty() limit: number;
  @ApiProperty() offset: number;
}

export class GetExecutionQueryDto {
  @ApiPropertyOptional({ minimum: 0, maximum: MAX_WAIT_SECONDS, description: `Seconds to wait for the run to finish before answering (at most ${MAX_WAIT_SECONDS}); the answer says \`finished\`.` })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_WAIT_SECONDS)
  wait?: number;
}

export class ListExecutionsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() script_id?: string;

  @ApiPropertyOptional({ enum: EXECUTION_STATUSES, isArray: true, description: '`status=running,pending` or repeated.' })
  @IsOptional()
  @Transform(({ value }) => splitList(value))
  @IsArray()
  @ArrayMaxSize(EXECUTION_STATUSES.length)
  @IsIn(EXECUTION_STATUSES, { each: true })
  status?: string[];

  @ApiPropertyOptional({ enum: TRIGGER_TYPES, isArray: true })
  @IsOptional()
  @Transform(({ value }) => splitList(value))
  @IsArray()
  @ArrayMaxSize(TRIGGER_TYPES.length)
  @IsIn(TRIGGER_TYPES, { each: true })
  trigger_type?: string[];

  @ApiPropertyOptional({ format: 'date-time', description: 'started_at ≥ from' }) @IsOptional() @IsISO8601({ strict: true }) from?: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'started_at < to' }) @IsOptional() @IsISO8601({ strict: true }) to?: string;

  @ApiPropertyOptional({ description: 'Include dry runs (default false).', enum: ['true', 'false'] })
  @IsOptional()
  @IsIn(['true', 'false'])
  dry_run?: 'true' | 'false';
}

/** `GET /executions/feed` and `GET /executions/stream`: finished executions after a cursor, with the filters of the list. */
export class ExecutionFeedQueryDto {
  @ApiPropertyOptional({ description: 'A `cursor` this feed handed out; default: from now on. The stream also takes it as `Last-Event-ID`.' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  after?: string;

  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() script_id?: string;

  @ApiPropertyOptional({ enum: EXECUTION_STATUSES, isArray: true, description: '`status=failed,timeout` or repeated.' })
  @IsOptional()
  @Transform(({ value }) => splitList(value))
  @IsArray()
  @ArrayMaxSize(EXECUTION_STATUSES.length)
  @IsIn(EXECUTION_STATUSES, { each: true })
  status?: string[];

  @ApiPropertyOptional({ enum: TRIGGER_TYPES, isArray: true })
  @IsOptional()
  @Transform(({ value }) => splitList(value))
  @IsArray()
  @ArrayMaxSize(TRIGGER_TYPES.length)
  @IsIn(TRIGGER_TYPES, { each: true })
  trigger_type?: string[];

  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}

export class ExecutionStreamQueryDto extends ExecutionFeedQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 86_400, description: 'Close the stream after this many seconds (default: when the client goes).' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(86_400)
  max_seconds?: number;
}

export class FeedExecutionDto extends ExecutionDto {
  @ApiProperty({ description: 'Its position in the feed: pass it as `after` (or `Last-Event-ID`) to read what was recorded after it.' }) cursor: string;
}

export class ExecutionFeedPageDto {
  @ApiProperty({ type: [FeedExecutionDto], description: 'Oldest first, by when they were recorded finished.' }) items: FeedExecutionDto[];
  @ApiProperty({ description: 'Where the next read starts (the last item, or the `after` given when nothing new was recorded).' }) cursor: string;
}
