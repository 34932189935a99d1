import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { SCRIPT_TYPES, ScriptType } from '@provisio/persistence';
import { IsJsonObject } from '../../common/validators';
import { EVENT_TYPE_PATTERN, HTTP_METHODS } from '../script-rules';
import { NAME_PATTERN, PERMISSION_PATTERN, SCRIPT_LIMITS, SEMVER_PATTERN, TAG_PATTERN } from './create-script.dto';
import { ResourceLimitsDto } from './resource-limits.dto';
import { IsAbsentOr, IsCronExpression, IsHttpPath, IsTimeZone } from './validators';

/**
 * PATCH: the fields given change, the others stay. `null` clears a nullable field. A new `source` creates
 * a new version. `status` is not here: it changes through `POST /scripts/{id}/status` (lifecycle rules,
 * its own permission). `resource_limits` merges into the current limits.
 */
export class UpdateScriptDto {
  @ApiPropertyOptional({ maxLength: SCRIPT_LIMITS.name })
  @IsAbsentOr()
  @IsString()
  @Length(1, SCRIPT_LIMITS.name)
  @Matches(NAME_PATTERN, { message: 'name must contain a visible character and no control characters' })
  name?: string;

  @ApiPropertyOptional({ maxLength: SCRIPT_LIMITS.description, nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(SCRIPT_LIMITS.description)
  description?: string | null;

  @ApiPropertyOptional({ maxLength: SCRIPT_LIMITS.source, description: 'A new source creates a new version.' })
  @IsAbsentOr()
  @IsString()
  @Length(1, SCRIPT_LIMITS.source)
  source?: string;

  @ApiPropertyOptional({ maxLength: SCRIPT_LIMITS.source, description: "Seed 000's name for `source`." })
  @IsAbsentOr()
  @IsString()
  @Length(1, SCRIPT_LIMITS.source)
  script_body?: string;

  @ApiPropertyOptional({ enum: SCRIPT_TYPES, description: "Changing the type clears the old type's trigger fields that the request does not restate." })
  @IsAbsentOr()
  @IsIn(SCRIPT_TYPES)
  type?: ScriptType;

  @ApiPropertyOptional({ type: ResourceLimitsDto, description: 'Merged into the current limits.' })
  @IsAbsentOr()
  @IsObject()
  @ValidateNested()
  @Type(() => ResourceLimitsDto)
  resource_limits?: ResourceLimitsDto;

  @ApiPropertyOptional({ nullable: true, example: '0 3 * * *' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  @IsCronExpression()
  cron_expression?: string | null;

  @ApiPropertyOptional({ nullable: true, example: 'Europe/Paris' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  @IsTimeZone()
  timezone?: string | null;

  @ApiPropertyOptional({ nullable: true, maxLength: 500 })
  @IsOptional()
  @IsString()
  @IsHttpPath()
  http_path?: string | null;

  @ApiPropertyOptional({ enum: HTTP_METHODS, isArray: true, nullable: true })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayUnique()
  @IsIn(HTTP_METHODS, { each: true })
  http_methods?: string[] | null;

  @ApiPropertyOptional({ type: [String], nullable: true })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(SCRIPT_LIMITS.event_types)
  @ArrayUnique()
  @IsString({ each: true })
  @MaxLength(255, { each: true })
  @Matches(EVENT_TYPE_PATTERN, { each: true, message: 'each value in event_types must be a dotted lower-case event type such as user.created' })
  event_types?: string[] | null;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Replaces the metadata.' })
  @IsAbsentOr()
  @IsJsonObject(SCRIPT_LIMITS.metadata_bytes)
  metadata?: Record<string, unknown>;

  @ApiPropertyOptional({ type: [String], description: 'Replaces the tags.' })
  @IsAbsentOr()
  @IsArray()
  @ArrayMaxSize(SCRIPT_LIMITS.tags)
  @ArrayUnique()
  @IsString({ each: true })
  @Length(1, SCRIPT_LIMITS.tag, { each: true })
  @Matches(TAG_PATTERN, { each: true, message: 'each value in tags must have no commas and no surrounding blanks' })
  tags?: string[];

  @ApiPropertyOptional({ type: [String] })
  @IsAbsentOr()
  @IsArray()
  @ArrayMaxSize(SCRIPT_LIMITS.required_permissions)
  @ArrayUnique()
  @Matches(PERMISSION_PATTERN, { each: true, message: 'each value in required_permissions must look like resource:verb' })
  required_permissions?: string[];

  @ApiPropertyOptional({ maxLength: SCRIPT_LIMITS.change_description, description: 'Recorded on the new version when `source` changes.' })
  @IsOptional()
  @IsString()
  @MaxLength(SCRIPT_LIMITS.change_description)
  change_description?: string | null;

  @ApiPropertyOptional({ example: '1.1.0', description: 'Label of the new version when `source` changes; unique per script.' })
  @IsOptional()
  @IsString()
  @MaxLength(50)
  @Matches(SEMVER_PATTERN, { message: 'semantic_version must be a semantic version such as 1.2.0' })
  semantic_version?: string | null;
}
