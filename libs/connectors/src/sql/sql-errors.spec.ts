import { ConnectorErrorCode } from '../connector-errors';
import { laterWatermark } from './sql-connector';
import { codeForMariadbErrno, codeForSqlState, toConnectorError } from './sql-errors';

describe('SQLSTATE and MariaDB errno → ConnectorErrorCode', () => {
  it.each([
    ['23505', ConnectorErrorCode.AlreadyExists],
    ['23502', ConnectorErrorCode.ConstraintViolation],
    ['23514', ConnectorErrorCode.ConstraintViolation],
    ['23503', ConnectorErrorCode.ConstraintViolation],
    ['22P02', ConnectorErrorCode.InvalidAttribute],
    ['22001', ConnectorErrorCode.InvalidAttribute],
    ['22021', ConnectorErrorCode.InvalidAttribute],
    ['40P01', ConnectorErrorCode.LockTimeout],
    ['55P03', ConnectorErrorCode.LockTimeout],
    ['57014', ConnectorErrorCode.Timeout],
    ['57P01', ConnectorErrorCode.ServiceUnavailable],
    ['53300', ConnectorErrorCode.RateLimited],
    ['28P01', ConnectorErrorCode.Unauthorized],
    ['42501', ConnectorErrorCode.Forbidden],
    ['42P01', ConnectorErrorCode.InvalidConfig],
    ['3D000', ConnectorErrorCode.InvalidConfig],
    ['42601', ConnectorErrorCode.BadRequest],
    ['XX000', ConnectorErrorCode.ServerError],
  ])('SQLSTATE %s is %s', (state, code) => {
    expect(codeForSqlState(state)).toBe(code);
    expect(toConnectorError(Object.assign(new Error('pg'), { code: state }), 'op').code).toBe(code);
  });

  it.each([
    [1062, 'HY000', ConnectorErrorCode.AlreadyExists],
    [1048, '23000', ConnectorErrorCode.ConstraintViolation],
    [4025, '23000', ConnectorErrorCode.ConstraintViolation],
    [1366, 'HY000', ConnectorErrorCode.InvalidAttribute],
    [1406, '22001', ConnectorErrorCode.InvalidAttribute],
    [1205, 'HY000', ConnectorErrorCode.LockTimeout],
    [1213, '40001', ConnectorErrorCode.LockTimeout],
    [1045, '28000', ConnectorErrorCode.Unauthorized],
    [1146, '42S02', ConnectorErrorCode.InvalidConfig],
    [1040, '08004', ConnectorErrorCode.RateLimited],
  ])('MariaDB errno %i (%s) is %s', (errno, sqlState, code) => {
    expect(codeForMariadbErrno(errno) ?? codeForSqlState(sqlState)).toBe(code);
    expect(toConnectorError(Object.assign(new Error('mariadb'), { errno, sqlState, code: 'ER_X' }), 'op').code).toBe(code);
  });

  it('maps socket failures, transient', () => {
    const errno = (code: string) => Object.assign(new Error(code), { code });
    expect(toConnectorError(errno('ECONNREFUSED'), 'op')).toMatchObject({ code: ConnectorErrorCode.ConnectionRefused, errorClass: 'transient' });
    expect(toConnectorError(errno('PROTOCOL_CONNECTION_LOST'), 'op').code).toBe(ConnectorErrorCode.NetworkError);
    expect(toConnectorError(new Error('timeout exceeded when trying to connect'), 'op').code).toBe(ConnectorErrorCode.Timeout);
    // pg reports every address it tried in an AggregateError
    expect(toConnectorError(Object.assign(new Error(''), { errors: [errno('ECONNREFUSED')] }), 'op').code).toBe(ConnectorErrorCode.ConnectionRefused);
  });
});

describe('delta watermarks', () => {
  it('move forward only, and keep microseconds when there is no overlap', () => {
    expect(laterWatermark(null, '2026-12-03T12:00:00.123456Z', 0)).toBe('2026-12-03T12:00:00.123456Z');
    expect(laterWatermark('2026-12-03T12:00:00.123456Z', '2026-12-03T12:00:00.123455Z', 0)).toBe('2026-12-03T12:00:00.123456Z');
    expect(laterWatermark('2026-12-03T12:00:00.123456Z', '2026-12-03T12:00:00.123457Z', 0)).toBe('2026-12-03T12:00:00.123457Z');
    expect(laterWatermark(null, '2026-12-03T12:00:05.000000Z', 1000)).toBe('2026-12-03T12:00:04.000Z');
    expect(laterWatermark('2026-12-03T12:00:04.500Z', '2026-12-03T12:00:05.000000Z', 1000)).toBe('2026-12-03T12:00:04.500Z');
  });
});
