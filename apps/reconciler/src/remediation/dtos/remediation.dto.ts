import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';
import { REMEDIATION_ACTIONS, REMEDIATION_DIRECTIONS, REMEDIATION_STATUSES, RemediationAction, RemediationDirection } from '@provisio/persistence';
import { PageQueryDto } from '@provisio/platform';
import { DISCREPANCY_TYPES } from '../../classification/classifier';

const booleanQuery = ({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value);

export class RemediateDto {
  @ApiPropertyOptional({ enum: REMEDIATION_ACTIONS, description: "Default: the discrepancy type's default action" })
  @IsOptional()
  @IsIn(REMEDIATION_ACTIONS)
  action?: RemediationAction;

  @ApiPropertyOptional({ enum: REMEDIATION_DIRECTIONS, description: "Default: the default action's direction, or the action's own (create/update/delete toward the target, the others toward Provisio)" })
  @IsOptional()
  @IsIn(REMEDIATION_DIRECTIONS)
  direction?: RemediationDirection;

  @ApiPropertyOptional({ format: 'uuid', description: 'link only: the identity that owns the account (a collision, an orphan)' })
  @IsOptional()
  @IsUUID()
  identity_id?: string;

  @ApiPropertyOptional({ default: false, description: 'Changes nothing: records a dry-run action and answers what would be done' })
  @IsOptional()
  @IsBoolean()
  dry_run: boolean = false;
}

export class IgnoreDto {
  @ApiPropertyOptional({ maxLength: 2000, description: 'Why (kept in the audit row)' })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  reason?: string;
}

export class BulkRemediateDto {
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() run_id?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() connector_id?: string;
  @ApiPropertyOptional({ enum: DISCREPANCY_TYPES }) @IsOptional() @IsIn(DISCREPANCY_TYPES) discrepancy_type?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(255) attribute_name?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() identity_id?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(500) external_uid?: string;

  @ApiPropertyOptional({ enum: REMEDIATION_ACTIONS, description: "Default: each discrepancy's default action (collisions, which have none, are left)" })
  @IsOptional()
  @IsIn(REMEDIATION_ACTIONS)
  action?: RemediationAction;

  @ApiPropertyOptional({ enum: REMEDIATION_DIRECTIONS })
  @IsOptional()
  @IsIn(REMEDIATION_DIRECTIONS)
  direction?: RemediationDirection;

  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @IsBoolean()
  dry_run: boolean = false;

  @ApiPropertyOptional({ minimum: 1, maximum: 100_000, default: 10_000, description: 'At most this many discrepancies' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000)
  limit?: number;
}

export class RemediationResultDto {
  @ApiProperty() id: string;
  @ApiProperty() discrepancy_id: string;
  @ApiPropertyOptional({ nullable: true }) connector_id: string | null;
  @ApiPropertyOptional({ nullable: true }) run_id: string | null;
  @ApiPropertyOptional({ nullable: true, description: 'The ReconciliationAction that asked for it' }) action_id: string | null;
  @ApiProperty({ enum: REMEDIATION_ACTIONS }) action: string;
  @ApiProperty({ enum: REMEDIATION_DIRECTIONS }) direction: string;
  @ApiProperty({ enum: REMEDIATION_STATUSES, description: 'pending while the provisioning queue works the operation (toward a target)' }) status: string;
  @ApiPropertyOptional({ nullable: true, description: 'null while pending' }) success: boolean | null;
  @ApiPropertyOptional({ nullable: true }) error: string | null;
  @ApiPropertyOptional({ nullable: true, type: 'object', additionalProperties: true }) changes: Record<string, unknown> | null;
  @ApiPropertyOptional({ nullable: true, description: 'The provisioning operation (toward a target)' }) operation_id: string | null;
  @ApiProperty() created_at: string;
  @ApiPropertyOptional({ nullable: true }) completed_at: string | null;
}

/** What remediating one discrepancy answers: its result, or (dry run) what it would be. */
export class RemediationOutcomeDto {
  @ApiProperty() discrepancy_id: string;
  @ApiProperty() dry_run: boolean;
  @ApiProperty({ enum: REMEDIATION_ACTIONS }) action: string;
  @ApiProperty({ enum: REMEDIATION_DIRECTIONS }) direction: string;
  @ApiProperty({ description: 'The audit row (ReconciliationAction)' }) action_id: string;
  @ApiProperty({ enum: [...REMEDIATION_STATUSES, 'would_apply'], description: 'would_apply for a dry run' }) status: string;
  @ApiPropertyOptional({ nullable: true }) error: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'What was (or would be) changed' }) changes: Record<string, unknown>;
  @ApiPropertyOptional({ type: RemediationResultDto, nullable: true, description: 'The stored result; null for a dry run' }) result: RemediationResultDto | null;
}

