import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, ArrayUnique, IsArray, IsBoolean, IsBooleanString, IsIn, IsInt, IsOptional, IsUUID, Max, Min, registerDecorator, ValidationOptions } from 'class-validator';
import { HOOK_BINDING_LIMITS, HOOK_FAILURE_POLICIES, HOOK_OPERATION_TYPES, HOOK_PHASES, HookFailurePolicy, HookOperationType, HookPhase } from '@provisio/persistence';
import { PageQueryDto } from '@provisio/platform';
import { IsAbsentOr } from '../../scripts/dtos/validators';

/** Retries of a `retry` binding created without `max_retries`. */
export const DEFAULT_MAX_RETRIES = 3;
export const DEFAULT_TIMEOUT_SECONDS = 30;
/** A hook (connector + operation + phase) with more bindings than this is a configuration mistake. */
export const MAX_BINDINGS_PER_HOOK = 100;

const { max_retries: RETRIES, timeout_seconds: TIMEOUT } = HOOK_BINDING_LIMITS;

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

/** Seed 000's HookBinding. */
export class BindingDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) tenant_id: string;
  @ApiProperty({ format: 'uuid', description: 'The provisioning (embedded) script run as the hook.' }) script_id: string;
  @ApiProperty({ format: 'uuid' }) connector_id: string;
  @ApiProperty({ enum: HOOK_PHASES }) hook_phase: string;
  @ApiProperty({ enum: HOOK_OPERATION_TYPES }) operation_type: string;
  @ApiProperty({ description: 'Position among the bindings of the same connector, operation and phase: 0, 1, 2 … (run in this order).' }) execution_order: number;
  @ApiProperty({ enum: HOOK_FAILURE_POLICIES }) failure_policy: string;
  @ApiProperty({ minimum: RETRIES.min, maximum: RETRIES.max, description: '0 unless failure_policy is retry.' }) max_retries: number;
  @ApiProperty({ minimum: TIMEOUT.min, maximum: TIMEOUT.max }) timeout_seconds: number;
  @ApiProperty() enabled: boolean;
  @ApiProperty({ nullable: true, type: String, description: 'JWT subject of the creator.' }) created_by: string | null;
  @ApiProperty({ format: 'date-time' }) created_at: Date;
  @ApiProperty({ format: 'date-time' }) updated_at: Date;
}

export class BindingPageDto {
  @ApiProperty({ type: [BindingDto] }) items: BindingDto[];
  @ApiProperty() total: number;
  @ApiProperty() limit: number;
  @ApiProperty() offset: number;
}

/** One hook: the bindings of a connector operation and phase, in execution order. */
export class HookBindingsDto {
  @ApiProperty({ format: 'uuid' }) connector_id: string;
  @ApiProperty({ enum: HOOK_OPERATION_TYPES }) operation_type: string;
  @ApiProperty({ enum: HOOK_PHASES }) hook_phase: string;
  @ApiProperty({ type: [BindingDto] }) items: BindingDto[];
}

export class CreateBindingDto {
  @ApiProperty({ format: 'uuid', description: 'An embedded (provisioning) script of the tenant, not archived.' })
  @IsUUID()
  script_id: string;

  @ApiProperty({ format: 'uuid', description: 'A connector of the tenant.' })
  @IsUUID()
  connector_id: string;

  @ApiProperty({ enum: HOOK_PHASES })
  @IsIn(HOOK_PHASES)
  hook_phase: HookPhase;

  @ApiProperty({ enum: HOOK_OPERATION_TYPES })
  @IsIn(HOOK_OPERATION_TYPES)
  operation_type: HookOperationType;

  @ApiPropertyOptional({ enum: HOOK_FAILURE_POLICIES, default: 'abort' })
  @IsOptional()
  @IsIn(HOOK_FAILURE_POLICIES)
  failure_policy?: HookFailurePolicy;

