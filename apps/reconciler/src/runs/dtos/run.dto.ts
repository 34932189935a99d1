import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsNumber, IsOptional, IsUUID, Max, Min } from 'class-validator';
import { PageQueryDto } from '@provisio/platform';

export const RUN_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled', 'paused'] as const;

export class CreateRunDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  connector_id: string;

  @ApiPropertyOptional({ enum: ['full', 'delta'], default: 'full' })
  @IsOptional()
  @IsIn(['full', 'delta'])
  mode: 'full' | 'delta' = 'full';

  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @IsBoolean()
  dry_run: boolean = false;

  @ApiPropertyOptional({ minimum: 0, maximum: 100, description: "The guard rail's threshold for this run (default: the connector's, else 20)" })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(100)
  delete_threshold_percent?: number;
}

export class ListRunsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  connector_id?: string;

  @ApiPropertyOptional({ enum: RUN_STATUSES })
  @IsOptional()
  @IsIn(RUN_STATUSES)
  status?: string;

  @ApiPropertyOptional({ enum: ['full', 'delta'] })
  @IsOptional()
  @IsIn(['full', 'delta'])
  mode?: string;
}

export class RunProgressDto {
  @ApiProperty() phase: string;
  @ApiProperty() processed: number;
  @ApiPropertyOptional({ nullable: true, description: 'Accounts the target holds, when it tells' }) total: number | null;
  @ApiProperty() accounts_per_second: number;
  @ApiPropertyOptional({ nullable: true, description: "Seconds until the run ends: its reading at the rate so far, plus what came after reading in the connector's last completed run (per account); null without a total (or a previous full run's count) and while the run waits" }) eta_seconds: number | null;
  @ApiPropertyOptional({ nullable: true }) percent: number | null;
}

export class RunDto {
  @ApiProperty() id: string;
  @ApiProperty() tenant_id: string;
  @ApiProperty() connector_id: string;
  @ApiPropertyOptional({ nullable: true }) schedule_id: string | null;
  @ApiPropertyOptional({ nullable: true, description: 'The schedule occurrence the run was started for (null: started through the API)' }) scheduled_for: string | null;
  @ApiProperty({ enum: ['full', 'delta'] }) mode: string;
  @ApiProperty() dry_run: boolean;
  @ApiProperty({ enum: RUN_STATUSES }) status: string;
  @ApiProperty() started_at: string;
  @ApiPropertyOptional({ nullable: true }) completed_at: string | null;
  @ApiProperty() accounts_processed: number;
  @ApiProperty() discrepancies_found: number;
  @ApiProperty() api_calls_made: number;
  @ApiPropertyOptional({ nullable: true }) duration_seconds: number | null;
  @ApiPropertyOptional({ nullable: true }) error_message: string | null;
  @ApiPropertyOptional({ nullable: true }) pause_reason: string | null;
  @ApiPropertyOptional({ nullable: true }) delete_threshold_percent: number | null;
  @ApiPropertyOptional({ nullable: true, description: "The guard rail's figures and decision" }) guard: Record<string, unknown> | null;
  @ApiPropertyOptional({ nullable: true, description: 'The watermark the next delta starts from (completed runs)' }) watermark: string | null;
  @ApiPropertyOptional({ nullable: true, description: 'The JWT subject of who started it' }) created_by: string | null;
  @ApiProperty({ type: RunProgressDto }) progress: RunProgressDto;
}

export class RunPageDto {
  @ApiProperty({ type: [RunDto] }) items: RunDto[];
  @ApiProperty() total: number;
  @ApiProperty() limit: number;
  @ApiProperty() offset: number;
}
