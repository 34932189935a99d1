import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { hasPermission } from '@provisio/contracts';
import { ForbiddenError, UnauthenticatedError } from '../errors/domain-errors';
import { PUBLIC_ROUTE, REQUIRED_PERMISSION } from './decorators';
import type { Principal } from './principal';
import { TokenVerifier } from './token-verifier';

/** Global guard: authenticates every request and checks the permission its endpoint declares. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(TokenVerifier) private readonly verifier: TokenVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;

    const request = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; principal?: Principal }>();
    const header = request.headers.authorization;
    if (!header?.startsWith('Bearer ')) throw new UnauthenticatedError('missing bearer token');
    const principal = await this.verifier.verify(header.slice('Bearer '.length).trim());
    request.principal = principal;

    const permission = this.reflector.getAllAndOverride<string>(REQUIRED_PERMISSION, targets);
    if (!permission) throw new ForbiddenError('this endpoint declares no permission');
    if (!hasPermission(principal.permissions, permission)) throw new ForbiddenError(`missing permission ${permission}`);
    return true;
  }
}
