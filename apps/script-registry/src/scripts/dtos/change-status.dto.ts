import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { ACCEPTED_STATUSES } from '../script-rules';

export class ChangeStatusDto {
  @ApiProperty({ enum: ACCEPTED_STATUSES, description: '`inactive` (seed 000) is stored as `disabled`. Allowed steps: draft → active|archived; active → paused|disabled; paused → active|disabled|archived; disabled → active|archived.' })
  @IsIn(ACCEPTED_STATUSES)
  status: string;

  @ApiPropertyOptional({ maxLength: 2000, description: 'Why; recorded in the audit trail.' })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  reason?: string;
}
