import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { CurrentPrincipal, Page, Principal, RequirePermission, ApiErrors, UuidParam } from '@provisio/platform';
import { AuditService } from './audit.service';
import { AuditEventDto, AuditPageDto } from './dtos/audit-event.dto';
import { ListAuditQueryDto, ListScriptAuditQueryDto } from './dtos/list-audit.query';

@ApiTags('audit')
@Controller()
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get('audit')
  @RequirePermission(Permission.AuditRead)
  @ApiOperation({ summary: "The tenant's audit trail, newest first" })
  @ApiOkResponse({ type: AuditPageDto })
  @ApiErrors()
  listForTenant(@CurrentPrincipal() principal: Principal, @Query() query: ListAuditQueryDto): Promise<Page<AuditEventDto>> {
    return this.audit.listForTenant(principal, query);
  }

  @Get('scripts/:id/audit')
  @RequirePermission(Permission.AuditRead)
  @ApiOperation({ summary: "A script's audit trail, newest first (kept after the script is deleted)" })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: AuditPageDto })
  @ApiErrors(404)
  listForScript(@CurrentPrincipal() principal: Principal, @Param('id', UuidParam) id: string, @Query() query: ListScriptAuditQueryDto): Promise<Page<AuditEventDto>> {
    return this.audit.listForScript(principal, id, query);
  }
}
