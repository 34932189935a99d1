import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { Allow, ArrayMaxSize, IsArray, IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { SCRIPT_PARAMETER_TYPES } from '@provisio/contracts';
import { IsJsonObject } from '../../common/validators';
import { IsAbsentOr } from '../../scripts/dtos/validators';

/** Parameters one script may declare. */
export const MAX_PARAMETERS_PER_SCRIPT = 100;
const RULES_BYTES = 16 * 1024;

export class ParameterOptionDto {
  @ApiProperty({ description: 'Any JSON value: what the input carries when this option is chosen.' })
  @Allow()
  value: unknown;

  @ApiPropertyOptional({ maxLength: 255 })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  label?: string;
}

/** One parameter as `PUT /scripts/{id}/parameters` takes it (seed 004's ScriptParameter, dependencies by name). */
export class ScriptParameterInputDto {
  @ApiProperty({ example: 'base_dn', description: 'The key in the execution\'s input: a letter or _, then letters, digits or _; at most 100.' })
  @IsString()
  @Matches(/^[A-Za-z_][A-Za-z0-9_]{0,99}$/, { message: '$property must be a letter or _, then letters, digits or _ (at most 100)' })
  name: string;

  @ApiPropertyOptional({ maxLength: 255 }) @IsOptional() @IsString() @MaxLength(255) label?: string;
  @ApiPropertyOptional({ maxLength: 10000 }) @IsOptional() @IsString() @MaxLength(10000) description?: string;

  @ApiProperty({ enum: SCRIPT_PARAMETER_TYPES, description: 'Seed 004\'s 14 types, lower case.' })
  @IsIn(SCRIPT_PARAMETER_TYPES)
  type: (typeof SCRIPT_PARAMETER_TYPES)[number];

  @ApiPropertyOptional({ default: false, description: 'A required parameter with a default is satisfied by it.' })
  @IsAbsentOr()
  @IsBoolean()
  required?: boolean;

  @ApiPropertyOptional({
    description: 'A JSON value of the type. For a secret parameter it is stored encrypted and answered as "********"; sending "********" back keeps the stored one.',
  })
  @Allow()
  default_value?: unknown;

  @ApiPropertyOptional({ default: false, description: 'Always true for `password`.' })
  @IsAbsentOr()
  @IsBoolean()
  is_secret?: boolean;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description:
      '`pattern` (regex, no nested repetition), `min_length`/`max_length` (text; for `file`, max bytes), `min`/`max` (numbers; dates as text; item counts for `multiselect`), `allowed_extensions` (`file`), `custom.schema` (a JSON Schema for `json`).',
  })
  @IsOptional()
  @IsJsonObject(RULES_BYTES)
  validation_rules?: Record<string, unknown>;

  @ApiPropertyOptional({ type: [ParameterOptionDto], description: 'Required for select and multiselect, refused otherwise.' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(500)
  @ValidateNested({ each: true })
  @Type(() => ParameterOptionDto)
  options?: ParameterOptionDto[];

  @ApiPropertyOptional({ maxLength: 255 }) @IsOptional() @IsString() @MaxLength(255) placeholder?: string;
  @ApiPropertyOptional({ maxLength: 10000 }) @IsOptional() @IsString() @MaxLength(10000) help_text?: string;
  @ApiPropertyOptional({ maxLength: 100, description: 'UI grouping: parameters with the same group are shown together.' }) @IsOptional() @IsString() @MaxLength(100) group_name?: string;
  @ApiPropertyOptional({ default: false }) @IsAbsentOr() @IsBoolean() is_advanced?: boolean;

  @ApiPropertyOptional({ description: 'Display position (default: the position in the list).' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100000)
  display_order?: number;

  @ApiPropertyOptional({ description: 'The name of another parameter of this script; this one applies only while that one meets `depends_on_condition`.' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  depends_on?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: { equals: 'ldap' }, description: '`{ "equals": v }`, `{ "not_equals": v }` or `{ "in": [v, …] }`.' })
  @IsOptional()
  @IsJsonObject(RULES_BYTES)
  depends_on_condition?: Record<string, unknown>;
}

export class PutScriptParametersDto {
  @ApiProperty({ type: [ScriptParameterInputDto], description: `The whole set (at most ${MAX_PARAMETERS_PER_SCRIPT}); parameters left out are deleted.` })
  @IsArray()
  @ArrayMaxSize(MAX_PARAMETERS_PER_SCRIPT)
  @ValidateNested({ each: true })
  @Type(() => ScriptParameterInputDto)
  parameters: ScriptParameterInputDto[];
}

export class ScriptParameterDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) script_id: string;
  @ApiProperty({ format: 'uuid' }) tenant_id: string;
  @ApiProperty() name: string;
  @ApiProperty({ nullable: true, type: String }) label: string | null;
  @ApiProperty({ nullable: true, type: String }) description: string | null;
  @ApiProperty({ enum: SCRIPT_PARAMETER_TYPES }) type: string;
  @ApiProperty() required: boolean;
  @ApiProperty({ nullable: true, description: '"********" for a secret parameter with a default.' }) default_value: unknown;
  @ApiProperty() is_secret: boolean;
  @ApiProperty({ type: 'object', additionalProperties: true }) validation_rules: Record<string, unknown>;
  @ApiProperty({ type: [ParameterOptionDto], nullable: true }) options: ParameterOptionDto[] | null;
  @ApiProperty({ nullable: true, type: String }) placeholder: string | null;
  @ApiProperty({ nullable: true, type: String }) help_text: string | null;
  @ApiProperty({ nullable: true, type: String }) group_name: string | null;
  @ApiProperty() is_advanced: boolean;
  @ApiProperty() display_order: number;
  @ApiProperty({ nullable: true, type: String, description: 'Name of the parameter this one depends on.' }) depends_on: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) depends_on_parameter_id: string | null;
  @ApiProperty({ nullable: true, type: 'object', additionalProperties: true }) depends_on_condition: Record<string, unknown> | null;
  @ApiProperty({ format: 'date-time' }) created_at: Date;
  @ApiProperty({ format: 'date-time' }) updated_at: Date;
}

export class ParameterGroupDto {
  @ApiProperty({ nullable: true, type: String, description: 'null: parameters without a group.' }) name: string | null;
  @ApiProperty({ type: [String], description: 'Names in display order.' }) parameters: string[];
}

export class ScriptParametersDto {
  @ApiProperty({ type: [ScriptParameterDto], description: 'In display order.' }) parameters: ScriptParameterDto[];
  @ApiProperty({ type: [ParameterGroupDto] }) groups: ParameterGroupDto[];
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The JSON Schema every run\'s `input` is checked against (draft 7, ajv).' }) input_schema: Record<string, unknown>;
}
