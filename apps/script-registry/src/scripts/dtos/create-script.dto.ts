import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Matches,
  MaxLength,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { SCRIPT_TYPES, ScriptType } from '@provisio/persistence';
import { IsJsonObject } from '../../common/validators';
import { EVENT_TYPE_PATTERN, HTTP_METHODS } from '../script-rules';
import { ResourceLimitsDto } from './resource-limits.dto';
import { IsCronExpression, IsHttpPath, IsTimeZone } from './validators';

/** Field limits shared by create and update. */
export const SCRIPT_LIMITS = {
  name: 255,
  description: 10_000,
  /** Characters. The HTTP body limit (100 kB JSON) is reached first; this bounds what the database keeps. */
  source: 100_000,
  change_description: 2_000,
  metadata_bytes: 16_384,
  tags: 50,
  tag: 100,
  event_types: 50,
  required_permissions: 20,
} as const;

/** A name with something visible in it, and no control characters. */
export const NAME_PATTERN = /^(?=.*\S)[^\p{Cc}]+$/u;
/** Tags are filtered as `tags=a,b`, so no commas; no surrounding blanks. */
export const TAG_PATTERN = /^[^,\s](?:[^,]*[^,\s])?$/;
export const PERMISSION_PATTERN = /^[a-z][a-z_]*:[a-z_*]+$/;
/** Semantic Versioning 2.0.0 (seed 004's optional version label). */
export const SEMVER_PATTERN = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

export class CreateScriptDto {
  @ApiProperty({ maxLength: SCRIPT_LIMITS.name, example: 'welcome-mail', description: 'Unique per tenant.' })
  @IsString()
  @Length(1, SCRIPT_LIMITS.name)
  @Matches(NAME_PATTERN, { message: 'name must contain a visible character and no control characters' })
  name: string;

  @ApiPropertyOptional({ maxLength: SCRIPT_LIMITS.description, nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(SCRIPT_LIMITS.description)
  description?: string | null;

  @ApiPropertyOptional({ maxLength: SCRIPT_LIMITS.source, description: 'The JavaScript module (exports a handler). Required unless `script_body` is given.', example: 'export default async (ctx) => ({ ok: true });' })
  @ValidateIf((o: CreateScriptDto) => o.script_body === undefined || o.source !== undefined)
  @IsString()
  @Length(1, SCRIPT_LIMITS.source)
  source?: string;

  @ApiPropertyOptional({ maxLength: SCRIPT_LIMITS.source, description: "Seed 000's name for `source`; give one of the two." })
  @IsOptional()
  @IsString()
  @Length(1, SCRIPT_LIMITS.source)
  script_body?: string;

  @ApiProperty({ enum: SCRIPT_TYPES, description: '`embedded` = provisioning (hook) script, bound through hook bindings.' })
  @IsIn(SCRIPT_TYPES)
  type: ScriptType;

  @ApiPropertyOptional({ type: ResourceLimitsDto, description: 'Missing keys take the defaults.' })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => ResourceLimitsDto)
  resource_limits?: ResourceLimitsDto;

  @ApiPropertyOptional({ example: '*/15 * * * *', description: 'Required for `scheduled`: 5 fields, or 6 with seconds first.' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  @IsCronExpression()
  cron_expression?: string | null;

  @ApiPropertyOptional({ example: 'Europe/Paris', default: 'UTC', description: 'IANA time zone of the cron (scheduled scripts only).' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  @IsTimeZone()
  timezone?: string | null;

  @ApiPropertyOptional({ example: '/hooks/welcome', maxLength: 500, description: 'Required for `http`; unique per tenant.' })
  @IsOptional()
  @IsString()
  @IsHttpPath()
  http_path?: string | null;

  @ApiPropertyOptional({ enum: HTTP_METHODS, isArray: true, description: 'Required for `http`.' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayUnique()
  @IsIn(HTTP_METHODS, { each: true })
  http_methods?: string[] | null;

  @ApiPropertyOptional({ type: [String], example: ['user.created'], description: 'Required (at least one) for `event`: dotted lower-case names.' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(SCRIPT_LIMITS.event_types)
  @ArrayUnique()
  @IsString({ each: true })
  @MaxLength(255, { each: true })
  @Matches(EVENT_TYPE_PATTERN, { each: true, message: 'each value in event_types must be a dotted lower-case event type such as user.created' })
  event_types?: string[] | null;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: { team: 'identity' } })
  @IsOptional()
  @IsJsonObject(SCRIPT_LIMITS.metadata_bytes)
  metadata?: Record<string, unknown> | null;

  @ApiPropertyOptional({ type: [String], example: ['onboarding'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(SCRIPT_LIMITS.tags)
  @ArrayUnique()
  @IsString({ each: true })
  @Length(1, SCRIPT_LIMITS.tag, { each: true })
  @Matches(TAG_PATTERN, { each: true, message: 'each value in tags must have no commas and no surrounding blanks' })
  tags?: string[] | null;

  @ApiPropertyOptional({ type: [String], example: ['identity:write'], description: 'Permissions a caller needs, besides script:execute, to run the script (seed 004).' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(SCRIPT_LIMITS.required_permissions)
  @ArrayUnique()
  @Matches(PERMISSION_PATTERN, { each: true, message: 'each value in required_permissions must look like resource:verb' })
  required_permissions?: string[] | null;

  @ApiPropertyOptional({ default: false, description: 'System-managed: cannot be deleted. Setting it needs script:manage.' })
  @IsOptional()
  @IsBoolean()
  is_system?: boolean;

  @ApiPropertyOptional({ maxLength: SCRIPT_LIMITS.change_description, description: 'Recorded on version 1.', default: 'Initial version' })
  @IsOptional()
  @IsString()
  @MaxLength(SCRIPT_LIMITS.change_description)
  change_description?: string | null;

  @ApiPropertyOptional({ example: '1.0.0', description: 'Optional semantic version label of version 1 (seed 004).' })
  @IsOptional()
  @IsString()
  @MaxLength(50)
  @Matches(SEMVER_PATTERN, { message: 'semantic_version must be a semantic version such as 1.2.0' })
  semantic_version?: string | null;
}
