import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsISO8601, IsObject, IsOptional, IsString, Matches, MaxLength, MinLength, registerDecorator, ValidateIf, ValidationOptions } from 'class-validator';
import { MAX_IDENTITY_ATTRIBUTES_CHARS } from '@provisio/contracts';
import { IDENTITY_STATUSES, IdentityStatus } from '@provisio/persistence';
import { PageQueryDto } from '@provisio/platform';

/** Statuses an identity can be created with; `deleted` is reached by a `user.deleted` event or a PATCH. */
export const CREATABLE_IDENTITY_STATUSES = IDENTITY_STATUSES.filter((s) => s !== 'deleted');
const EMAIL = /^[^@\s]+@[^@\s]+$/;

/** An `attributes` object: JSON of at most MAX_IDENTITY_ATTRIBUTES_CHARS characters, keys of 1–255 characters. */
export function IsAttributes(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isAttributes',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: `attributes must be a JSON object of at most ${MAX_IDENTITY_ATTRIBUTES_CHARS} characters with keys of 1-255 characters`, ...options },
      validator: {
        validate: (value: unknown) =>
          value !== null &&
          typeof value === 'object' &&
          !Array.isArray(value) &&
          Object.keys(value).every((key) => key.length >= 1 && key.length <= 255) &&
          JSON.stringify(value).length <= MAX_IDENTITY_ATTRIBUTES_CHARS,
      },
    });
}

/** The identity store's Identity (seed 002's user side of provisioning). */
export class IdentityDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) tenant_id: string;
  @ApiProperty({ maxLength: 255 }) username: string;
  @ApiProperty({ nullable: true, type: String, maxLength: 320 }) email: string | null;
  @ApiProperty({ nullable: true, type: String, maxLength: 255 }) display_name: string | null;
  @ApiProperty({ enum: IDENTITY_STATUSES }) status: IdentityStatus;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Free-form attributes (department, first_name …), what mappings and policies read as attributes.<name>.' })
  attributes: Record<string, unknown>;
  @ApiProperty({ nullable: true, type: String, description: "The upstream system's id of the user (`data.user_id` of domain events)." }) source_user_id: string | null;
  @ApiProperty({ nullable: true, type: Number, description: 'The upstream version of the last domain event applied, when the upstream sends one.' }) source_version: number | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'The CloudEvent time of the last domain event applied.' }) source_event_time: Date | null;
  @ApiProperty({ format: 'date-time' }) created_at: Date;
  @ApiProperty({ format: 'date-time' }) updated_at: Date;
}

export class IdentityPageDto {
  @ApiProperty({ type: [IdentityDto] }) items: IdentityDto[];
  @ApiProperty() total: number;
  @ApiProperty() limit: number;
  @ApiProperty() offset: number;
}

export class CreateIdentityDto {
  @ApiProperty({ minLength: 1, maxLength: 255 })
  @IsString()
  @MinLength(1)
  @MaxLength(255)
  username: string;

  @ApiPropertyOptional({ nullable: true, type: String, maxLength: 320 })
  @IsOptional()
  @IsString()
  @MaxLength(320)
  @Matches(EMAIL, { message: 'email must be an email address' })
  email?: string | null;

  @ApiPropertyOptional({ nullable: true, type: String, maxLength: 255 })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  display_name?: string | null;

  @ApiPropertyOptional({ enum: CREATABLE_IDENTITY_STATUSES, default: 'active' })
  @IsOptional()
  @IsIn(CREATABLE_IDENTITY_STATUSES)
  status?: IdentityStatus;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, default: {} })
  @IsOptional()
  @IsAttributes()
  attributes?: Record<string, unknown>;

  @ApiPropertyOptional({ nullable: true, type: String, maxLength: 255, description: 'Links the identity to an upstream user: its domain events then keep it.' })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(255)
  source_user_id?: string | null;
}

