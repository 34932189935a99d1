import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiProperty, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { CurrentPrincipal, Page, Principal, RequirePermission, ApiErrors, ErrorResponseDto, UuidParam } from '@provisio/platform';
import { ConnectorsService, ReEncryptionDto } from './connectors.service';
import {
  ConnectionTestDto,
  ConnectorDto,
  ConnectorPageDto,
  ConnectorSchemaDto,
  CreateConnectorDto,
  ListConnectorsQueryDto,
  PreviewDto,
  PreviewRequestDto,
  ReEncryptRequestDto,
  UpdateConnectorDto,
} from './dtos/connector.dto';

class ReEncryptionResponseDto implements ReEncryptionDto {
  @ApiProperty({ description: 'The key the credentials are now encrypted with.' }) key_id: string;
  @ApiProperty({ description: "How many of the tenant's connectors were re-encrypted (with dry_run: would be)." }) re_encrypted: number;
  @ApiProperty() dry_run: boolean;
}

@ApiTags('connectors')
@Controller('connectors')
export class ConnectorsController {
  constructor(private readonly connectors: ConnectorsService) {}

  @Post()
  @RequirePermission(Permission.ConnectorWrite)
  @ApiOperation({ summary: 'Create a connector (config validated by its type; credentials encrypted, never returned)' })
  @ApiCreatedResponse({ type: ConnectorDto })
  @ApiErrors(409)
  create(@CurrentPrincipal() principal: Principal, @Body() body: CreateConnectorDto): Promise<ConnectorDto> {
    return this.connectors.create(principal, body);
  }

  @Get()
  @RequirePermission(Permission.ConnectorRead)
  @ApiOperation({ summary: 'Connectors, by type, status and name' })
  @ApiOkResponse({ type: ConnectorPageDto })
  @ApiErrors()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListConnectorsQueryDto): Promise<Page<ConnectorDto>> {
    return this.connectors.list(principal, query);
  }

  // Declared before the `:id` routes (another method and depth anyway; it reads first).
  @Post('credentials/re-encrypt')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ConnectorManage)
  @ApiOperation({ summary: "Re-encrypt the tenant's connector credentials with the current key (after CONNECTOR_CREDENTIALS_KEY_ID changed)" })
  @ApiOkResponse({ type: ReEncryptionResponseDto })
  @ApiErrors(409)
  reEncrypt(@CurrentPrincipal() principal: Principal, @Body() body: ReEncryptRequestDto): Promise<ReEncryptionDto> {
    return this.connectors.reEncrypt(principal, body.dry_run ?? false);
  }

  @Get(':id')
  @RequirePermission(Permission.ConnectorRead)
  @ApiOperation({ summary: 'One connector' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: ConnectorDto })
  @ApiErrors(404)
  get(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<ConnectorDto> {
    return this.connectors.get(principal, id);
  }

  @Patch(':id')
  @RequirePermission(Permission.ConnectorWrite)
  @ApiOperation({ summary: 'Change a connector (config replaced as a whole; credentials replaced, or removed with null)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: ConnectorDto })
  @ApiErrors(404, 409)
  update(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Body() body: UpdateConnectorDto): Promise<ConnectorDto> {
    return this.connectors.update(principal, id, body);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @RequirePermission(Permission.ConnectorManage)
  @ApiOperation({ summary: 'Delete a connector with its account links, hook bindings, operations and reconciliation data' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiErrors(404)
  delete(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<void> {
    return this.connectors.delete(principal, id);
  }

  @Post(':id/test')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ConnectorWrite)
  @ApiOperation({ summary: "Test the connection to the target: a failure sets status error and last_error, a success clears them" })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: ConnectionTestDto, description: 'The test ran (ok tells whether it passed).' })
  @ApiErrors(404, 409)
  test(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<ConnectionTestDto> {
    return this.connectors.test(principal, id);
  }

  @Get(':id/schema')
  @RequirePermission(Permission.ConnectorRead)
  @ApiOperation({ summary: "The target's object classes and attributes, as the connector reads them" })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: ConnectorSchemaDto })
  @ApiErrors(404, 409, 502)
  schema(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<ConnectorSchemaDto> {
    return this.connectors.schema(principal, id);
  }

  @Post(':id/preview')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ConnectorRead)
  @ApiOperation({ summary: "The account an identity (stored or inline) would get, and whether the connector's policy covers it; writes nothing" })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: PreviewDto })
  @ApiErrors(404)
  @ApiResponse({ status: 422, type: ErrorResponseDto, description: 'The mapping script threw, timed out, returned no object of attributes, or is gone (the message names it).' })
  @ApiResponse({ status: 503, type: ErrorResponseDto, description: 'The mapping script could not run now (the sandbox is full); try again.' })
  preview(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Body() body: PreviewRequestDto): Promise<PreviewDto> {
    return this.connectors.preview(principal, id, body);
  }
}
