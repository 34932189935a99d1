import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { ApiErrors, CurrentPrincipal, Page, Principal, RequirePermission, UuidParam } from '@provisio/platform';
import { ConflictsService } from './conflicts/conflicts.service';
import {
  BulkRetryDto,
  BulkRetryResultDto,
  ConflictDto,
  ConflictPageDto,
  ConnectorStatisticsDto,
  CreateOperationDto,
  ListConflictsQueryDto,
  ListOperationsQueryDto,
  OperationDetailDto,
  OperationDto,
  OperationPageDto,
  ResolveConflictDto,
  ResolveOperationDto,
  RetryOperationDto,
  StatisticsQueryDto,
  TenantStatisticsDto,
} from './dtos/operation.dto';
import { OperationsService } from './operations.service';

@ApiTags('operations')
@Controller()
export class OperationsController {
  constructor(
    private readonly operations: OperationsService,
    private readonly conflicts: ConflictsService,
  ) {}

  @Get('operations')
  @RequirePermission(Permission.ProvisioningRead)
  @ApiOperation({ summary: 'Operations, filtered by status, connector, user, type and creation time, newest first' })
  @ApiOkResponse({ type: OperationPageDto })
  @ApiErrors()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListOperationsQueryDto): Promise<Page<OperationDto>> {
    return this.operations.list(principal, query);
  }

  @Post('operations')
  @RequirePermission(Permission.ProvisioningWrite)
  @ApiOperation({ summary: "An operator's operation on a connector (create, update, enable/disable, delete)" })
  @ApiCreatedResponse({ type: OperationDto })
  @ApiErrors(404)
  create(@CurrentPrincipal() principal: Principal, @Body() body: CreateOperationDto): Promise<OperationDto> {
    return this.operations.create(principal, body);
  }

  @Get('operations/dead-letters')
  @RequirePermission(Permission.ProvisioningRead)
  @ApiOperation({ summary: 'The dead-letter queue: dead-lettered operations, newest first' })
  @ApiOkResponse({ type: OperationPageDto })
  @ApiErrors()
  deadLetters(@CurrentPrincipal() principal: Principal, @Query() query: ListOperationsQueryDto): Promise<Page<OperationDto>> {
    return this.operations.deadLetters(principal, query);
  }

  @Get('operations/statistics')
  @RequirePermission(Permission.ProvisioningRead)
  @ApiOperation({ summary: "QueueStatistics of the tenant, and of each connector with its circuit's state" })
  @ApiOkResponse({ type: TenantStatisticsDto })
  @ApiErrors()
  statistics(@CurrentPrincipal() principal: Principal, @Query() query: StatisticsQueryDto): Promise<TenantStatisticsDto> {
    return this.operations.statistics(principal, query.connector_id);
  }

  @Post('operations/retry')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ProvisioningManage)
  @ApiOperation({ summary: "Retry every operation matching a filter (default: dead letters), at most `limit`; hooks at the versions they ran at (default) or the live ones" })
  @ApiOkResponse({ type: BulkRetryResultDto })
  @ApiErrors()
  bulkRetry(@CurrentPrincipal() principal: Principal, @Body() body: BulkRetryDto): Promise<BulkRetryResultDto> {
    return this.operations.bulkRetry(principal, body);
  }

  @Get('operations/:id')
  @RequirePermission(Permission.ProvisioningRead)
  @ApiOperation({ summary: 'One operation with its attempts and its log' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: OperationDetailDto })
  @ApiErrors(404)
  get(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<OperationDetailDto> {
    return this.operations.get(principal, id);
  }

  @Post('operations/:id/retry')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ProvisioningWrite)
  @ApiOperation({ summary: "Retry a failed operation now, or a dead letter with its retries renewed; its hooks at the versions they ran at (default) or the live ones" })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: OperationDto })
  @ApiErrors(404, 409)
  retry(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Body() body: RetryOperationDto): Promise<OperationDto> {
    return this.operations.retry(principal, id, body);
  }

  @Post('operations/:id/cancel')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ProvisioningWrite)
  @ApiOperation({ summary: 'Cancel an operation that has not started (pending, failed awaiting its retry, awaiting_system)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: OperationDto })
  @ApiErrors(404, 409)
  cancel(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<OperationDto> {
    return this.operations.cancel(principal, id);
  }

  @Post('operations/:id/resolve')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ProvisioningManage)
  @ApiOperation({ summary: 'Resolve a dead letter (settled outside Provisio), with notes' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: OperationDto })
  @ApiErrors(404, 409)
  resolve(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Body() body: ResolveOperationDto): Promise<OperationDto> {
    return this.operations.resolve(principal, id, body.notes);
  }

  @Get('connectors/:id/operations/statistics')
  @RequirePermission(Permission.ProvisioningRead)
  @ApiOperation({ summary: "QueueStatistics of one connector, with its circuit's state" })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: ConnectorStatisticsDto })
  @ApiErrors(404)
  connectorStatistics(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<ConnectorStatisticsDto> {
    return this.operations.connectorStatistics(principal, id);
  }

  @Get('conflicts')
  @RequirePermission(Permission.ProvisioningRead)
  @ApiOperation({ summary: 'Conflicts between operations of one account' })
  @ApiOkResponse({ type: ConflictPageDto })
  @ApiErrors()
  listConflicts(@CurrentPrincipal() principal: Principal, @Query() query: ListConflictsQueryDto): Promise<Page<ConflictDto>> {
    return this.conflicts.list(principal, query);
  }

  @Post('conflicts/:id/resolve')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ProvisioningManage)
  @ApiOperation({ summary: 'Resolve a pending conflict: applied, merged (both run in order), superseded (cancel the earlier), rejected (cancel the later)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: ConflictDto })
  @ApiErrors(404, 409)
  resolveConflict(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Body() body: ResolveConflictDto): Promise<ConflictDto> {
    return this.conflicts.resolve(principal, id, body);
  }
}
