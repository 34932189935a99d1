import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { ApiErrors, CurrentPrincipal, Principal, RequirePermission, UuidParam } from '@provisio/platform';
import { ExecutionDetailDto, ExecutionDto, ExecutionPageDto, GetExecutionQueryDto, ListExecutionsQueryDto, RunScriptDto } from './dtos/execution.dto';
import { ExecutionsService } from './executions.service';

/**
 * The header a person's tool sends (`provisio` CLI: `cli`, a console: `console`): its runs are `manual`,
 * every other call's `api`. It labels provenance only: the permissions checked are the same.
 */
export const CLIENT_HEADER = 'x-provisio-client';
const PERSON_CLIENTS = new Set(['cli', 'console']);

@ApiTags('executions')
@Controller()
export class ExecutionsController {
  constructor(private readonly executions: ExecutionsService) {}

  @Post('scripts/:id/executions')
  @HttpCode(202)
  @RequirePermission(Permission.ScriptExecute)
  @ApiOperation({
    summary: "Runs the script now: checks `input` against its parameters, records a pending execution and answers it; the execution worker runs it. Needs the script's required_permissions too.",
  })
  @ApiHeader({ name: CLIENT_HEADER, required: false, description: '`cli` or `console` when a person starts the run (trigger `manual`); otherwise the trigger is `api`.' })
  @ApiAcceptedResponse({ type: ExecutionDto })
  @ApiErrors(404, 409)
  run(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Body() body: RunScriptDto, @Headers(CLIENT_HEADER) client?: string): Promise<ExecutionDto> {
    return this.executions.run(principal, id, body.input ?? {}, PERSON_CLIENTS.has(String(client ?? '').toLowerCase()) ? 'manual' : 'api');
  }

  @Get('executions')
  @RequirePermission(Permission.ScriptExecutionRead)
  @ApiOperation({ summary: 'Executions of every status, newest first, with filters' })
  @ApiOkResponse({ type: ExecutionPageDto })
  @ApiErrors()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListExecutionsQueryDto) {
    return this.executions.list(principal, query);
  }

  @Get('executions/:id')
  @RequirePermission(Permission.ScriptExecutionRead)
  @ApiOperation({ summary: 'One execution with its logs; `?wait=30` waits up to that many seconds for it to finish' })
  @ApiOkResponse({ type: ExecutionDetailDto })
  @ApiErrors(404)
  get(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Query() query: GetExecutionQueryDto): Promise<ExecutionDetailDto> {
    return this.executions.get(principal, id, query.wait ?? 0);
  }

  @Post('executions/:id/cancel')
  @HttpCode(200)
  @RequirePermission(Permission.ScriptExecute)
  @ApiOperation({ summary: 'Cancels a pending or running execution (it ends `cancelled`, with who cancelled it); a finished one is 409' })
  @ApiOkResponse({ type: ExecutionDto })
  @ApiErrors(404, 409)
  cancel(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<ExecutionDto> {
    return this.executions.cancel(principal, id);
  }
}
