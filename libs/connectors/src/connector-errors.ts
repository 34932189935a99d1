/**
 * How a connector call failed. Every failure a connector raises is a ConnectorError whose code says
 * what happened at the target; the code alone decides whether a retry can help (transient) or not
 * (permanent), and whether the target as a whole looks down (the provisioning queue's circuit).
 * libs/connectors depends on nothing of Provisio's, so callers map these to their own errors.
 */
export enum ConnectorErrorCode {
  // Transient: the same call may succeed later.
  /** TCP connection refused or reset before an answer: the target process is not there. */
  ConnectionRefused = 'connection_refused',
  /** DNS failure, socket hang-up, TLS handshake cut short: the network between us. */
  NetworkError = 'network_error',
  /** No answer within the connector's timeout. */
  Timeout = 'timeout',
  /** HTTP 429, LDAP busy, or the connector's own rate limit waited too long. */
  RateLimited = 'rate_limited',
  /** HTTP 503, LDAP unavailable: the target says it is down for now. */
  ServiceUnavailable = 'service_unavailable',
  /** HTTP 5xx other than 503, LDAP "other"/operations error. */
  ServerError = 'server_error',
  /** A database lock wait timed out or a deadlock was detected. */
  LockTimeout = 'lock_timeout',
  /** The answer was cut short or unparseable (a truncated page): reading again may work. */
  InvalidResponse = 'invalid_response',

  // Permanent: retrying the same call cannot help.
  /** The target refused an attribute or its value (schema violation, bad syntax). */
  InvalidAttribute = 'invalid_attribute',
  /** A constraint of the target (not null, check, foreign key) refused the write. */
  ConstraintViolation = 'constraint_violation',
  /** The object to create exists already (HTTP 409 uniqueness, LDAP entryAlreadyExists, unique key). */
  AlreadyExists = 'already_exists',
  /** The object to change or delete is not there. */
  NotFound = 'not_found',
  /** The credentials were refused (HTTP 401, LDAP invalidCredentials). */
  Unauthorized = 'unauthorized',
  /** The credentials are valid but not allowed to do this (HTTP 403, LDAP insufficientAccessRights). */
  Forbidden = 'forbidden',
  /** The object changed since it was read (ETag mismatch, HTTP 412). */
  PreconditionFailed = 'precondition_failed',
  /** Any other refusal of the request itself (HTTP 400 and the remaining 4xx). */
  BadRequest = 'bad_request',
  /** The target does not offer this operation (no Bulk, no delta attribute). */
  Unsupported = 'unsupported',
  /** The connector's own configuration cannot work (unknown table, bad base DN, bad URL). */
  InvalidConfig = 'invalid_config',
}

export type ConnectorErrorClass = 'transient' | 'permanent';

function assertUnreachable(value: never): never {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
}

/** Whether a retry of the same call can succeed. Exhaustive: a new code does not compile until classified. */
export function classifyConnectorError(code: ConnectorErrorCode): ConnectorErrorClass {
  switch (code) {
    case ConnectorErrorCode.ConnectionRefused:
    case ConnectorErrorCode.NetworkError:
    case ConnectorErrorCode.Timeout:
    case ConnectorErrorCode.RateLimited:
    case ConnectorErrorCode.ServiceUnavailable:
    case ConnectorErrorCode.ServerError:
    case ConnectorErrorCode.LockTimeout:
    case ConnectorErrorCode.InvalidResponse:
      return 'transient';
    case ConnectorErrorCode.InvalidAttribute:
    case ConnectorErrorCode.ConstraintViolation:
    case ConnectorErrorCode.AlreadyExists:
    case ConnectorErrorCode.NotFound:
    case ConnectorErrorCode.Unauthorized:
    case ConnectorErrorCode.Forbidden:
    case ConnectorErrorCode.PreconditionFailed:
    case ConnectorErrorCode.BadRequest:
    case ConnectorErrorCode.Unsupported:
    case ConnectorErrorCode.InvalidConfig:
      return 'permanent';
    default:
      return assertUnreachable(code);
  }
}

/**
 * Whether the failure says the target as a whole is unreachable (not just this call): the provisioning
 * queue opens the connector's circuit on these, and its operations wait without spending retries.
 */
export function isTargetUnavailable(code: ConnectorErrorCode): boolean {
  return code === ConnectorErrorCode.ConnectionRefused || code === ConnectorErrorCode.ServiceUnavailable;
}

/**
 * Node's socket error codes (`error.code` of net, tls and dns failures), as every connector meets them
 * under its driver. A driver's own codes (mysql2's PROTOCOL_*, ldapts's result codes) stay with it.
 */
export const SOCKET_ERROR_CODES: Readonly<Record<string, ConnectorErrorCode>> = Object.freeze({
  ECONNREFUSED: ConnectorErrorCode.ConnectionRefused,
  ETIMEDOUT: ConnectorErrorCode.Timeout,
  ECONNRESET: ConnectorErrorCode.NetworkError,
  EPIPE: ConnectorErrorCode.NetworkError,
  ENOTFOUND: ConnectorErrorCode.NetworkError,
  EAI_AGAIN: ConnectorErrorCode.NetworkError,
  EHOSTUNREACH: ConnectorErrorCode.NetworkError,
  ENETUNREACH: ConnectorErrorCode.NetworkError,
  ECONNABORTED: ConnectorErrorCode.NetworkError,
});

export class ConnectorError extends Error {
  readonly errorClass: ConnectorErrorClass;

  constructor(
    readonly code: ConnectorErrorCode,
    message: string,
    readonly details: {
      /** How long the target asked us to wait (HTTP `Retry-After`, in milliseconds). */
      retryAfterMs?: number;
      /** The target's own status (HTTP status, LDAP result code, SQLSTATE). */
      targetStatus?: string | number;
      /** The attribute the target refused, when it says. */
      attribute?: string;
      cause?: unknown;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ConnectorError';
    this.errorClass = classifyConnectorError(code);
  }

  get transient(): boolean {
    return this.errorClass === 'transient';
  }

  get retryAfterMs(): number | undefined {
    return this.details.retryAfterMs;
  }
}

export function isConnectorError(error: unknown): error is ConnectorError {
  return error instanceof ConnectorError;
}
