import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsDate, IsIn, IsInt, IsObject, IsOptional, IsString, IsUUID, Max, MaxLength, Min, MinLength } from 'class-validator';
import { CONFLICT_OUTCOMES, CONFLICT_STATUSES, ConflictOutcome, ConflictStatus, OPERATION_STATUSES, OPERATION_TYPES, OperationStatus, OperationType } from '@provisio/persistence';
import { PageQueryDto } from '@provisio/platform';
import { IsAttributes } from '../../identities/dtos/identity.dto';
import { HOOK_VERSIONS_MODES, HookVersionsMode } from '../operation-plan';

const HOOK_VERSIONS_DOC =
  "original (default): each hook runs the script version it ran at on this operation before (pinned; a hook that never ran runs its live version); latest: the hooks' live versions (after a fix), from this retry on.";

export class RetryOperationDto {
  @ApiPropertyOptional({ enum: HOOK_VERSIONS_MODES, default: 'original', description: HOOK_VERSIONS_DOC }) @IsOptional() @IsIn(HOOK_VERSIONS_MODES) hook_versions?: HookVersionsMode;
}

/** Seed 002's ProvisioningOperation. */
export class OperationDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) tenant_id: string;
  @ApiProperty({ format: 'uuid' }) connector_id: string;
  @ApiProperty({ description: "The connector's name when the operation was created (denormalised)." }) connector_name: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String, description: 'The identity; null for an operator operation by target uid, or once the identity is removed.' })
  user_id: string | null;
  @ApiProperty({ enum: OPERATION_TYPES }) operation_type: OperationType;
  @ApiProperty({ example: 'account' }) object_class: string;
  @ApiProperty({ nullable: true, type: String, description: "The target's identifier of the account, once known." }) target_uid: string | null;
  @ApiProperty({ enum: OPERATION_STATUSES }) status: OperationStatus;
  @ApiProperty({ description: 'Higher runs first.' }) priority: number;
  @ApiProperty() retry_count: number;
  @ApiProperty() max_retries: number;
  @ApiProperty({ nullable: true, type: String }) error_message: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'attributes, delta, enabled, hook_operation, cause.' }) payload: Record<string, unknown>;
  @ApiProperty({ format: 'date-time' }) created_at: Date;
  @ApiProperty({ format: 'date-time' }) updated_at: Date;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) completed_at: Date | null;
  @ApiProperty({ nullable: true, type: String }) resolution_notes: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: "A failed operation's automatic retry time." }) next_attempt_at: Date | null;
}

export class OperationPageDto {
  @ApiProperty({ type: [OperationDto] }) items: OperationDto[];
  @ApiProperty() total: number;
  @ApiProperty() limit: number;
  @ApiProperty() offset: number;
}

export class AttemptDto {
  @ApiProperty() attempt_number: number;
  @ApiProperty({ format: 'date-time' }) started_at: Date;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) completed_at: Date | null;
  @ApiProperty() success: boolean;
  @ApiProperty({ nullable: true, type: String }) error_code: string | null;
  @ApiProperty({ nullable: true, type: String }) error_message: string | null;
  @ApiProperty() duration_ms: number;
}

export class LogDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'date-time' }) timestamp: Date;
  @ApiProperty({ enum: ['info', 'warn', 'error'] }) level: string;
  @ApiProperty() message: string;
}

export class OperationDetailDto extends OperationDto {
  @ApiProperty({ type: [AttemptDto] }) attempts: AttemptDto[];
  @ApiProperty({ type: [LogDto] }) logs: LogDto[];
}

export class OperationFilterDto {
  @ApiPropertyOptional({ enum: OPERATION_STATUSES }) @IsOptional() @IsIn(OPERATION_STATUSES) status?: OperationStatus;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() connector_id?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() user_id?: string;
  @ApiPropertyOptional({ enum: OPERATION_TYPES }) @IsOptional() @IsIn(OPERATION_TYPES) operation_type?: OperationType;
  @ApiPropertyOptional({ format: 'date-time', description: 'Created at or after.' }) @IsOptional() @Type(() => Date) @IsDate() created_after?: Date;
  @ApiPropertyOptional({ format: 'date-time', description: 'Created before.' }) @IsOptional() @Type(() => Date) @IsDate() created_before?: Date;
}

export class ListOperationsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: OPERATION_STATUSES }) @IsOptional() @IsIn(OPERATION_STATUSES) status?: OperationStatus;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() connector_id?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() user_id?: string;
  @ApiPropertyOptional({ enum: OPERATION_TYPES }) @IsOptional() @IsIn(OPERATION_TYPES) operation_type?: OperationType;
  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @Type(() => Date) @IsDate() created_after?: Date;
  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @Type(() => Date) @IsDate() created_before?: Date;
}