  @ApiPropertyOptional({ minimum: 1, maximum: RETRIES.max, description: `Only with failure_policy retry (default ${DEFAULT_MAX_RETRIES}); otherwise absent or 0.` })
  @IsOptional()
  @IsInt()
  @Min(RETRIES.min)
  @Max(RETRIES.max)
  max_retries?: number;

  @ApiPropertyOptional({ minimum: TIMEOUT.min, maximum: TIMEOUT.max, default: DEFAULT_TIMEOUT_SECONDS })
  @IsOptional()
  @IsInt()
  @Min(TIMEOUT.min)
  @Max(TIMEOUT.max)
  timeout_seconds?: number;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

/** PATCH: the fields given change. The script and connector of a binding do not; its position changes through reorder. */
export class UpdateBindingDto {
  @ApiPropertyOptional({ enum: HOOK_PHASES, description: 'Moves the binding to the end of the other phase.' })
  @IsAbsentOr()
  @IsIn(HOOK_PHASES)
  hook_phase?: HookPhase;

  @ApiPropertyOptional({ enum: HOOK_OPERATION_TYPES, description: 'Moves the binding to the end of the other operation.' })
  @IsAbsentOr()
  @IsIn(HOOK_OPERATION_TYPES)
  operation_type?: HookOperationType;

  @ApiPropertyOptional({ enum: HOOK_FAILURE_POLICIES, description: 'Leaving retry sets max_retries to 0.' })
  @IsAbsentOr()
  @IsIn(HOOK_FAILURE_POLICIES)
  failure_policy?: HookFailurePolicy;

  @ApiPropertyOptional({ minimum: RETRIES.min, maximum: RETRIES.max })
  @IsAbsentOr()
  @IsInt()
  @Min(RETRIES.min)
  @Max(RETRIES.max)
  max_retries?: number;

  @ApiPropertyOptional({ minimum: TIMEOUT.min, maximum: TIMEOUT.max })
  @IsAbsentOr()
  @IsInt()
  @Min(TIMEOUT.min)
  @Max(TIMEOUT.max)
  timeout_seconds?: number;

  @ApiPropertyOptional()
  @IsAbsentOr()
  @IsBoolean()
  enabled?: boolean;

  @IsAbsent('script_id cannot change: delete the binding and create another')
  script_id?: never;

  @IsAbsent('connector_id cannot change: delete the binding and create another')
  connector_id?: never;

  @IsAbsent('execution_order changes through POST /bindings/reorder')
  execution_order?: never;
}

export class ListBindingsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  script_id?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  connector_id?: string;

  @ApiPropertyOptional({ enum: HOOK_OPERATION_TYPES })
  @IsOptional()
  @IsIn(HOOK_OPERATION_TYPES)
  operation_type?: string;

  @ApiPropertyOptional({ enum: HOOK_PHASES })
  @IsOptional()
  @IsIn(HOOK_PHASES)
  hook_phase?: string;

  @ApiPropertyOptional({ enum: ['true', 'false'] })
  @IsOptional()
  @IsBooleanString()
  enabled?: string;
}

export class ReorderBindingsDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  connector_id: string;

  @ApiProperty({ enum: HOOK_OPERATION_TYPES })
  @IsIn(HOOK_OPERATION_TYPES)
  operation_type: HookOperationType;

  @ApiProperty({ enum: HOOK_PHASES })
  @IsIn(HOOK_PHASES)
  hook_phase: HookPhase;

  @ApiProperty({ type: [String], format: 'uuid', description: 'EVERY binding of this hook, each once, in the new execution order.' })
  @Transform(({ value }) => (Array.isArray(value) ? value.map((v) => (typeof v === 'string' ? v.toLowerCase() : v)) : value))
  @IsArray()
  @ArrayMaxSize(MAX_BINDINGS_PER_HOOK)
  @ArrayUnique({ message: 'binding_ids must not repeat a binding' })
  @IsUUID('all', { each: true })
  binding_ids: string[];
}
