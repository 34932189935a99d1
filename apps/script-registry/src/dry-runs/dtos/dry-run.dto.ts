import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsUUID, Max, Min } from 'class-validator';
import { IsJsonObject } from '../../common/validators';
import { IsAbsentOr } from '../../scripts/dtos/validators';
import { SourceDto } from '../../validation/dtos/validation.dto';

/** Largest dry-run context (its JSON), i.e. the `ctx` a test run gets. */
export const DRY_RUN_CONTEXT_BYTES = 65_536;

export class DryRunSourceDto extends SourceDto {
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'The `ctx` the script receives (hooks: `operation`, `identity`, `connector`; other scripts: `input`, `event` ...). Default `{}`.',
    example: { operation: { type: 'create', attributes: {} }, identity: { id: 'u-1', first_name: 'José', last_name: 'Müller' }, connector: { type: 'ldap', settings: { mail_domain: 'corp.example' } } },
  })
  @IsAbsentOr()
  @IsJsonObject(DRY_RUN_CONTEXT_BYTES)
  context?: Record<string, unknown>;

  @ApiPropertyOptional({
    format: 'uuid',
    description: "A script of the tenant this unsaved source is an edit of: the run uses that script's resource limits and is recorded against it (`dry_run`, `script_version` NULL). Without it, the run is not recorded.",
  })
  @IsOptional()
  @IsUUID()
  script_id?: string;
}

export class DryRunStoredDto {
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'The `ctx` the script receives. Default `{}`.' })
  @IsAbsentOr()
  @IsJsonObject(DRY_RUN_CONTEXT_BYTES)
  context?: Record<string, unknown>;

  @ApiPropertyOptional({ minimum: 1, description: 'A stored version to run. Default: the live one.' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(2_147_483_647)
  version?: number;
}

export class DryRunLogDto {
  @ApiProperty({ enum: ['log', 'info', 'warn', 'error', 'debug'] }) level: string;
  @ApiProperty() message: string;
  @ApiProperty({ format: 'date-time' }) timestamp: string;
}

export class RecordedFetchDto {
  @ApiProperty({ example: 'PUT' }) method: string;
  @ApiProperty({ example: 'https://hr.example.com/api/users/42' }) url: string;
  @ApiProperty({ type: [String], description: 'Header names (values are not reported).' }) header_names: string[];
  @ApiProperty() body_bytes: number;
}

/** Seed 000's DryRunResult, with the run's logs, the attempted fetches and the recorded execution. */
export class DryRunResultDto {
  @ApiProperty({ description: 'The run completed (status `completed`).' }) success: boolean;
  @ApiProperty({ enum: ['completed', 'failed', 'timeout'] }) status: string;
  @ApiProperty({ nullable: true, type: String, description: 'The return value as JSON text; null unless completed.' }) output: string | null;
  @ApiProperty({ nullable: true, type: String }) error: string | null;
  @ApiProperty() duration_ms: number;
  @ApiProperty({ type: [DryRunLogDto], description: 'What the script wrote with console.*' }) logs: DryRunLogDto[];
  @ApiProperty({ type: [RecordedFetchDto], description: 'fetch calls the script made: recorded, answered 599, never sent.' }) fetch_requests: RecordedFetchDto[];
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'The `script_executions` row (`dry_run = true`); null for an unsaved source without script_id.' })
  execution_id: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) script_id: string | null;
  @ApiProperty({ nullable: true, type: Number, description: 'The version run; null for an unsaved source.' }) script_version: number | null;
}
