import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsObject, IsOptional, IsString, IsUUID, Matches, MaxLength, MinLength, registerDecorator, ValidateIf, ValidateNested, ValidationOptions } from 'class-validator';
import { Type } from 'class-transformer';
import { CONNECTOR_STATUSES, CONNECTOR_TYPES, ConnectorStatus, ConnectorType } from '@provisio/persistence';
import { PageQueryDto } from '@provisio/platform';
import { CREATABLE_IDENTITY_STATUSES, IsAttributes } from '../../identities/dtos/identity.dto';

/** Statuses a caller sets; `error` is set by a failed connection test (and cleared by a passing one). */
export const SETTABLE_CONNECTOR_STATUSES = ['active', 'inactive'] as const;

/** A field PATCH does not change: 400 with `message` when it is given at all. */
function IsAbsent(message: string, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isAbsent',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message, ...options },
      validator: { validate: (value: unknown) => value === undefined },
    });
}

const MAPPING_DOC =
  'Identity attribute → target attribute rules: [{ "target": "userName", "from": "username", "transforms": ["lower"] }, { "target": "active", "value": true }, ' +
  '{ "target": "displayName", "template": "{{attributes.first_name}} {{attributes.last_name}}" }, { "target": "cn", "concat": ["attributes.first_name", "attributes.last_name"], "separator": " " }]; ' +
  'each rule may add "default" and "required". See docs/connectors.md, "Connector API".';
const POLICY_DOC =
  'Which identities the connector gets: { "statuses": ["active", "inactive", "suspended"], "filter": { "all": [{ "attribute": "attributes.department", "op": "eq", "value": "Finance" }] } }. ' +
  '{} (the default) covers every identity but a deleted one.';

/** seed 002's Connector, as the API shows it: never its credentials. */
export class ConnectorDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) tenant_id: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: CONNECTOR_TYPES }) type: ConnectorType;
  @ApiProperty({ type: 'object', additionalProperties: true, description: "The type's settings, as stored (nothing secret: see credentials)." }) config: Record<string, unknown>;
  @ApiProperty({ enum: CONNECTOR_STATUSES }) status: ConnectorStatus;
  @ApiProperty({ nullable: true, type: String, description: 'Why the connector is in error (the last failed connection test).' }) last_error: string | null;
  @ApiProperty({ description: 'Whether credentials are stored (they are never returned).' }) has_credentials: boolean;
  @ApiProperty({ nullable: true, type: String, description: 'The id of the key the stored credentials are encrypted with.' }) credentials_key_id: string | null;
  @ApiProperty({ type: 'array', items: { type: 'object', additionalProperties: true }, description: MAPPING_DOC }) attribute_mapping: unknown[];
  @ApiProperty({ type: 'object', additionalProperties: true, description: POLICY_DOC }) provisioning_policy: Record<string, unknown>;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'An embedded script that maps after the rules: it gets the identity and the mapped attributes and returns the final attributes (docs/connectors.md).' })
  mapping_script_id: string | null;
  @ApiProperty({ format: 'date-time' }) created_at: Date;
  @ApiProperty({ format: 'date-time' }) updated_at: Date;
}

export class ConnectorPageDto {
  @ApiProperty({ type: [ConnectorDto] }) items: ConnectorDto[];
  @ApiProperty() total: number;
  @ApiProperty() limit: number;
  @ApiProperty() offset: number;
}

// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const NAME = /^[^\u0000-\u001f\u007f]+$/;

export class CreateConnectorDto {
  @ApiProperty({ minLength: 1, maxLength: 255, description: 'Unique in the tenant.' })
  @IsString()
  @MinLength(1)
  @MaxLength(255)
  @Matches(NAME, { message: 'name must not contain control characters' })
  name: string;

  @ApiProperty({ enum: CONNECTOR_TYPES })
  @IsIn(CONNECTOR_TYPES)
  type: ConnectorType;

  @ApiProperty({ type: 'object', additionalProperties: true, description: "The type's settings, validated by its schema (docs/connectors.md)." })
  @IsObject()
  config: Record<string, unknown>;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Secrets (token, bind password, database password): encrypted at rest (AES-256-GCM), never returned.' })
  @IsOptional()
  @IsObject()
  credentials?: Record<string, unknown>;

  @ApiPropertyOptional({ enum: SETTABLE_CONNECTOR_STATUSES, default: 'active' })
  @IsOptional()
  @IsIn(SETTABLE_CONNECTOR_STATUSES)
  status?: ConnectorStatus;

  @ApiPropertyOptional({ type: 'array', items: { type: 'object', additionalProperties: true }, default: [], description: MAPPING_DOC })
  @IsOptional()
  attribute_mapping?: unknown;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, default: {}, description: POLICY_DOC })
  @IsOptional()
  provisioning_policy?: unknown;

  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid', description: 'An embedded script of the tenant (runs once the shared script execution lands).' })
  @IsOptional()
  @IsUUID()
  mapping_script_id?: string | null;
}

