import { ApiProperty, ApiPropertyOptional, OmitType } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { Allow, ArrayMaxSize, IsArray, IsBooleanString, IsIn, IsOptional, IsString, Length, Matches, MaxLength, ValidateIf } from 'class-validator';
import { SCRIPT_TYPES, ScriptType, TEMPLATE_CATEGORIES, TemplateCategory } from '@provisio/persistence';
import { PageQueryDto } from '@provisio/platform';
import { IsJsonObject } from '../../common/validators';
import { CreateScriptDto, NAME_PATTERN, SCRIPT_LIMITS } from '../../scripts/dtos/create-script.dto';
import { IsAbsentOr, splitList } from '../../scripts/dtos/validators';
import { PLACEHOLDER_TYPES } from '../template-placeholders';

export const TEMPLATE_LIMITS = { name: 255, description: 10_000, template_body: SCRIPT_LIMITS.source, placeholder_values_bytes: 65_536 } as const;

const ANNOTATIONS_DOC = {
  description:
    'Describes each `{{placeholder}}` of `template_body`: a list of `{ name, type, description, required, default }`, or an object keyed by name, or either as a JSON string. ' +
    `\`type\`: ${PLACEHOLDER_TYPES.join(', ')} (default string); \`required\` defaults to true. Every placeholder of the body needs one, and none may describe a placeholder the body does not use.`,
  example: [{ name: 'mail_domain', type: 'string', description: 'Mail domain', required: true }, { name: 'max_length', type: 'integer', required: false, default: 20 }],
  oneOf: [{ type: 'array', items: { type: 'object' } }, { type: 'object' }, { type: 'string' }],
};

export class PlaceholderDto {
  @ApiProperty({ example: 'mail_domain' }) name: string;
  @ApiProperty({ enum: PLACEHOLDER_TYPES }) type: string;
  @ApiProperty({ nullable: true, type: String }) description: string | null;
  @ApiProperty({ description: 'Needs a value at instantiation unless it has a default.' }) required: boolean;
  @ApiPropertyOptional({ description: 'Used when no value is given; absent when there is none.' }) default?: unknown;
}

/** Seed 000's ScriptTemplate. `tenant_id` is null for system templates (visible to every tenant). */
export class TemplateDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'null for system templates.' }) tenant_id: string | null;
  @ApiProperty() name: string;
  @ApiProperty({ nullable: true, type: String }) description: string | null;
  @ApiProperty({ enum: TEMPLATE_CATEGORIES }) category: string;
  @ApiProperty({ description: 'The script, with `{{placeholder}}`s where values go (as JavaScript literals).' }) template_body: string;
  @ApiProperty({ description: 'The placeholders as a JSON string (seed 000 types the field as a string); `placeholders` holds the same, parsed.' })
  placeholder_annotations: string;
  @ApiProperty({ type: [PlaceholderDto] }) placeholders: PlaceholderDto[];
  @ApiProperty({ description: 'System template: shipped with Provisio, read-only.' }) is_system: boolean;
  @ApiProperty({ nullable: true, type: String, description: 'JWT subject of the creator (null for system templates).' }) created_by: string | null;
  @ApiProperty({ format: 'date-time' }) created_at: Date;
  @ApiProperty({ format: 'date-time' }) updated_at: Date;
}

export class TemplatePageDto {
  @ApiProperty({ type: [TemplateDto] }) items: TemplateDto[];
  @ApiProperty() total: number;
  @ApiProperty() limit: number;
  @ApiProperty() offset: number;
}

export class CreateTemplateDto {
  @ApiProperty({ maxLength: TEMPLATE_LIMITS.name, description: 'Unique among the tenant’s templates.' })
  @IsString()
  @Length(1, TEMPLATE_LIMITS.name)
  @Matches(NAME_PATTERN, { message: 'name must contain a visible character and no control characters' })
  name: string;

