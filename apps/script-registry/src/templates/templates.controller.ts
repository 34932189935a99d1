import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { CurrentPrincipal, Page, Principal, RequirePermission, ApiErrors, UuidParam } from '@provisio/platform';
import { ScriptDto } from '../scripts/dtos/script.dto';
import { CreateTemplateDto, InstantiateTemplateDto, ListTemplatesQueryDto, TemplateDto, TemplatePageDto, UpdateTemplateDto } from './dtos/template.dto';
import { TemplatesService } from './templates.service';

@ApiTags('templates')
@Controller('templates')
export class TemplatesController {
  constructor(private readonly templates: TemplatesService) {}

  @Post()
  @RequirePermission(Permission.TemplateWrite)
  @ApiOperation({ summary: 'Create a template of the tenant (checked: placeholders annotated, compiles once filled)' })
  @ApiCreatedResponse({ type: TemplateDto })
  @ApiErrors(409)
  create(@CurrentPrincipal() principal: Principal, @Body() body: CreateTemplateDto): Promise<TemplateDto> {
    return this.templates.create(principal, body);
  }

  @Get()
  @RequirePermission(Permission.TemplateRead)
  @ApiOperation({ summary: "The tenant's templates and the system templates (system first, then by name)" })
  @ApiOkResponse({ type: TemplatePageDto })
  @ApiErrors()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListTemplatesQueryDto): Promise<Page<TemplateDto>> {
    return this.templates.list(principal, query);
  }

  @Get(':id')
  @RequirePermission(Permission.TemplateRead)
  @ApiOperation({ summary: 'One template (own or system)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: TemplateDto })
  @ApiErrors(404)
  get(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<TemplateDto> {
    return this.templates.get(principal, id);
  }

  @Patch(':id')
  @RequirePermission(Permission.TemplateWrite)
  @ApiOperation({ summary: 'Change a template of the tenant (system templates: 409)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: TemplateDto })
  @ApiErrors(404, 409)
  update(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Body() body: UpdateTemplateDto): Promise<TemplateDto> {
    return this.templates.update(principal, id, body);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @RequirePermission(Permission.TemplateWrite)
  @ApiOperation({ summary: 'Delete a template of the tenant (system templates: 409); scripts made from it keep their source' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiErrors(404, 409)
  delete(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<void> {
    return this.templates.delete(principal, id);
  }

  @Post(':id/instantiate')
  @RequirePermission(Permission.ScriptWrite)
  @ApiOperation({ summary: 'Create a script from a template: placeholders filled (as JavaScript literals), then created as POST /scripts does' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiCreatedResponse({ type: ScriptDto })
  @ApiErrors(404, 409)
  instantiate(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Body() body: InstantiateTemplateDto): Promise<ScriptDto> {
    return this.templates.instantiate(principal, id, body);
  }
}