/** PATCH: the fields given change. `config` is replaced as a whole; `credentials: null` removes them. The type does not change. */
export class UpdateConnectorDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 255 })
  @ValidateIf((_o, v) => v !== undefined)
  @IsString()
  @MinLength(1)
  @MaxLength(255)
  @Matches(NAME, { message: 'name must not contain control characters' })
  name?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @ValidateIf((_o, v) => v !== undefined)
  @IsObject()
  config?: Record<string, unknown>;

  @ApiPropertyOptional({ nullable: true, type: 'object', additionalProperties: true, description: 'Replaces the stored credentials; null removes them.' })
  @ValidateIf((_o, v) => v !== undefined && v !== null)
  @IsObject()
  credentials?: Record<string, unknown> | null;

  @ApiPropertyOptional({ enum: SETTABLE_CONNECTOR_STATUSES, description: 'active clears last_error.' })
  @ValidateIf((_o, v) => v !== undefined)
  @IsIn(SETTABLE_CONNECTOR_STATUSES)
  status?: ConnectorStatus;

  @ApiPropertyOptional({ type: 'array', items: { type: 'object', additionalProperties: true }, description: MAPPING_DOC })
  @ValidateIf((_o, v) => v !== undefined)
  attribute_mapping?: unknown;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: POLICY_DOC })
  @ValidateIf((_o, v) => v !== undefined)
  provisioning_policy?: unknown;

  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' })
  @ValidateIf((_o, v) => v !== undefined && v !== null)
  @IsUUID()
  mapping_script_id?: string | null;

  @IsAbsent('type cannot change: create another connector')
  type?: never;
}

export class ListConnectorsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: CONNECTOR_TYPES })
  @IsOptional()
  @IsIn(CONNECTOR_TYPES)
  type?: ConnectorType;

  @ApiPropertyOptional({ enum: CONNECTOR_STATUSES })
  @IsOptional()
  @IsIn(CONNECTOR_STATUSES)
  status?: ConnectorStatus;

  @ApiPropertyOptional({ description: 'Exact name.' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  name?: string;
}

export class ConnectionTestDto {
  @ApiProperty() ok: boolean;
  @ApiProperty() latency_ms: number;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'What the target says of itself.' }) details: Record<string, unknown>;
  @ApiPropertyOptional({ type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } }) error?: { code: string; message: string };
  @ApiProperty({ enum: CONNECTOR_STATUSES, description: 'The connector status after the test.' }) status: ConnectorStatus;
  @ApiProperty({ nullable: true, type: String }) last_error: string | null;
}

export class SchemaAttributeDto {
  @ApiProperty() name: string;
  @ApiProperty({ enum: ['string', 'integer', 'decimal', 'boolean', 'datetime', 'binary', 'reference', 'complex'] }) type: string;
  @ApiProperty() multi_valued: boolean;
  @ApiProperty() required: boolean;
  @ApiProperty() read_only: boolean;
}

export class SchemaObjectClassDto {
  @ApiProperty({ enum: ['account', 'group'] }) name: string;
  @ApiProperty({ description: "The target's own name for it (User, inetOrgPerson, a table)." }) native_name: string;
  @ApiProperty({ type: [SchemaAttributeDto] }) attributes: SchemaAttributeDto[];
}

export class ConnectorSchemaDto {
  @ApiProperty({ type: [SchemaObjectClassDto] }) object_classes: SchemaObjectClassDto[];
}

/** An identity given inline to the preview (nothing is stored). */
export class PreviewIdentityDto {
  @ApiProperty({ minLength: 1, maxLength: 255 })
  @IsString()
  @MinLength(1)
  @MaxLength(255)
  username: string;

  @ApiPropertyOptional({ nullable: true, type: String })
  @IsOptional()
  @IsString()
  @MaxLength(320)
  email?: string | null;

  @ApiPropertyOptional({ nullable: true, type: String })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  display_name?: string | null;

  @ApiPropertyOptional({ enum: [...CREATABLE_IDENTITY_STATUSES, 'deleted'], default: 'active' })
  @IsOptional()
  @IsIn([...CREATABLE_IDENTITY_STATUSES, 'deleted'])
  status?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptional()
  @IsAttributes()
  attributes?: Record<string, unknown>;
}

export class PreviewRequestDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'An identity of the tenant; or give `identity` inline.' })
  @IsOptional()
  @IsUUID()
  identity_id?: string;

  @ApiPropertyOptional({ type: PreviewIdentityDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => PreviewIdentityDto)
  identity?: PreviewIdentityDto;
}

export class PreviewDto {
  @ApiProperty({ description: "Whether the connector's provisioning policy gives the identity an account." }) covered: boolean;
  @ApiProperty({ description: 'Why (or why not).' }) reason: string;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The account attributes the mapping computes, by target attribute name.' }) attributes: Record<string, unknown>;
  @ApiProperty({ type: [String], description: 'Targets of required rules left empty: the account could not be provisioned as it is.' }) missing: string[];
  @ApiProperty({ description: 'Whether an operation would be created and could run: covered and nothing missing.' }) would_provision: boolean;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'The mapping script, when the connector has one (run after the rules; see docs/connectors.md).' })
  mapping_script_id: string | null;
  @ApiProperty({ description: "True: the connector's mapping script ran and `attributes` is what it returned; false: the connector has none." }) mapping_script_applied: boolean;
  @ApiProperty({ nullable: true, type: Number, description: 'The version of the mapping script that ran.' }) mapping_script_version: number | null;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: "The run's script_executions row (trigger_type api, connector_id set)." }) mapping_script_execution_id: string | null;
}

export class ReEncryptRequestDto {
  @ApiPropertyOptional({ default: false, description: 'Only count the connectors whose credentials use another key than the current one.' })
  @IsOptional()
  @IsBoolean()
  dry_run?: boolean;
}