  @ApiPropertyOptional({ maxLength: TEMPLATE_LIMITS.description, nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(TEMPLATE_LIMITS.description)
  description?: string | null;

  @ApiProperty({ enum: TEMPLATE_CATEGORIES })
  @IsIn(TEMPLATE_CATEGORIES)
  category: TemplateCategory;

  @ApiProperty({ maxLength: TEMPLATE_LIMITS.template_body, example: 'const DOMAIN = {{mail_domain}};\nexport default async (ctx) => ({ mail: helpers.email(ctx.identity.first_name, DOMAIN) });' })
  @IsString()
  @Length(1, TEMPLATE_LIMITS.template_body)
  template_body: string;

  @ApiPropertyOptional(ANNOTATIONS_DOC)
  @IsOptional()
  @Allow()
  placeholder_annotations?: unknown;
}

/** PATCH: the fields given change. A new body is checked against the annotations (given or stored). */
export class UpdateTemplateDto {
  @ApiPropertyOptional({ maxLength: TEMPLATE_LIMITS.name })
  @IsAbsentOr()
  @IsString()
  @Length(1, TEMPLATE_LIMITS.name)
  @Matches(NAME_PATTERN, { message: 'name must contain a visible character and no control characters' })
  name?: string;

  @ApiPropertyOptional({ maxLength: TEMPLATE_LIMITS.description, nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(TEMPLATE_LIMITS.description)
  description?: string | null;

  @ApiPropertyOptional({ enum: TEMPLATE_CATEGORIES })
  @IsAbsentOr()
  @IsIn(TEMPLATE_CATEGORIES)
  category?: TemplateCategory;

  @ApiPropertyOptional({ maxLength: TEMPLATE_LIMITS.template_body })
  @IsAbsentOr()
  @IsString()
  @Length(1, TEMPLATE_LIMITS.template_body)
  template_body?: string;

  @ApiPropertyOptional(ANNOTATIONS_DOC)
  @IsAbsentOr()
  @Allow()
  placeholder_annotations?: unknown;
}

export class ListTemplatesQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ description: `Comma-separated or repeated; any of ${TEMPLATE_CATEGORIES.join(', ')}.`, type: String, example: 'value_generation,data_formatting' })
  @IsOptional()
  @Transform(({ value }) => splitList(value))
  @IsArray()
  @ArrayMaxSize(TEMPLATE_CATEGORIES.length)
  @IsIn(TEMPLATE_CATEGORIES, { each: true })
  category?: string[];

  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'Only system templates (true) or only the tenant’s own (false).' })
  @IsOptional()
  @IsBooleanString()
  is_system?: string;

  @ApiPropertyOptional({ description: 'Case-insensitive substring of the name or description.', maxLength: 200 })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  q?: string;
}

/** Statuses a script can be created in from a template: a draft, or switched on at once (needs script:manage). */
export const INSTANTIATE_STATUSES = ['draft', 'active'] as const;

/**
 * `POST /templates/{id}/instantiate`: the script's fields as `POST /scripts` takes them (same rules), except
 * the source, which is the filled template; `type` defaults to `embedded` (a provisioning hook).
 */
export class InstantiateTemplateDto extends OmitType(CreateScriptDto, ['source', 'script_body', 'type', 'is_system'] as const) {
  @ApiPropertyOptional({ enum: SCRIPT_TYPES, default: 'embedded' })
  @IsOptional()
  @IsIn(SCRIPT_TYPES)
  type?: ScriptType;

  @ApiPropertyOptional({ enum: INSTANTIATE_STATUSES, default: 'draft', description: '`active` switches the script on at once, which needs script:manage (as POST /scripts/{id}/status).' })
  @IsOptional()
  @IsIn(INSTANTIATE_STATUSES)
  status?: (typeof INSTANTIATE_STATUSES)[number];

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    example: { mail_domain: 'corp.example', max_length: 16 },
    description: 'A value per placeholder, of its annotated type; missing ones take their default (required ones without a default must be given).',
  })
  @ValidateIf((_o, value) => value !== undefined)
  @IsJsonObject(TEMPLATE_LIMITS.placeholder_values_bytes)
  placeholder_values?: Record<string, unknown>;
}
