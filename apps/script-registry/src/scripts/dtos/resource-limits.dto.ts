import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { DEFAULT_RESOURCE_LIMITS } from '@provisio/persistence';
import { RESOURCE_LIMIT_BOUNDS as B } from '../script-rules';

/** `resource_limits`: every key optional (seed 001's default when missing), positive integers within bounds; unknown keys are refused. */
export class ResourceLimitsDto {
  @ApiPropertyOptional({ minimum: B.max_execution_time_ms.min, maximum: B.max_execution_time_ms.max, default: DEFAULT_RESOURCE_LIMITS.max_execution_time_ms })
  @IsOptional()
  @IsInt()
  @Min(B.max_execution_time_ms.min)
  @Max(B.max_execution_time_ms.max)
  max_execution_time_ms?: number;

  @ApiPropertyOptional({ minimum: B.max_memory_bytes.min, maximum: B.max_memory_bytes.max, default: DEFAULT_RESOURCE_LIMITS.max_memory_bytes })
  @IsOptional()
  @IsInt()
  @Min(B.max_memory_bytes.min)
  @Max(B.max_memory_bytes.max)
  max_memory_bytes?: number;

  @ApiPropertyOptional({ minimum: B.max_concurrent_runs.min, maximum: B.max_concurrent_runs.max, default: DEFAULT_RESOURCE_LIMITS.max_concurrent_runs })
  @IsOptional()
  @IsInt()
  @Min(B.max_concurrent_runs.min)
  @Max(B.max_concurrent_runs.max)
  max_concurrent_runs?: number;

  @ApiPropertyOptional({ minimum: B.max_api_calls_per_minute.min, maximum: B.max_api_calls_per_minute.max, default: DEFAULT_RESOURCE_LIMITS.max_api_calls_per_minute })
  @IsOptional()
  @IsInt()
  @Min(B.max_api_calls_per_minute.min)
  @Max(B.max_api_calls_per_minute.max)
  max_api_calls_per_minute?: number;

  @ApiPropertyOptional({ minimum: B.max_output_size_bytes.min, maximum: B.max_output_size_bytes.max, default: DEFAULT_RESOURCE_LIMITS.max_output_size_bytes })
  @IsOptional()
  @IsInt()
  @Min(B.max_output_size_bytes.min)
  @Max(B.max_output_size_bytes.max)
  max_output_size_bytes?: number;

  @ApiPropertyOptional({ minimum: B.max_stack_size_bytes.min, maximum: B.max_stack_size_bytes.max, description: "QuickJS stack; the sandbox's default (512 KiB) when missing." })
  @IsOptional()
  @IsInt()
  @Min(B.max_stack_size_bytes.min)
  @Max(B.max_stack_size_bytes.max)
  max_stack_size_bytes?: number;
}
