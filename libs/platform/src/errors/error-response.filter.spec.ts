import { QueryFailedError } from 'typeorm';
import type { ArgumentsHost } from '@nestjs/common';
import { ConflictError, RateLimitedError } from './domain-errors';
import { ErrorResponseFilter, toErrorResponse } from './error-response.filter';

/** Shaped like @provisio/sandbox's SandboxBusyError (this lib does not depend on the sandbox). */
class BusyError extends Error {
  readonly code = 'rate_limited' as const;
  constructor(readonly retryAfterSeconds?: number) {
    super('the sandbox is busy: 1000 runs are already waiting; try again in 3 s');
  }
}

function answer(exception: unknown) {
  const sent: { status?: number; body?: unknown; headers: Record<string, string> } = { headers: {} };
  const response = {
    headersSent: false,
    setHeader: (name: string, value: string) => void (sent.headers[name] = value),
    status(code: number) {
      sent.status = code;
      return this;
    },
    json: (body: unknown) => void (sent.body = body),
  };
  const host = { switchToHttp: () => ({ getResponse: () => response }) } as unknown as ArgumentsHost;
  new ErrorResponseFilter().catch(exception, host);
  return sent;
}

/** http-errors as body-parser raises them (status, expose, type). */
const middlewareError = (status: number, type: string, message: string, extra: object = {}) => Object.assign(new Error(message), { status, statusCode: status, expose: true, type, ...extra });

describe('toErrorResponse', () => {
  it('answers a body over the limit with 413 payload_too_large naming the limit', () => {
    expect(toErrorResponse(middlewareError(413, 'entity.too.large', 'request entity too large', { limit: 1_048_576 }))).toEqual({
      status: 413,
      code: 'payload_too_large',
      message: 'the request body is larger than the 1048576 bytes accepted',
    });
  });

  it('answers an unsupported charset with 415', () => {
    expect(toErrorResponse(middlewareError(415, 'charset.unsupported', 'unsupported charset "LATIN-9"'))).toEqual({ status: 415, code: 'unsupported_media_type', message: 'unsupported charset "LATIN-9"' });
  });

  it('keeps unexposed and 5xx middleware errors internal', () => {
    expect(toErrorResponse(Object.assign(new Error('secret'), { status: 400, expose: false }))).toEqual({ status: 500, code: 'internal', message: 'internal error' });
    expect(toErrorResponse(Object.assign(new Error('down'), { status: 503, expose: true }))).toEqual({ status: 500, code: 'internal', message: 'internal error' });
  });

  it('maps domain errors and database constraint errors', () => {
    expect(toErrorResponse(new ConflictError('taken', 'name'))).toMatchObject({ status: 409, code: 'conflict', field: 'name' });
    const unique = new QueryFailedError('INSERT', [], Object.assign(new Error('dup'), { code: '23505', constraint: 'uq_x', detail: 'Key (tenant_id, name)=(a, b) already exists.' }));
    expect(toErrorResponse(unique)).toEqual({ status: 409, code: 'conflict', message: 'already exists (uq_x)', field: 'name' });
  });

  it('answers a rate-limited error of any lib with 429 and its Retry-After', () => {
    expect(answer(new BusyError(2.2))).toEqual({
      status: 429,
      headers: { 'Retry-After': '3' },
      body: { status: 429, code: 'rate_limited', message: 'the sandbox is busy: 1000 runs are already waiting; try again in 3 s' },
    });
    expect(answer(new RateLimitedError('slow down', 7))).toMatchObject({ status: 429, headers: { 'Retry-After': '7' }, body: { code: 'rate_limited' } });
    // Without a usable figure there is no Retry-After, still a 429.
    expect(answer(new BusyError())).toMatchObject({ status: 429, headers: {} });
    expect(answer(new BusyError(Number.NaN))).toMatchObject({ status: 429, headers: {} });
    expect(answer(new ConflictError('taken'))).toMatchObject({ status: 409, headers: {} });
  });
});
