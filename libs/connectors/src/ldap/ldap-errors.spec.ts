import { ConstraintViolationError, InvalidCredentialsError, NoSuchObjectError, UnavailableError } from 'ldapts';
import { ConnectorErrorCode } from '../connector-errors';
import { codeForResult, toConnectorError } from './ldap-errors';
import { toLdapFilter } from './ldap-filter';

describe('LDAP result codes → ConnectorErrorCode', () => {
  it.each([
    [51, ConnectorErrorCode.RateLimited, 'transient'],
    [52, ConnectorErrorCode.ServiceUnavailable, 'transient'],
    [80, ConnectorErrorCode.ServerError, 'transient'],
    [3, ConnectorErrorCode.Timeout, 'transient'],
    [19, ConnectorErrorCode.ConstraintViolation, 'permanent'],
    [21, ConnectorErrorCode.InvalidAttribute, 'permanent'],
    [17, ConnectorErrorCode.InvalidAttribute, 'permanent'],
    [65, ConnectorErrorCode.InvalidAttribute, 'permanent'],
    [68, ConnectorErrorCode.AlreadyExists, 'permanent'],
    [32, ConnectorErrorCode.NotFound, 'permanent'],
    [49, ConnectorErrorCode.Unauthorized, 'permanent'],
    [50, ConnectorErrorCode.Forbidden, 'permanent'],
    [53, ConnectorErrorCode.BadRequest, 'permanent'],
    [12, ConnectorErrorCode.Unsupported, 'permanent'],
  ])('result %i is %s (%s)', (resultCode, code, errorClass) => {
    expect(codeForResult(resultCode)).toBe(code);
    expect(toConnectorError(Object.assign(new ConstraintViolationError('x'), { code: resultCode }), 'op')).toMatchObject({ code, errorClass });
  });

  it('maps ldapts result errors with their code as targetStatus', () => {
    const cases: Array<[Error, ConnectorErrorCode]> = [
      [new NoSuchObjectError('gone'), ConnectorErrorCode.NotFound],
      [new InvalidCredentialsError('no'), ConnectorErrorCode.Unauthorized],
      [new ConstraintViolationError('no'), ConnectorErrorCode.ConstraintViolation],
      [new UnavailableError('down'), ConnectorErrorCode.ServiceUnavailable],
    ];
    for (const [error, code] of cases) {
      const mapped = toConnectorError(error, 'op');
      expect(mapped.code).toBe(code);
      expect(mapped.details.targetStatus).toEqual(expect.any(Number));
    }
  });

  it('maps socket and TLS failures', () => {
    const errno = (code: string) => Object.assign(new Error(code), { code });
    expect(toConnectorError(errno('ECONNREFUSED'), 'op')).toMatchObject({ code: ConnectorErrorCode.ConnectionRefused, errorClass: 'transient' });
    expect(toConnectorError(errno('ECONNRESET'), 'op').code).toBe(ConnectorErrorCode.NetworkError);
    expect(toConnectorError(errno('ETIMEDOUT'), 'op').code).toBe(ConnectorErrorCode.Timeout);
    expect(toConnectorError(new Error('Connection timeout'), 'op').code).toBe(ConnectorErrorCode.Timeout);
    expect(toConnectorError(new Error('SearchRequest: Operation timed out'), 'op').code).toBe(ConnectorErrorCode.Timeout);
    expect(toConnectorError(errno('DEPTH_ZERO_SELF_SIGNED_CERT'), 'op')).toMatchObject({ code: ConnectorErrorCode.InvalidConfig, errorClass: 'permanent' });
  });
});

describe('SearchFilter → LDAP filter', () => {
  it('escapes values per RFC 4515 and never parses them', () => {
    const filter = toLdapFilter({ op: 'and', filters: [{ op: 'eq', attribute: 'uid', value: '*)(uid=*' }, { op: 'eq', attribute: 'cn', value: 'nul\u0000\\' }] });
    expect(filter.toString()).toBe('(&(uid=\\2a\\29\\28uid=\\2a)(cn=nul\\00\\5c))');
  });

  it('refuses attribute names that are not names', () => {
    expect(() => toLdapFilter({ op: 'present', attribute: 'uid)(x' })).toThrow(expect.objectContaining({ code: ConnectorErrorCode.InvalidAttribute }));
  });
});
