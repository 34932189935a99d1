import { Controller, Get, HttpCode, HttpStatus, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { CurrentPrincipal, Principal, RequirePermission, ValidationError } from '@provisio/platform';
import { ListSchedulesQueryDto, OccurrencesQueryDto } from './dto/schedule-queries.dto';
import { ErrorDto, OccurrencesDto, ScheduleDto, SchedulePageDto, TriggerAcceptedDto } from './dto/schedule-responses.dto';
import { SchedulesService } from './schedules.service';

const scheduleId = new ParseUUIDPipe({ exceptionFactory: () => new ValidationError('id must be a UUID', 'id') });

/** Cron schedules of scripts: read them, see what comes next, run one now, pause and resume. */
@ApiTags('schedules')
@ApiUnauthorizedResponse({ type: ErrorDto, description: 'No valid bearer token' })
@ApiForbiddenResponse({ type: ErrorDto, description: 'The token lacks the permission' })
@Controller('schedules')
export class SchedulesController {
  constructor(private readonly schedules: SchedulesService) {}

  @Get()
  @RequirePermission(Permission.ScriptScheduleRead)
  @ApiOperation({ summary: 'List the tenant’s schedules', description: 'Newest first; filter by status and script_id.' })
  @ApiOkResponse({ type: SchedulePageDto })
  @ApiBadRequestResponse({ type: ErrorDto })
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListSchedulesQueryDto): Promise<SchedulePageDto> {
    return this.schedules.list(principal.tenantId, query);
  }

  @Get(':id')
  @RequirePermission(Permission.ScriptScheduleRead)
  @ApiOperation({ summary: 'Read one schedule, with its run statistics' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: ScheduleDto })
  @ApiNotFoundResponse({ type: ErrorDto })
  get(@CurrentPrincipal() principal: Principal, @Param('id', scheduleId) id: string): Promise<ScheduleDto> {
    return this.schedules.get(principal.tenantId, id);
  }

  @Get(':id/occurrences')
  @RequirePermission(Permission.ScriptScheduleRead)
  @ApiOperation({ summary: 'Upcoming occurrences', description: 'The next `count` (≤ 100) occurrences after now, in UTC and in the schedule’s time zone, daylight saving applied.' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: OccurrencesDto })
  @ApiBadRequestResponse({ type: ErrorDto })
  @ApiNotFoundResponse({ type: ErrorDto })
  @ApiConflictResponse({ type: ErrorDto, description: 'The stored schedule cannot be evaluated' })
  occurrences(@CurrentPrincipal() principal: Principal, @Param('id', scheduleId) id: string, @Query() query: OccurrencesQueryDto): Promise<OccurrencesDto> {
    return this.schedules.upcoming(principal.tenantId, id, query.count);
  }

  @Post(':id/trigger')
  @HttpCode(HttpStatus.ACCEPTED)
  @RequirePermission(Permission.ScriptScheduleWrite)
  @ApiOperation({
    summary: 'Run the scheduled script now',
    description: 'Emits an execution request (trigger_type manual, trigger_data.schedule_id) through the outbox. Does not move next_run_at or count as an occurrence.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiAcceptedResponse({ type: TriggerAcceptedDto })
  @ApiNotFoundResponse({ type: ErrorDto })
  @ApiConflictResponse({ type: ErrorDto, description: 'The script is not active' })
  trigger(@CurrentPrincipal() principal: Principal, @Param('id', scheduleId) id: string): Promise<TriggerAcceptedDto> {
    return this.schedules.trigger(principal, id);
  }

  @Post(':id/pause')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ScriptScheduleWrite)
  @ApiOperation({ summary: 'Pause the schedule', description: 'An active schedule stops firing; its statistics are kept.' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: ScheduleDto })
  @ApiNotFoundResponse({ type: ErrorDto })
  @ApiConflictResponse({ type: ErrorDto, description: 'The schedule is not active' })
  pause(@CurrentPrincipal() principal: Principal, @Param('id', scheduleId) id: string): Promise<ScheduleDto> {
    return this.schedules.pause(principal, id);
  }

  @Post(':id/resume')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ScriptScheduleWrite)
  @ApiOperation({ summary: 'Resume a paused or disabled schedule', description: 'It fires again from its next occurrence after now; missed occurrences do not fire. The failure streak restarts.' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: ScheduleDto })
  @ApiNotFoundResponse({ type: ErrorDto })
  @ApiConflictResponse({ type: ErrorDto, description: 'The schedule is already active' })
  resume(@CurrentPrincipal() principal: Principal, @Param('id', scheduleId) id: string): Promise<ScheduleDto> {
    return this.schedules.resume(principal, id);
  }
}
