/**
 * PostgreSQL SQLSTATEs, MariaDB errnos and socket failures mapped to ConnectorErrorCode: the one place the
 * SQL connector decides what is transient and what is permanent.
 */
import { ConnectorError, ConnectorErrorCode, SOCKET_ERROR_CODES } from '../connector-errors';

/** The ConnectorErrorCode of a SQLSTATE (PostgreSQL's `code`, MariaDB's `sqlState`), or null when it says nothing. */
export function codeForSqlState(state: string): ConnectorErrorCode | null {
  if (state === '23505') return ConnectorErrorCode.AlreadyExists;
  if (state.startsWith('23')) return ConnectorErrorCode.ConstraintViolation;
  if (state.startsWith('22')) return ConnectorErrorCode.InvalidAttribute;
  if (state === '40P01' || state === '55P03' || state === '40001') return ConnectorErrorCode.LockTimeout;
  if (state === '57014') return ConnectorErrorCode.Timeout;
  if (state === '53300') return ConnectorErrorCode.RateLimited;
  if (state.startsWith('57P') || state.startsWith('53')) return ConnectorErrorCode.ServiceUnavailable;
  if (state === '08001' || state === '08004') return ConnectorErrorCode.ConnectionRefused;
  if (state.startsWith('08')) return ConnectorErrorCode.NetworkError;
  if (state.startsWith('28')) return ConnectorErrorCode.Unauthorized;
  if (state === '42501') return ConnectorErrorCode.Forbidden;
  if (state === '42P01' || state === '42703' || state === '3D000' || state === '3F000') return ConnectorErrorCode.InvalidConfig;
  if (state.startsWith('42')) return ConnectorErrorCode.BadRequest;
  if (state.startsWith('XX') || state.startsWith('58')) return ConnectorErrorCode.ServerError;
  return null;
}

/** MariaDB/MySQL server errnos whose SQLSTATE (often HY000) does not tell. */
export function codeForMariadbErrno(errno: number): ConnectorErrorCode | null {
  switch (errno) {
    case 1062: // ER_DUP_ENTRY
    case 1586: // ER_DUP_ENTRY_WITH_KEY_NAME
      return ConnectorErrorCode.AlreadyExists;
    case 1048: // ER_BAD_NULL_ERROR
    case 1451: // ER_ROW_IS_REFERENCED_2
    case 1452: // ER_NO_REFERENCED_ROW_2
    case 4025: // ER_CONSTRAINT_FAILED (CHECK)
    case 1364: // ER_NO_DEFAULT_FOR_FIELD
      return ConnectorErrorCode.ConstraintViolation;
    case 1366: // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
    case 1265: // WARN_DATA_TRUNCATED
    case 1406: // ER_DATA_TOO_LONG
    case 1264: // ER_WARN_DATA_OUT_OF_RANGE
    case 1292: // ER_TRUNCATED_WRONG_VALUE
    case 1367: // ER_ILLEGAL_VALUE_FOR_TYPE
    case 3140: // ER_INVALID_JSON_TEXT
      return ConnectorErrorCode.InvalidAttribute;
    case 1205: // ER_LOCK_WAIT_TIMEOUT
    case 1213: // ER_LOCK_DEADLOCK
      return ConnectorErrorCode.LockTimeout;
    case 1040: // ER_CON_COUNT_ERROR
    case 1203: // ER_TOO_MANY_USER_CONNECTIONS
      return ConnectorErrorCode.RateLimited;
    case 1053: // ER_SERVER_SHUTDOWN
    case 1927: // ER_CONNECTION_KILLED
      return ConnectorErrorCode.ServiceUnavailable;
    case 3024: // ER_QUERY_TIMEOUT
    case 1969: // ER_STATEMENT_TIMEOUT
      return ConnectorErrorCode.Timeout;
    case 1045: // ER_ACCESS_DENIED_ERROR
    case 1698: // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
      return ConnectorErrorCode.Unauthorized;
    case 1044: // ER_DBACCESS_DENIED_ERROR
    case 1142: // ER_TABLEACCESS_DENIED_ERROR
    case 1143: // ER_COLUMNACCESS_DENIED_ERROR
      return ConnectorErrorCode.Forbidden;
    case 1046: // ER_NO_DB_ERROR
    case 1049: // ER_BAD_DB_ERROR
    case 1054: // ER_BAD_FIELD_ERROR
    case 1146: // ER_NO_SUCH_TABLE
      return ConnectorErrorCode.InvalidConfig;
    default:
      return null;
  }
}

/** mysql2 adds its own connection codes to Node's socket codes. */
const SOCKET_CODES: Readonly<Record<string, ConnectorErrorCode>> = {
  ...SOCKET_ERROR_CODES,
  PROTOCOL_CONNECTION_LOST: ConnectorErrorCode.NetworkError,
  PROTOCOL_SEQUENCE_TIMEOUT: ConnectorErrorCode.Timeout,
};

interface DriverError {
  message?: string;
  code?: string | number;
  errno?: number;
  sqlState?: string;
  column?: string;
  /** AggregateError (pg connecting to a host with several addresses) */
  errors?: DriverError[];
}

/** Any failure of a pg or mysql2 call as a ConnectorError; `what` says which call. */
export function toConnectorError(error: unknown, what: string): ConnectorError {
  if (error instanceof ConnectorError) return error;
  const err = (error ?? {}) as DriverError;
  const inner = err.errors?.[0] ?? err;
  const message = inner.message || err.message || String(error);
  const details = (targetStatus: string | number | undefined) => ({ targetStatus, cause: error, attribute: inner.column });

  // mysql2: a server error has errno + sqlState; a socket error only `code`.
  if (typeof inner.errno === 'number' && typeof inner.sqlState === 'string') {
    const code = codeForMariadbErrno(inner.errno) ?? codeForSqlState(inner.sqlState) ?? ConnectorErrorCode.ServerError;
    return new ConnectorError(code, `${what}: ${message}`, details(inner.errno));
  }
  if (typeof inner.code === 'string' && SOCKET_CODES[inner.code]) return new ConnectorError(SOCKET_CODES[inner.code], `${what}: ${message}`, details(inner.code));
  // pg: a server error's code is its SQLSTATE.
  if (typeof inner.code === 'string' && /^[0-9A-Z]{5}$/.test(inner.code)) {
    return new ConnectorError(codeForSqlState(inner.code) ?? ConnectorErrorCode.ServerError, `${what}: ${message}`, details(inner.code));
  }
  if (/timeout/i.test(message)) return new ConnectorError(ConnectorErrorCode.Timeout, `${what}: ${message}`, details(undefined));
  if (/Connection terminated|connection lost|socket hang up|closed/i.test(message)) return new ConnectorError(ConnectorErrorCode.NetworkError, `${what}: ${message}`, details(undefined));
  return new ConnectorError(ConnectorErrorCode.InvalidResponse, `${what}: ${message}`, details(undefined));
}
