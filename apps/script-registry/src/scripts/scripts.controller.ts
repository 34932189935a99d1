import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { CurrentPrincipal, Page, Principal, RequirePermission, ApiErrors, UuidParam } from '@provisio/platform';
import { ChangeStatusDto } from './dtos/change-status.dto';
import { CreateScriptDto } from './dtos/create-script.dto';
import { ListScriptsQueryDto } from './dtos/list-scripts.query';
import { ScriptDto, ScriptPageDto, ScriptSummaryDto } from './dtos/script.dto';
import { UpdateScriptDto } from './dtos/update-script.dto';
import { ScriptsService } from './scripts.service';

@ApiTags('scripts')
@Controller('scripts')
export class ScriptsController {
  constructor(private readonly scripts: ScriptsService) {}

  @Post()
  @RequirePermission(Permission.ScriptWrite)
  @ApiOperation({ summary: 'Create a script (status draft, version 1)' })
  @ApiCreatedResponse({ type: ScriptDto })
  @ApiErrors(409)
  create(@CurrentPrincipal() principal: Principal, @Body() body: CreateScriptDto): Promise<ScriptDto> {
    return this.scripts.create(principal, body);
  }

  @Get()
  @RequirePermission(Permission.ScriptRead)
  @ApiOperation({ summary: 'List scripts: filters, full-text search, sorting, pagination' })
  @ApiQuery({
    name: 'metadata',
    required: false,
    style: 'deepObject',
    explode: true,
    schema: { type: 'object', additionalProperties: { type: 'string' } },
    description: 'Metadata containment: `metadata[team]=identity`, or a JSON object `metadata={"team":"identity","tier":1}` (typed values).',
  })
  @ApiOkResponse({ type: ScriptPageDto })
  @ApiErrors()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListScriptsQueryDto): Promise<Page<ScriptSummaryDto>> {
    return this.scripts.list(principal, query);
  }

  @Get(':id')
  @RequirePermission(Permission.ScriptRead)
  @ApiOperation({ summary: 'One script, with the source of its live version' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: ScriptDto })
  @ApiErrors(404)
  get(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<ScriptDto> {
    return this.scripts.get(principal, id);
  }

  @Patch(':id')
  @RequirePermission(Permission.ScriptWrite)
  @ApiOperation({ summary: 'Change a script; a new source creates a new version' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: ScriptDto })
  @ApiErrors(404, 409)
  update(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Body() body: UpdateScriptDto): Promise<ScriptDto> {
    return this.scripts.update(principal, id, body);
  }

  @Post(':id/status')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ScriptManage)
  @ApiOperation({ summary: 'A lifecycle step: draft → active → paused/disabled → archived (409 lists the allowed ones)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: ScriptDto })
  @ApiErrors(404, 409)
  changeStatus(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Body() body: ChangeStatusDto): Promise<ScriptDto> {
    return this.scripts.changeStatus(principal, id, body);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @RequirePermission(Permission.ScriptDelete)
  @ApiOperation({ summary: 'Delete a script with its versions and routing (system scripts: 409)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiErrors(404, 409)
  delete(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<void> {
    return this.scripts.delete(principal, id);
  }
}
