import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { CurrentPrincipal, Principal, RequirePermission, ApiErrors, UuidParam } from '@provisio/platform';
import { AnalyticsService } from './analytics.service';
import { AnalyticsDashboardDto, AnalyticsRangeQueryDto, DashboardQueryDto, ScriptAnalyticsDto } from './dtos/analytics.dto';

/** Read from executions, so `script_execution:read`, like the execution logs they summarise. */
@ApiTags('analytics')
@Controller()
export class AnalyticsController {
  constructor(private readonly analytics: AnalyticsService) {}

  @Get('analytics/dashboard')
  @RequirePermission(Permission.ScriptExecutionRead)
  @ApiOperation({ summary: "The tenant's scripts and executions over a range (default the last 30 days; dry runs excluded)" })
  @ApiOkResponse({ type: AnalyticsDashboardDto })
  @ApiErrors()
  dashboard(@CurrentPrincipal() principal: Principal, @Query() query: DashboardQueryDto): Promise<AnalyticsDashboardDto> {
    return this.analytics.dashboard(principal, query);
  }

  @Get('scripts/:id/analytics')
  @RequirePermission(Permission.ScriptExecutionRead)
  @ApiOperation({ summary: "One script's executions over a range: success rate, average and p95 duration, daily trends, top errors" })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: ScriptAnalyticsDto })
  @ApiErrors(404)
  script(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Query() query: AnalyticsRangeQueryDto): Promise<ScriptAnalyticsDto> {
    return this.analytics.script(principal, id, query);
  }
}
