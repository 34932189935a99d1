import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { QueryFailedError } from 'typeorm';
import { DomainError, ErrorCode, assertUnreachable, isRateLimited, retryAfterOf } from './domain-errors';
import { describeDataError, isDataError } from '../storable/data-errors';

/** The one error shape every service answers with. */
export interface ErrorResponse {
  status: number;
  code: string;
  message: string;
  field?: string;
  details?: Record<string, unknown>;
}

export function statusOf(code: ErrorCode): number {
  switch (code) {
    case 'validation_failed':
      return HttpStatus.BAD_REQUEST;
    case 'unauthenticated':
      return HttpStatus.UNAUTHORIZED;
    case 'forbidden':
      return HttpStatus.FORBIDDEN;
    case 'not_found':
      return HttpStatus.NOT_FOUND;
    case 'conflict':
    case 'invalid_transition':
      return HttpStatus.CONFLICT;
    case 'payload_too_large':
      return HttpStatus.PAYLOAD_TOO_LARGE;
    case 'rate_limited':
      return HttpStatus.TOO_MANY_REQUESTS;
    case 'method_not_allowed':
      return HttpStatus.METHOD_NOT_ALLOWED;
    case 'script_failed':
      // The gateway (Provisio) is fine; what it called (the tenant's script) failed.
      return HttpStatus.BAD_GATEWAY;
    case 'internal':
      return HttpStatus.INTERNAL_SERVER_ERROR;
    default:
      return assertUnreachable(code);
  }
}

const HTTP_CODES: Record<number, string> = {
  400: 'validation_failed',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

/** PostgreSQL errors a request can cause, reported as what they mean rather than as a 500. */
function fromDatabase(error: QueryFailedError): ErrorResponse | undefined {
  const driverError = error.driverError as { code?: string; constraint?: string; column?: string; detail?: string };
  switch (driverError.code) {
    case '23505':
      return { status: 409, code: 'conflict', message: `already exists (${driverError.constraint ?? 'unique constraint'})`, field: fieldFromDetail(driverError.detail) };
    case '23503':
      return { status: 400, code: 'validation_failed', message: `refers to something that does not exist (${driverError.constraint ?? 'foreign key'})`, field: fieldFromDetail(driverError.detail) };
    case '23514':
    case '23502':
    case '22P02':
    case '22001':
      return { status: 400, code: 'validation_failed', message: `invalid value (${driverError.constraint ?? driverError.column ?? driverError.code})`, field: driverError.column };
    default:
      // Any other data exception (class 22) or constraint (class 23) is about the request's values, not the server.
      if (isDataError(error)) return { status: 400, code: 'validation_failed', message: `invalid value: ${describeDataError(error, 300)}`, ...(driverError.column ? { field: driverError.column } : {}) };
      return undefined;
  }
}

/**
 * Errors of Express middleware (body-parser) follow the http-errors convention: a 4xx `status` and
 * `expose: true` when the message is meant for the client (body too large, not JSON, bad charset).
 */
function fromHttpError(error: unknown): ErrorResponse | undefined {
  const e = error as { status?: unknown; expose?: unknown; type?: unknown; message?: unknown; limit?: unknown };
  if (typeof e?.status !== 'number' || e.status < 400 || e.status >= 500 || e.expose !== true) return undefined;
  const message = e.type === 'entity.too.large' ? `the request body is larger than the ${typeof e.limit === 'number' ? `${e.limit} bytes` : 'limit'} accepted` : String(e.message);
  return { status: e.status, code: HTTP_CODES[e.status] ?? 'error', message };
}

function fieldFromDetail(detail?: string): string | undefined {
  const match = detail?.match(/^Key \(([^)]+)\)/);
  return match?.[1]?.split(',').pop()?.trim();
}

export function toErrorResponse(exception: unknown): ErrorResponse {
  if (exception instanceof DomainError) {
    return {
      status: statusOf(exception.code),
      code: exception.code,
      message: exception.message,
      ...(exception.field ? { field: exception.field } : {}),
      ...(exception.details ? { details: exception.details } : {}),
    };
  }
  if (isRateLimited(exception)) return { status: HttpStatus.TOO_MANY_REQUESTS, code: 'rate_limited', message: exception.message };
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const body = exception.getResponse();
    const fromBody = typeof body === 'object' && body !== null ? (body as Partial<ErrorResponse>) : {};
    return {
      status,
      code: fromBody.code ?? HTTP_CODES[status] ?? (status >= 500 ? 'internal' : 'error'),
      message: typeof body === 'string' ? body : String(fromBody.message ?? exception.message),
      ...(fromBody.field ? { field: fromBody.field } : {}),
    };
  }
  if (exception instanceof QueryFailedError) {
    const mapped = fromDatabase(exception);
    if (mapped) return mapped;
  }
  const fromMiddleware = fromHttpError(exception);
  if (fromMiddleware) return fromMiddleware;
  return { status: 500, code: 'internal', message: 'internal error' };
}

@Catch()
export class ErrorResponseFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const body = toErrorResponse(exception);
    if (body.status >= 500) this.logger.error(exception instanceof Error ? exception.stack ?? exception.message : String(exception));
    if (response.headersSent) return;
    const retryAfter = retryAfterOf(exception);
    if (retryAfter !== undefined) response.setHeader('Retry-After', String(retryAfter));
    response.status(body.status).json(body);
  }
}