export class BulkRemediationDto {
  @ApiProperty({ description: 'Discrepancies matched and taken (each at most once)' }) matched: number;
  @ApiProperty({ description: 'Remediated in Provisio (succeeded at once)' }) succeeded: number;
  @ApiProperty({ description: 'Operations asked of the provisioning queue (results pending)' }) pending: number;
  @ApiProperty({ description: 'Refused or failed (their results say why; none for a dry run)' }) failed: number;
  @ApiProperty({ description: 'Dry run: what would be done' }) would_apply: number;
  @ApiProperty() dry_run: boolean;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' }, description: 'Counts per action' }) by_action: Record<string, number>;
}

export class ListResultsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() run_id?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() connector_id?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() discrepancy_id?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() operation_id?: string;
  @ApiPropertyOptional({ enum: REMEDIATION_STATUSES }) @IsOptional() @IsIn(REMEDIATION_STATUSES) status?: string;
  @ApiPropertyOptional({ enum: REMEDIATION_ACTIONS }) @IsOptional() @IsIn(REMEDIATION_ACTIONS) action?: string;
  @ApiPropertyOptional({ enum: REMEDIATION_DIRECTIONS }) @IsOptional() @IsIn(REMEDIATION_DIRECTIONS) direction?: string;
}

export class ResultPageDto {
  @ApiProperty({ type: [RemediationResultDto] }) items: RemediationResultDto[];
  @ApiProperty() total: number;
  @ApiProperty() limit: number;
  @ApiProperty() offset: number;
}

export class ListActionsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() run_id?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() connector_id?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() discrepancy_id?: string;
  @ApiPropertyOptional({ description: 'create, update, delete, link, unlink, inactivate_identity, ignore, guard_approve, guard_reject' })
  @IsOptional()
  @IsString()
  @MaxLength(50)
  action_type?: string;

  @ApiPropertyOptional() @IsOptional() @Transform(booleanQuery) @IsBoolean() dry_run?: boolean;
}

export class ReconciliationActionDto {
  @ApiProperty() id: string;
  @ApiProperty() connector_id: string;
  @ApiPropertyOptional({ nullable: true }) run_id: string | null;
  @ApiPropertyOptional({ nullable: true }) discrepancy_id: string | null;
  @ApiProperty() action_type: string;
  @ApiProperty({ description: 'requested (an operation asked of the provisioning queue), succeeded, failed, dry_run, ignored, approved, rejected' }) result: string;
  @ApiProperty() dry_run: boolean;
  @ApiPropertyOptional({ nullable: true, description: "The performer's subject; null when the system acted" }) performed_by: string | null;
  @ApiProperty() performed_at: string;
  @ApiPropertyOptional({ nullable: true, type: 'object', additionalProperties: true }) details: Record<string, unknown> | null;
}

export class ActionPageDto {
  @ApiProperty({ type: [ReconciliationActionDto] }) items: ReconciliationActionDto[];
  @ApiProperty() total: number;
  @ApiProperty() limit: number;
  @ApiProperty() offset: number;
}
