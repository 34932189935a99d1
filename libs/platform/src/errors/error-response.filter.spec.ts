import { QueryFailedError } from 'typeorm';
import { ConflictError } from './domain-errors';
import { toErrorResponse } from './error-response.filter';

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
});
