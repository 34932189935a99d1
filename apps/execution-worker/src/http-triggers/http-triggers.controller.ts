import { All, Body, Controller, Headers, Param, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Permission } from '@provisio/contracts';
import { CurrentPrincipal, Principal, RequirePermission } from '@provisio/platform';
import { HttpTriggersService } from './http-triggers.service';

/** `/http/<path>` runs the caller's tenant's HTTP-triggered script registered at `/<path>`. */
@ApiTags('http-triggered scripts')
@Controller('http')
export class HttpTriggersController {
  constructor(private readonly triggers: HttpTriggersService) {}

  @All('*path')
  @ApiOperation({ summary: 'Run the HTTP-triggered script registered at this path (tenant from the token)' })
  @RequirePermission(Permission.ScriptExecute)
  async run(
    @CurrentPrincipal() principal: Principal,
    @Param('path') path: string[] | string,
    @Query() query: Record<string, unknown>,
    @Headers() headers: Record<string, string>,
    @Body() body: unknown,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    const answer = await this.triggers.handle({
      tenantId: principal.tenantId,
      actor: principal.subject,
      permissions: principal.permissions,
      method: request.method.toUpperCase(),
      path: `/${(Array.isArray(path) ? path : [path]).join('/')}`,
      query,
      headers,
      body,
    });
    response.status(answer.status).set(answer.headers).setHeader('x-provisio-execution-id', answer.executionId);
    if (typeof answer.body === 'string') response.send(answer.body);
    else response.json(answer.body);
  }
}
