import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Length, Max, Min, ValidateIf } from 'class-validator';
import { SCRIPT_LIMITS } from '../../scripts/dtos/create-script.dto';

/** `source` or seed 000's `script_body` (one of the two; both must then be the same text). */
export class SourceDto {
  @ApiPropertyOptional({ maxLength: SCRIPT_LIMITS.source, example: 'export default async (ctx) => ({ ok: true });', description: 'The script. Required unless `script_body` is given.' })
  @ValidateIf((o: SourceDto) => o.script_body === undefined || o.source !== undefined)
  @IsString()
  @Length(1, SCRIPT_LIMITS.source)
  source?: string;

  @ApiPropertyOptional({ maxLength: SCRIPT_LIMITS.source, description: "Seed 000's name for `source`." })
  @IsOptional()
  @IsString()
  @Length(1, SCRIPT_LIMITS.source)
  script_body?: string;
}

export class VersionQueryDto {
  @ApiPropertyOptional({ minimum: 1, description: 'A stored version of the script. Default: the live one (`current_version`).' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(2_147_483_647)
  version?: number;
}

export class ValidationProblemDto {
  @ApiProperty({ example: 3 }) line: number;
  @ApiProperty({ example: 14 }) column: number;
  @ApiProperty({ example: "SyntaxError: expecting ')'" }) message: string;
}

export class ValidationWarningDto {
  @ApiPropertyOptional() line?: number;
  @ApiPropertyOptional() column?: number;
  @ApiProperty() message: string;
}

/** Seed 000's ValidationResult, with warnings. */
export class ValidationResultDto {
  @ApiProperty({ description: 'Whether the script compiles and has the shape the sandbox runs.' }) valid: boolean;
  @ApiProperty({ type: [ValidationProblemDto] }) errors: ValidationProblemDto[];
  @ApiProperty({ type: [ValidationWarningDto], description: 'e.g. no default-exported function.' }) warnings: ValidationWarningDto[];
  @ApiPropertyOptional({ format: 'uuid', description: 'Stored scripts: the script validated.' }) script_id?: string;
  @ApiPropertyOptional({ description: 'Stored scripts: the version validated.' }) version_number?: number;
}
