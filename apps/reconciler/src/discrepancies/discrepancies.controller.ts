import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { ApiErrors, CurrentPrincipal, Page, Principal, RequirePermission } from '@provisio/platform';
import { DiscrepancyDto, DiscrepancyPageDto, DiscrepancyTrendPointDto, ListDiscrepanciesQueryDto, TrendQueryDto } from './dtos/discrepancy.dto';
import { ReportsService } from './reports.service';

@ApiTags('reconciliation')
@Controller('reconciliation')
export class DiscrepanciesController {
  constructor(private readonly reports: ReportsService) {}

  @Get('discrepancies')
  @RequirePermission(Permission.ReconciliationRead)
  @ApiOperation({ summary: 'Discrepancies by run, connector, type, resolution status, identity, account and attribute, newest first' })
  @ApiOkResponse({ type: DiscrepancyPageDto })
  @ApiErrors()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListDiscrepanciesQueryDto): Promise<Page<DiscrepancyDto>> {
    return this.reports.list(principal, query);
  }

  @Get('trends')
  @RequirePermission(Permission.ReconciliationRead)
  @ApiOperation({ summary: 'DiscrepancyTrendPoint per day (UTC), optionally of one connector' })
  @ApiOkResponse({ type: [DiscrepancyTrendPointDto] })
  @ApiErrors()
  trends(@CurrentPrincipal() principal: Principal, @Query() query: TrendQueryDto): Promise<DiscrepancyTrendPointDto[]> {
    return this.reports.trends(principal, query);
  }
}
