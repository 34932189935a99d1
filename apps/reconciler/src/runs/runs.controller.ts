import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { ApiErrors, CurrentPrincipal, Page, Principal, RequirePermission, UuidParam } from '@provisio/platform';
import { ReportsService } from '../discrepancies/reports.service';
import { ReconciliationReportDto } from '../discrepancies/dtos/discrepancy.dto';
import { CreateRunDto, ListRunsQueryDto, RunDto, RunPageDto } from './dtos/run.dto';
import { RunsService } from './runs.service';

@ApiTags('reconciliation')
@Controller('reconciliation/runs')
export class RunsController {
  constructor(
    private readonly runs: RunsService,
    private readonly reports: ReportsService,
  ) {}

  @Post()
  @RequirePermission(Permission.ReconciliationWrite)
  @ApiOperation({ summary: 'Starts a reconciliation run of a connector (full or delta, optionally a dry run); 409 while another of its runs is in progress' })
  @ApiCreatedResponse({ type: RunDto })
  @ApiErrors(404, 409)
  create(@CurrentPrincipal() principal: Principal, @Body() body: CreateRunDto): Promise<RunDto> {
    return this.runs.create(principal, body);
  }

  @Get()
  @RequirePermission(Permission.ReconciliationRead)
  @ApiOperation({ summary: 'Run history, newest first, by connector, status and mode' })
  @ApiOkResponse({ type: RunPageDto })
  @ApiErrors()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListRunsQueryDto): Promise<Page<RunDto>> {
    return this.runs.list(principal, query);
  }

  @Get(':id')
  @RequirePermission(Permission.ReconciliationRead)
  @ApiOperation({ summary: 'One run with its progress (phase, processed, total, accounts/s, ETA) and guard figures' })
  @ApiOkResponse({ type: RunDto })
  @ApiErrors(404)
  get(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<RunDto> {
    return this.runs.get(principal, id);
  }

  @Get(':id/report')
  @RequirePermission(Permission.ReconciliationRead)
  @ApiOperation({ summary: "The run's ReconciliationReport" })
  @ApiOkResponse({ type: ReconciliationReportDto })
  @ApiErrors(404)
  report(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<ReconciliationReportDto> {
    return this.reports.report(principal, id);
  }

  @Post(':id/cancel')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ReconciliationWrite)
  @ApiOperation({ summary: 'Cancels a pending, running or paused run' })
  @ApiOkResponse({ type: RunDto })
  @ApiErrors(404, 409)
  cancel(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<RunDto> {
    return this.runs.cancel(principal, id);
  }

  @Post(':id/pause')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ReconciliationWrite)
  @ApiOperation({ summary: 'Pauses a running run at its next checkpoint' })
  @ApiOkResponse({ type: RunDto })
  @ApiErrors(404, 409)
  pause(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<RunDto> {
    return this.runs.pause(principal, id);
  }

  @Post(':id/resume')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ReconciliationWrite)
  @ApiOperation({ summary: 'Resumes a paused run from its checkpoint (not one the guard rail paused: approve or reject it)' })
  @ApiOkResponse({ type: RunDto })
  @ApiErrors(404, 409)
  resume(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<RunDto> {
    return this.runs.resume(principal, id);
  }

  @Post(':id/approve')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ReconciliationManage)
  @ApiOperation({ summary: 'Approves a run the guard rail paused: it goes on' })
  @ApiOkResponse({ type: RunDto })
  @ApiErrors(404, 409)
  approve(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<RunDto> {
    return this.runs.approve(principal, id);
  }

  @Post(':id/reject')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ReconciliationManage)
  @ApiOperation({ summary: 'Rejects a run the guard rail paused: it is cancelled, nothing changed' })
  @ApiOkResponse({ type: RunDto })
  @ApiErrors(404, 409)
  reject(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<RunDto> {
    return this.runs.reject(principal, id);
  }
}
