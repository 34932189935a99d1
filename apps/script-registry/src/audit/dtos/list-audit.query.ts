import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsISO8601, IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';
import { PageQueryDto } from '@provisio/platform';

const splitList = (value: unknown) =>
  value === undefined || value === null ? value : [...new Set((Array.isArray(value) ? value : [value]).flatMap((v) => (typeof v === 'string' ? v.split(',') : [v])))];

const ACTION_PATTERN = /^[a-z][a-z_]*$/;

export class ListScriptAuditQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ description: 'Comma-separated or repeated actions (`create`, `update`, `activate` …).', example: 'activate,pause', type: String })
  @IsOptional()
  @Transform(({ value }) => splitList(value))
  @IsArray()
  @ArrayMaxSize(20)
  @Matches(ACTION_PATTERN, { each: true, message: 'each value in action must be a lower-case action name' })
  action?: string[];
}

/** `GET /audit`: newest first; every filter optional, combined with AND. */
export class ListAuditQueryDto extends ListScriptAuditQueryDto {
  @ApiPropertyOptional({ example: 'script' })
  @IsOptional()
  @IsString()
  @MaxLength(50)
  @Matches(ACTION_PATTERN, { message: 'entity_type must be a lower-case entity name' })
  entity_type?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  entity_id?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  script_id?: string;

  @ApiPropertyOptional({ description: 'JWT subject of the actor.' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  actor?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Events at or after this time.' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Events before this time.' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}
