import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { DEFAULT_TENANT_LIMIT_CAPS as D } from '@provisio/persistence';
import { RESOURCE_LIMIT_BOUNDS as B } from '../../scripts/script-rules';

/** `PUT /tenant/limits`: the caps; a key left out takes its default. Within the sandbox's own bounds. */
export class SetTenantLimitsDto {
  @ApiPropertyOptional({ minimum: B.max_execution_time_ms.min, maximum: B.max_execution_time_ms.max, default: D.max_execution_time_ms })
  @IsOptional()
  @IsInt()
  @Min(B.max_execution_time_ms.min)
  @Max(B.max_execution_time_ms.max)
  max_execution_time_ms?: number;

  @ApiPropertyOptional({ minimum: B.max_memory_bytes.min, maximum: B.max_memory_bytes.max, default: D.max_memory_bytes })
  @IsOptional()
  @IsInt()
  @Min(B.max_memory_bytes.min)
  @Max(B.max_memory_bytes.max)
  max_memory_bytes?: number;

  @ApiPropertyOptional({ minimum: B.max_output_size_bytes.min, maximum: B.max_output_size_bytes.max, default: D.max_output_size_bytes })
  @IsOptional()
  @IsInt()
  @Min(B.max_output_size_bytes.min)
  @Max(B.max_output_size_bytes.max)
  max_output_size_bytes?: number;

  @ApiPropertyOptional({ minimum: B.max_concurrent_runs.min, maximum: B.max_concurrent_runs.max, default: D.max_concurrent_runs })
  @IsOptional()
  @IsInt()
  @Min(B.max_concurrent_runs.min)
  @Max(B.max_concurrent_runs.max)
  max_concurrent_runs?: number;

  @ApiPropertyOptional({ minimum: B.max_api_calls_per_minute.min, maximum: B.max_api_calls_per_minute.max, default: D.max_api_calls_per_minute })
  @IsOptional()
  @IsInt()
  @Min(B.max_api_calls_per_minute.min)
  @Max(B.max_api_calls_per_minute.max)
  max_api_calls_per_minute?: number;
}

/** `GET /tenant/limits` takes no parameters (an unknown one is 400). */
export class NoQueryDto {}

export class TenantLimitsDto {
  @ApiProperty() tenant_id: string;
  @ApiProperty({ description: 'The caps in force (set or default).' }) max_execution_time_ms: number;
  @ApiProperty() max_memory_bytes: number;
  @ApiProperty() max_output_size_bytes: number;
  @ApiProperty() max_concurrent_runs: number;
  @ApiProperty() max_api_calls_per_minute: number;
  @ApiProperty({ type: [String], description: 'Keys an administrator set; the others are defaults.' }) set: string[];
}