/**
 * PATCH: the fields given change. `attributes` merges key by key (a key set to null is removed), as a
 * `user.updated` event does; `null` clears email, display_name and source_user_id.
 */
export class UpdateIdentityDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 255 })
  @ValidateIf((_o, v) => v !== undefined)
  @IsString()
  @MinLength(1)
  @MaxLength(255)
  username?: string;

  @ApiPropertyOptional({ nullable: true, type: String, maxLength: 320 })
  @ValidateIf((_o, v) => v !== undefined && v !== null)
  @IsString()
  @MaxLength(320)
  @Matches(EMAIL, { message: 'email must be an email address' })
  email?: string | null;

  @ApiPropertyOptional({ nullable: true, type: String, maxLength: 255 })
  @ValidateIf((_o, v) => v !== undefined && v !== null)
  @IsString()
  @MaxLength(255)
  display_name?: string | null;

  @ApiPropertyOptional({ enum: IDENTITY_STATUSES })
  @ValidateIf((_o, v) => v !== undefined)
  @IsIn(IDENTITY_STATUSES)
  status?: IdentityStatus;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Merged into the stored attributes; a key set to null is removed.' })
  @ValidateIf((_o, v) => v !== undefined)
  @IsAttributes()
  attributes?: Record<string, unknown>;

  @ApiPropertyOptional({ nullable: true, type: String, maxLength: 255 })
  @ValidateIf((_o, v) => v !== undefined && v !== null)
  @IsString()
  @MinLength(1)
  @MaxLength(255)
  source_user_id?: string | null;
}

export const IDENTITY_SORTS = ['username', 'created_at', 'updated_at'] as const;

function parseJsonObject(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

export class ListIdentitiesQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: IDENTITY_STATUSES })
  @IsOptional()
  @IsIn(IDENTITY_STATUSES)
  status?: IdentityStatus;

  @ApiPropertyOptional({ description: 'Exact username.' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  username?: string;

  @ApiPropertyOptional({ description: 'Exact email, case-insensitive.' })
  @IsOptional()
  @IsString()
  @MaxLength(320)
  email?: string;

  @ApiPropertyOptional({ description: 'Exact upstream user id.' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  source_user_id?: string;

  @ApiPropertyOptional({ description: 'Attribute equality, as a JSON object: {"department":"Finance"} matches identities whose attributes contain it.', example: '{"department":"Finance"}' })
  @IsOptional()
  @Transform(({ value }) => parseJsonObject(value))
  @IsObject({ message: 'attributes must be a JSON object such as {"department":"Finance"}' })
  @IsAttributes()
  attributes?: Record<string, unknown>;

  @ApiPropertyOptional({ format: 'date-time', description: 'Only identities changed at or after this time.' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'updated_since must be an ISO 8601 date-time' })
  updated_since?: string;

  @ApiPropertyOptional({ enum: IDENTITY_SORTS, default: 'username' })
  @IsOptional()
  @IsIn(IDENTITY_SORTS)
  sort?: (typeof IDENTITY_SORTS)[number];
}

/** An account_link: which account of a connector's target belongs to the identity. */
export class AccountLinkDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) identity_id: string;
  @ApiProperty({ format: 'uuid' }) connector_id: string;
  @ApiProperty() connector_name: string;
  @ApiProperty({ enum: ['scim', 'ldap', 'sql'] }) connector_type: string;
  @ApiProperty({ example: 'account' }) object_class: string;
  @ApiProperty({ description: "The target's identifier (SCIM id, LDAP DN, SQL key)." }) external_uid: string;
  @ApiProperty({ nullable: true, type: String }) attributes_hash: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) last_synced_at: Date | null;
  @ApiProperty({ format: 'date-time' }) linked_at: Date;
}

export class AccountLinkPageDto {
  @ApiProperty({ type: [AccountLinkDto] }) items: AccountLinkDto[];
  @ApiProperty() total: number;
  @ApiProperty() limit: number;
  @ApiProperty() offset: number;
}
