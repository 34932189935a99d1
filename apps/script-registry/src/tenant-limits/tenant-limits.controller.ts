import { Body, Controller, Get, Put, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Permission } from '@provisio/contracts';
import { CurrentPrincipal, Principal, RequirePermission, ApiErrors } from '@provisio/platform';
import { NoQueryDto, SetTenantLimitsDto, TenantLimitsDto } from './dtos/tenant-limits.dto';
import { TenantLimitsService } from './tenant-limits.service';

/** The caps of the caller's tenant: read with `script:read` (writers need to know them), set with `tenant:manage`. */
@ApiTags('tenant limits')
@Controller('tenant/limits')
export class TenantLimitsController {
  constructor(private readonly limits: TenantLimitsService) {}

  @Get()
  @RequirePermission(Permission.ScriptRead)
  @ApiOperation({ summary: "The caps on the tenant's scripts' resource limits (set or default)" })
  @ApiOkResponse({ type: TenantLimitsDto })
  @ApiErrors()
  get(@CurrentPrincipal() principal: Principal, @Query() _query: NoQueryDto): Promise<TenantLimitsDto> {
    return this.limits.get(principal);
  }

  @Put()
  @RequirePermission(Permission.TenantManage)
  @ApiOperation({ summary: "Sets the caps (an administrator's): keys left out take their defaults. Existing scripts are held to them at run time." })
  @ApiOkResponse({ type: TenantLimitsDto })
  @ApiErrors()
  set(@CurrentPrincipal() principal: Principal, @Body() body: SetTenantLimitsDto): Promise<TenantLimitsDto> {
    return this.limits.set(principal, body);
  }
}
