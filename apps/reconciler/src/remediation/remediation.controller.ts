import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { ApiErrors, CurrentPrincipal, Page, Principal, RequirePermission, UuidParam } from '@provisio/platform';
import {
  ActionPageDto,
  BulkRemediateDto,
  BulkRemediationDto,
  IgnoreDto,
  ListActionsQueryDto,
  ListResultsQueryDto,
  ReconciliationActionDto,
  RemediateDto,
  RemediationOutcomeDto,
  RemediationResultDto,
  ResultPageDto,
} from './dtos/remediation.dto';
import { RemediationService } from './remediation.service';

@ApiTags('reconciliation')
@Controller('reconciliation')
export class RemediationController {
  constructor(private readonly remediation: RemediationService) {}

  @Post('discrepancies/remediate')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ReconciliationManage)
  @ApiOperation({ summary: 'Remediates the pending discrepancies a filter matches (run, connector, type, attribute, identity, account), each at most once; answers counts' })
  @ApiOkResponse({ type: BulkRemediationDto })
  @ApiErrors()
  bulk(@CurrentPrincipal() principal: Principal, @Body() body: BulkRemediateDto): Promise<BulkRemediationDto> {
    return this.remediation.bulk(principal, body);
  }

  @Post('discrepancies/:id/remediate')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ReconciliationWrite)
  @ApiOperation({ summary: "Remediates one discrepancy with its type's default action, or the action and direction given; dry_run answers what it would do" })
  @ApiOkResponse({ type: RemediationOutcomeDto })
  @ApiErrors(404, 409)
  remediate(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Body() body: RemediateDto): Promise<RemediationOutcomeDto> {
    return this.remediation.remediateOne(principal, id, body);
  }

  @Post('discrepancies/:id/ignore')
  @HttpCode(HttpStatus.OK)
  @RequirePermission(Permission.ReconciliationWrite)
  @ApiOperation({ summary: 'Marks a pending discrepancy ignored (audited)' })
  @ApiOkResponse({ schema: { type: 'object', properties: { discrepancy_id: { type: 'string' }, resolution_status: { type: 'string', enum: ['ignored'] }, action_id: { type: 'string' } } } })
  @ApiErrors(404, 409)
  ignore(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Body() body: IgnoreDto) {
    return this.remediation.ignore(principal, id, body.reason);
  }

  @Get('remediation-results')
  @RequirePermission(Permission.ReconciliationRead)
  @ApiOperation({ summary: 'RemediationResults by run, connector, discrepancy, operation, status, action and direction, newest first' })
  @ApiOkResponse({ type: ResultPageDto })
  @ApiErrors()
  results(@CurrentPrincipal() principal: Principal, @Query() query: ListResultsQueryDto): Promise<Page<RemediationResultDto>> {
    return this.remediation.results(principal, query);
  }

  @Get('remediation-results/:id')
  @RequirePermission(Permission.ReconciliationRead)
  @ApiOperation({ summary: 'One RemediationResult' })
  @ApiOkResponse({ type: RemediationResultDto })
  @ApiErrors(404)
  result(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<RemediationResultDto> {
    return this.remediation.result(principal, id);
  }

  @Get('actions')
  @RequirePermission(Permission.ReconciliationRead)
  @ApiOperation({ summary: 'The audit log (ReconciliationAction): remediations, dry runs, ignores and guard decisions, newest first' })
  @ApiOkResponse({ type: ActionPageDto })
  @ApiErrors()
  actions(@CurrentPrincipal() principal: Principal, @Query() query: ListActionsQueryDto): Promise<Page<ReconciliationActionDto>> {
    return this.remediation.actions(principal, query);
  }

  @Get('actions/:id')
  @RequirePermission(Permission.ReconciliationRead)
  @ApiOperation({ summary: 'One ReconciliationAction' })
  @ApiOkResponse({ type: ReconciliationActionDto })
  @ApiErrors(404)
  action(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string): Promise<ReconciliationActionDto> {
    return this.remediation.action(principal, id);
  }
}
