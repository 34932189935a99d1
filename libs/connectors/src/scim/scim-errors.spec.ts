import { ConnectorErrorCode } from '../connector-errors';
import { codeForHttpStatus, httpError, networkError, parseRetryAfter } from './scim-errors';

describe('SCIM error mapping', () => {
  it.each([
    [400, 'invalidValue', 'POST', ConnectorErrorCode.InvalidAttribute],
    [400, 'invalidPath', 'PATCH', ConnectorErrorCode.InvalidAttribute],
    [400, 'mutability', 'PATCH', ConnectorErrorCode.InvalidAttribute],
    [400, 'invalidFilter', 'GET', ConnectorErrorCode.BadRequest],
    [400, 'tooMany', 'GET', ConnectorErrorCode.BadRequest],
    [400, 'uniqueness', 'POST', ConnectorErrorCode.AlreadyExists],
    [400, 'invalidVers', 'PATCH', ConnectorErrorCode.PreconditionFailed],
    [400, undefined, 'POST', ConnectorErrorCode.BadRequest],
    [401, undefined, 'GET', ConnectorErrorCode.Unauthorized],
    [403, undefined, 'GET', ConnectorErrorCode.Forbidden],
    [404, undefined, 'DELETE', ConnectorErrorCode.NotFound],
    [409, 'uniqueness', 'POST', ConnectorErrorCode.AlreadyExists],
    [409, undefined, 'POST', ConnectorErrorCode.AlreadyExists],
    [409, undefined, 'PATCH', ConnectorErrorCode.PreconditionFailed],
    [412, undefined, 'PATCH', ConnectorErrorCode.PreconditionFailed],
    [413, undefined, 'POST', ConnectorErrorCode.BadRequest],
    [429, undefined, 'GET', ConnectorErrorCode.RateLimited],
    [500, undefined, 'GET', ConnectorErrorCode.ServerError],
    [501, undefined, 'POST', ConnectorErrorCode.Unsupported],
    [502, undefined, 'GET', ConnectorErrorCode.ServerError],
    [503, undefined, 'GET', ConnectorErrorCode.ServiceUnavailable],
    [504, undefined, 'GET', ConnectorErrorCode.Timeout],
    [302, undefined, 'GET', ConnectorErrorCode.InvalidResponse],
  ])('HTTP %i %s on %s is %s', (status, scimType, method, code) => {
    expect(codeForHttpStatus(status, scimType, method)).toBe(code);
  });

  it('reads Retry-After as seconds or as an HTTP date, at most a day', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(['0'])).toBe(0);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('99999999')).toBe(24 * 3600_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('carries Retry-After on 429 and 503 only, and the SCIM detail in the message', () => {
    const limited = httpError('SCIM GET /Users', 429, { detail: 'slow down' }, { 'retry-after': '2' }, 'GET');
    expect(limited).toMatchObject({ code: ConnectorErrorCode.RateLimited, retryAfterMs: 2000, transient: true });
    expect(limited.message).toBe('SCIM GET /Users: HTTP 429: slow down');
    expect(httpError('x', 503, undefined, { 'retry-after': '5' }, 'GET').retryAfterMs).toBe(5000);
    expect(httpError('x', 500, undefined, { 'retry-after': '5' }, 'GET').retryAfterMs).toBeUndefined();
    const invalid = httpError('SCIM POST /Users', 400, { scimType: 'invalidValue', detail: 'bad active' }, {}, 'POST');
    expect(invalid).toMatchObject({ code: ConnectorErrorCode.InvalidAttribute, transient: false, details: { targetStatus: 400 } });
    expect(invalid.message).toContain('invalidValue: bad active');
  });

  it('maps network failures', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(networkError('x', refused).code).toBe(ConnectorErrorCode.ConnectionRefused);
    const wrapped = Object.assign(new TypeError('fetch failed'), { cause: refused });
    expect(networkError('x', wrapped).code).toBe(ConnectorErrorCode.ConnectionRefused);
    const aggregate = Object.assign(new AggregateError([refused], ''), { code: 'ECONNREFUSED' });
    expect(networkError('x', aggregate).code).toBe(ConnectorErrorCode.ConnectionRefused);
    expect(networkError('x', Object.assign(new Error('t'), { code: 'UND_ERR_HEADERS_TIMEOUT' })).code).toBe(ConnectorErrorCode.Timeout);
    expect(networkError('x', Object.assign(new Error('closed'), { code: 'UND_ERR_SOCKET' })).code).toBe(ConnectorErrorCode.NetworkError);
    expect(networkError('x', Object.assign(new Error('reset'), { code: 'ECONNRESET' })).code).toBe(ConnectorErrorCode.NetworkError);
    expect(networkError('x', Object.assign(new Error('dns'), { code: 'ENOTFOUND' })).code).toBe(ConnectorErrorCode.NetworkError);
    const tls = networkError('x', Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }));
    expect(tls).toMatchObject({ code: ConnectorErrorCode.InvalidConfig, transient: false });
  });
});
