import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { CurrentPrincipal, Page, Principal, RequirePermission, ApiErrors, UuidParam } from '@provisio/platform';
import { ExecutionLogDetailDto, ExecutionLogDto, ExecutionLogPageDto, ListExecutionLogsQueryDto } from './dtos/execution-log.dto';
import { ExecutionLogsService } from './execution-logs.service';

@ApiTags('execution-logs')
@Controller('execution-logs')
export class ExecutionLogsController {
  constructor(private readonly logs: ExecutionLogsService) {}

  @Get()
  @RequirePermission(Permission.ScriptExecutionRead)
  @ApiOperation({ summary: 'Finished executions, newest first: by script, binding, connector, status, dry run and time' })
  @ApiOkResponse({ type: ExecutionLogPageDto })
  @ApiErrors()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListExecutionLogsQueryDto): Promise<Page<ExecutionLogDto>> {
    return this.logs.list(principal, query);
  }

  @Get(':id')
  @RequirePermission(Permission.ScriptExecutionRead)
  @ApiOperation({ summary: 'One execution log, with the lines the script wrote' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: ExecutionLogDetailDto })
  @ApiErrors(404)
  get(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<ExecutionLogDetailDto> {
    return this.logs.get(principal, id);
  }
}
