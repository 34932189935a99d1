import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { CurrentPrincipal, Page, PageQueryDto, Principal, RequirePermission, ApiErrors, UuidParam } from '@provisio/platform';
import { AccountLinkDto, AccountLinkPageDto, CreateIdentityDto, IdentityDto, IdentityPageDto, ListIdentitiesQueryDto, UpdateIdentityDto } from './dtos/identity.dto';
import { IdentitiesService } from './identities.service';

@ApiTags('identities')
@Controller('identities')
export class IdentitiesController {
  constructor(private readonly identities: IdentitiesService) {}

  @Post()
  @RequirePermission(Permission.IdentityWrite)
  @ApiOperation({ summary: 'Create an identity (identities kept from domain events have a source_user_id)' })
  @ApiCreatedResponse({ type: IdentityDto })
  @ApiErrors(409)
  create(@CurrentPrincipal() principal: Principal, @Body() body: CreateIdentityDto): Promise<IdentityDto> {
    return this.identities.create(principal, body);
  }

  @Get()
  @RequirePermission(Permission.IdentityRead)
  @ApiOperation({ summary: 'Identities, filtered by status, username, email, source user, attributes and change time' })
  @ApiOkResponse({ type: IdentityPageDto })
  @ApiErrors()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListIdentitiesQueryDto): Promise<Page<IdentityDto>> {
    return this.identities.list(principal, query);
  }

  @Get(':id')
  @RequirePermission(Permission.IdentityRead)
  @ApiOperation({ summary: 'One identity' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: IdentityDto })
  @ApiErrors(404)
  get(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<IdentityDto> {
    return this.identities.get(principal, id);
  }

  @Patch(':id')
  @RequirePermission(Permission.IdentityWrite)
  @ApiOperation({ summary: 'Change an identity (attributes merge key by key; null removes a key)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: IdentityDto })
  @ApiErrors(404, 409)
  update(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Body() body: UpdateIdentityDto): Promise<IdentityDto> {
    return this.identities.update(principal, id, body);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @RequirePermission(Permission.IdentityManage)
  @ApiOperation({ summary: 'Remove an identity and its account links (accounts in the targets are left as they are)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiNoContentResponse({ description: 'Removed.' })
  @ApiErrors(404)
  delete(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<void> {
    return this.identities.delete(principal, id);
  }

  @Get(':id/accounts')
  @RequirePermission(Permission.IdentityRead)
  @ApiOperation({ summary: "The identity's accounts in target systems (its account_links)" })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: AccountLinkPageDto })
  @ApiErrors(404)
  accounts(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Query() query: PageQueryDto): Promise<Page<AccountLinkDto>> {
    return this.identities.accounts(principal, id, query);
  }
}
