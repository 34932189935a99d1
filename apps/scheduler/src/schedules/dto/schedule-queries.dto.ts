import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsUUID, Max, Min } from 'class-validator';
import { SCHEDULE_STATUSES, ScheduleStatus } from '@provisio/persistence';
import { PageQueryDto } from '@provisio/platform';

export class ListSchedulesQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: SCHEDULE_STATUSES, description: 'Only schedules in this status' })
  @IsOptional()
  @IsIn(SCHEDULE_STATUSES)
  status?: ScheduleStatus;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only the schedule of this script' })
  @IsOptional()
  @IsUUID()
  script_id?: string;
}

export class OccurrencesQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 10, description: 'How many upcoming occurrences' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  count: number = 10;
}