export class CreateOperationDto {
  @ApiProperty({ format: 'uuid' }) @IsUUID() connector_id: string;
  @ApiProperty({ enum: OPERATION_TYPES }) @IsIn(OPERATION_TYPES) operation_type: OperationType;
  @ApiPropertyOptional({ format: 'uuid', description: 'The identity; its account link gives the target uid, its mapping the attributes when none are given.' })
  @IsOptional()
  @IsUUID()
  user_id?: string;
  @ApiPropertyOptional({ maxLength: 500, description: "The account's uid in the target (update and delete without an identity)." })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  target_uid?: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Target attributes: the whole account for a create, those to set for an update.' })
  @IsOptional()
  @IsObject()
  @IsAttributes()
  attributes?: Record<string, unknown>;
  @ApiPropertyOptional({ description: 'Enable (true) or disable (false) the account.' }) @IsOptional() @IsBoolean() enabled?: boolean;
  @ApiPropertyOptional({ minimum: -1000, maximum: 1000, default: 0 }) @IsOptional() @IsInt() @Min(-1000) @Max(1000) priority?: number;
  @ApiPropertyOptional({ minimum: 0, maximum: 20 }) @IsOptional() @IsInt() @Min(0) @Max(20) max_retries?: number;
}

export class StatisticsQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Only this connector in `connectors` (the totals stay the tenant\'s).' }) @IsOptional() @IsUUID() connector_id?: string;
}

export class BulkRetryDto extends OperationFilterDto {
  @ApiPropertyOptional({ enum: ['failed', 'dead_letter'], description: 'Default: dead_letter.' }) @IsOptional() @IsIn(['failed', 'dead_letter']) from_status?: 'failed' | 'dead_letter';
  @ApiPropertyOptional({ minimum: 1, maximum: 10000, default: 1000 }) @IsOptional() @IsInt() @Min(1) @Max(10_000) limit?: number;
  @ApiPropertyOptional({ enum: HOOK_VERSIONS_MODES, default: 'original', description: HOOK_VERSIONS_DOC }) @IsOptional() @IsIn(HOOK_VERSIONS_MODES) hook_versions?: HookVersionsMode;
}

export class BulkRetryResultDto {
  @ApiProperty() retried: number;
  @ApiProperty({ type: [String] }) operation_ids: string[];
}

export class ResolveOperationDto {
  @ApiProperty({ minLength: 1, maxLength: 10000 }) @IsString() @MinLength(1) @MaxLength(10_000) notes: string;
}

export class QueueStatisticsDto {
  @ApiProperty() pending: number;
  @ApiProperty() in_progress: number;
  @ApiProperty() completed: number;
  @ApiProperty() failed: number;
  @ApiProperty() dead_letter: number;
  @ApiProperty() awaiting_system: number;
  @ApiProperty() resolved: number;
  @ApiProperty() cancelled: number;
  @ApiProperty({ description: 'Mean seconds from creation to completion of completed operations.' }) avg_processing_time_secs: number;
}

export class CircuitDto {
  @ApiProperty({ enum: ['open', 'closed'] }) state: 'open' | 'closed';
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) opened_at: Date | null;
  @ApiProperty({ nullable: true, type: String }) last_error: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) last_probe_at: Date | null;
}

export class ConnectorStatisticsDto extends QueueStatisticsDto {
  @ApiProperty({ format: 'uuid' }) connector_id: string;
  @ApiProperty() connector_name: string;
  @ApiProperty({ type: CircuitDto }) circuit: CircuitDto;
}

export class TenantStatisticsDto extends QueueStatisticsDto {
  @ApiProperty({ type: [ConnectorStatisticsDto] }) connectors: ConnectorStatisticsDto[];
}

export class ConflictDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) tenant_id: string;
  @ApiProperty({ format: 'uuid' }) operation_id_a: string;
  @ApiProperty({ format: 'uuid' }) operation_id_b: string;
  @ApiProperty({ enum: ['overlapping_update', 'update_after_delete', 'delete_after_change', 'duplicate_create'] }) conflict_type: string;
  @ApiProperty({ type: [String] }) affected_attributes: string[];
  @ApiProperty({ enum: CONFLICT_STATUSES }) status: ConflictStatus;
  @ApiProperty({ enum: CONFLICT_OUTCOMES, nullable: true }) outcome: ConflictOutcome | null;
  @ApiProperty({ nullable: true, type: String }) notes: string | null;
  @ApiProperty({ format: 'date-time' }) created_at: Date;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) resolved_at: Date | null;
  @ApiProperty({ nullable: true, type: String, description: 'Subject of the operator who resolved it.' }) resolved_by: string | null;
}

export class ConflictPageDto {
  @ApiProperty({ type: [ConflictDto] }) items: ConflictDto[];
  @ApiProperty() total: number;
  @ApiProperty() limit: number;
  @ApiProperty() offset: number;
}

export class ListConflictsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: CONFLICT_STATUSES }) @IsOptional() @IsIn(CONFLICT_STATUSES) status?: ConflictStatus;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() operation_id?: string;
}

export class ResolveConflictDto {
  @ApiProperty({ enum: CONFLICT_OUTCOMES, description: 'applied/merged: both run in order; superseded: the earlier is cancelled; rejected: the later is cancelled.' })
  @IsIn(CONFLICT_OUTCOMES)
  outcome: ConflictOutcome;
  @ApiPropertyOptional({ maxLength: 10000 }) @IsOptional() @IsString() @MaxLength(10_000) notes?: string;
}
