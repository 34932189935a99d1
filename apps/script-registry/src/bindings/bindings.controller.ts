import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { CurrentPrincipal, Page, Principal, RequirePermission, ApiErrors, UuidParam } from '@provisio/platform';
import { BindingsService } from './bindings.service';
import { BindingDto, BindingPageDto, CreateBindingDto, HookBindingsDto, ListBindingsQueryDto, ReorderBindingsDto, UpdateBindingDto } from './dtos/binding.dto';

@ApiTags('bindings')
@Controller('bindings')
export class BindingsController {
  constructor(private readonly bindings: BindingsService) {}

  @Post()
  @RequirePermission(Permission.BindingWrite)
  @ApiOperation({ summary: 'Bind an embedded script of the tenant to a connector operation (appended last in its hook)' })
  @ApiCreatedResponse({ type: BindingDto })
  @ApiErrors(404, 409)
  create(@CurrentPrincipal() principal: Principal, @Body() body: CreateBindingDto): Promise<BindingDto> {
    return this.bindings.create(principal, body);
  }

  @Get()
  @RequirePermission(Permission.BindingRead)
  @ApiOperation({ summary: 'Hook bindings, by connector, operation, phase and execution order' })
  @ApiOkResponse({ type: BindingPageDto })
  @ApiErrors()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListBindingsQueryDto): Promise<Page<BindingDto>> {
    return this.bindings.list(principal, query);
  }

  // Declared before `:id` routes; a different method anyway, but it reads first.
  @Post('reorder')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.BindingWrite)
  @ApiOperation({ summary: "Set the execution order of a hook's bindings (binding_ids lists all of them, in order)" })
  @ApiOkResponse({ type: HookBindingsDto })
  @ApiErrors(404)
  reorder(@CurrentPrincipal() principal: Principal, @Body() body: ReorderBindingsDto): Promise<HookBindingsDto> {
    return this.bindings.reorder(principal, body);
  }

  @Get(':id')
  @RequirePermission(Permission.BindingRead)
  @ApiOperation({ summary: 'One hook binding' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: BindingDto })
  @ApiErrors(404)
  get(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<BindingDto> {
    return this.bindings.get(principal, id);
  }

  @Patch(':id')
  @RequirePermission(Permission.BindingWrite)
  @ApiOperation({ summary: 'Change a binding (phase, operation, failure policy, retries, timeout, enabled)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: BindingDto })
  @ApiErrors(404, 409)
  update(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Body() body: UpdateBindingDto): Promise<BindingDto> {
    return this.bindings.update(principal, id, body);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @RequirePermission(Permission.BindingWrite)
  @ApiOperation({ summary: 'Delete a binding; the rest of its hook closes up' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiErrors(404)
  delete(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<void> {
    return this.bindings.delete(principal, id);
  }
}
