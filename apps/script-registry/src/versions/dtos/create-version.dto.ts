import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Length, Matches, Max, MaxLength, Min, ValidateIf } from 'class-validator';
import { SCRIPT_LIMITS, SEMVER_PATTERN } from '../../scripts/dtos/create-script.dto';

export class CreateVersionDto {
  @ApiPropertyOptional({ maxLength: SCRIPT_LIMITS.source, description: 'The new source. Required unless `script_body` is given.' })
  @ValidateIf((o: CreateVersionDto) => o.script_body === undefined || o.source !== undefined)
  @IsString()
  @Length(1, SCRIPT_LIMITS.source)
  source?: string;

  @ApiPropertyOptional({ maxLength: SCRIPT_LIMITS.source, description: "Seed 000's name for `source`." })
  @IsOptional()
  @IsString()
  @Length(1, SCRIPT_LIMITS.source)
  script_body?: string;

  @ApiPropertyOptional({ maxLength: SCRIPT_LIMITS.change_description })
  @IsOptional()
  @IsString()
  @MaxLength(SCRIPT_LIMITS.change_description)
  change_description?: string | null;

  @ApiPropertyOptional({ example: '1.1.0' })
  @IsOptional()
  @IsString()
  @MaxLength(50)
  @Matches(SEMVER_PATTERN, { message: 'semantic_version must be a semantic version such as 1.2.0' })
  semantic_version?: string | null;
}

export class RollbackDto {
  @ApiPropertyOptional({ maxLength: SCRIPT_LIMITS.change_description, description: 'Default: "Rollback to version N".' })
  @IsOptional()
  @IsString()
  @MaxLength(SCRIPT_LIMITS.change_description)
  change_description?: string | null;
}

export class DiffQueryDto {
  @ApiPropertyOptional({ minimum: 1, description: 'The old side. Default: the version before `to`.' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(2_147_483_647)
  from?: number;

  @ApiPropertyOptional({ minimum: 1, description: 'The new side. Default: the live version.' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(2_147_483_647)
  to?: number;
}
