import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Principal } from './principal';

export const PUBLIC_ROUTE = 'provisio:public';
export const REQUIRED_PERMISSION = 'provisio:permission';

/** Health, metrics and docs only: every other endpoint is authenticated. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/** The permission an endpoint checks. A non-public endpoint without one is refused (fail closed). */
export const RequirePermission = (permission: string) => SetMetadata(REQUIRED_PERMISSION, permission);

export const CurrentPrincipal = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  return ctx.switchToHttp().getRequest<{ principal: Principal }>().principal;
});
