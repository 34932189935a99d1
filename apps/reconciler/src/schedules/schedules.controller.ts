import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { ApiErrors, CurrentPrincipal, Page, Principal, RequirePermission, UuidParam } from '@provisio/platform';
import { CreateScheduleDto, ListSchedulesQueryDto, OccurrencesDto, OccurrencesQueryDto, ScheduleDto, SchedulePageDto, UpdateScheduleDto } from './dtos/schedule.dto';
import { SchedulesService } from './schedules.service';

/**
 * Reconciliation schedules. Reading needs `reconciliation:read`; writing needs `reconciliation:manage`:
 * a schedule starts runs later with no caller (and, once remediation applies, changes targets unattended),
 * so it is standing configuration like the connector's reconciliation settings, not a one-off run
 * (`reconciliation:write`).
 */
@ApiTags('reconciliation')
@Controller('reconciliation/schedules')
export class SchedulesController {
  constructor(private readonly schedules: SchedulesService) {}

  @Post()
  @RequirePermission(Permission.ReconciliationManage)
  @ApiOperation({ summary: "Creates a connector's reconciliation schedule (one per connector); next_run_at is its first occurrence after now, in UTC" })
  @ApiCreatedResponse({ type: ScheduleDto })
  @ApiErrors(404, 409)
  create(@CurrentPrincipal() principal: Principal, @Body() body: CreateScheduleDto): Promise<ScheduleDto> {
    return this.schedules.create(principal, body);
  }

  @Get()
  @RequirePermission(Permission.ReconciliationRead)
  @ApiOperation({ summary: 'Reconciliation schedules, newest first, by connector, frequency and enabled' })
  @ApiOkResponse({ type: SchedulePageDto })
  @ApiErrors()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListSchedulesQueryDto): Promise<Page<ScheduleDto>> {
    return this.schedules.list(principal, query);
  }

  @Get(':id')
  @RequirePermission(Permission.ReconciliationRead)
  @ApiOperation({ summary: 'One reconciliation schedule, with next_run_at, last_run_at and what became of its last occurrence' })
  @ApiOkResponse({ type: ScheduleDto })
  @ApiErrors(404)
  get(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<ScheduleDto> {
    return this.schedules.get(principal, id);
  }

  @Get(':id/occurrences')
  @RequirePermission(Permission.ReconciliationRead)
  @ApiOperation({ summary: 'The next `count` (1–100) occurrences after now, in UTC, as the scheduler will fire them' })
  @ApiOkResponse({ type: OccurrencesDto })
  @ApiErrors(404)
  occurrences(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Query() query: OccurrencesQueryDto): Promise<OccurrencesDto> {
    return this.schedules.occurrences(principal, id, query.count);
  }

  @Patch(':id')
  @RequirePermission(Permission.ReconciliationManage)
  @ApiOperation({ summary: 'Changes a schedule; next_run_at is computed again from now. Fields the frequency does not use are cleared' })
  @ApiOkResponse({ type: ScheduleDto })
  @ApiErrors(404)
  update(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Body() body: UpdateScheduleDto): Promise<ScheduleDto> {
    return this.schedules.update(principal, id, body);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @RequirePermission(Permission.ReconciliationManage)
  @ApiOperation({ summary: 'Deletes a schedule (its runs stay, with schedule_id NULL)' })
  @ApiNoContentResponse()
  @ApiErrors(404)
  async delete(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<void> {
    await this.schedules.delete(principal, id);
  }

  @Post(':id/enable')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ReconciliationManage)
  @ApiOperation({ summary: 'Enables a schedule: it fires from its first occurrence after now (what was missed while disabled never fires)' })
  @ApiOkResponse({ type: ScheduleDto })
  @ApiErrors(404)
  enable(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<ScheduleDto> {
    return this.schedules.setEnabled(principal, id, true);
  }

  @Post(':id/disable')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ReconciliationManage)
  @ApiOperation({ summary: 'Disables a schedule: nothing fires, next_run_at is null' })
  @ApiOkResponse({ type: ScheduleDto })
  @ApiErrors(404)
  disable(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<ScheduleDto> {
    return this.schedules.setEnabled(principal, id, false);
  }
}
