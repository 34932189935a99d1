/**
 * LDAP result codes (RFC 4511 §4.1.9) and socket failures mapped to ConnectorErrorCode: the one place the
 * LDAP connector decides what is transient and what is permanent.
 */
import { ResultCodeError } from 'ldapts';
import { ConnectorError, ConnectorErrorCode, SOCKET_ERROR_CODES } from '../connector-errors';

/** The ConnectorErrorCode of an LDAP result code. */
export function codeForResult(resultCode: number): ConnectorErrorCode {
  switch (resultCode) {
    case 51: // busy
    case 11: // adminLimitExceeded
      return ConnectorErrorCode.RateLimited;
    case 52: // unavailable
      return ConnectorErrorCode.ServiceUnavailable;
    case 3: // timeLimitExceeded
      return ConnectorErrorCode.Timeout;
    case 1: // operationsError
    case 80: // other
    case 54: // loopDetect
      return ConnectorErrorCode.ServerError;
    case 16: // noSuchAttribute
    case 17: // undefinedAttributeType
    case 18: // inappropriateMatching
    case 21: // invalidAttributeSyntax
    case 34: // invalidDNSyntax
    case 64: // namingViolation
    case 65: // objectClassViolation
    case 67: // notAllowedOnRDN
    case 69: // objectClassModsProhibited
      return ConnectorErrorCode.InvalidAttribute;
    case 19: // constraintViolation
    case 20: // attributeOrValueExists
    case 66: // notAllowedOnNonLeaf
      return ConnectorErrorCode.ConstraintViolation;
    case 68: // entryAlreadyExists
      return ConnectorErrorCode.AlreadyExists;
    case 32: // noSuchObject
      return ConnectorErrorCode.NotFound;
    case 48: // inappropriateAuthentication
    case 49: // invalidCredentials
      return ConnectorErrorCode.Unauthorized;
    case 8: // strongAuthRequired
    case 13: // confidentialityRequired
    case 50: // insufficientAccessRights
      return ConnectorErrorCode.Forbidden;
    case 7: // authMethodNotSupported
    case 10: // referral
    case 12: // unavailableCriticalExtension
    case 71: // affectsMultipleDSAs
      return ConnectorErrorCode.Unsupported;
    default:
      // 2 protocolError, 53 unwillingToPerform and the rest refuse the request itself; unknown codes of 80
      // and above are server-side trouble.
      return resultCode > 80 ? ConnectorErrorCode.ServerError : ConnectorErrorCode.BadRequest;
  }
}


/** Certificate problems are the connector's TLS settings, not the network: retrying cannot help. */
const TLS_CONFIG_CODES = /^(CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_WRONG_VERSION_NUMBER)/;

/** Any failure of an ldapts call as a ConnectorError; `what` says which call (`add uid=…`). */
export function toConnectorError(error: unknown, what: string): ConnectorError {
  if (error instanceof ConnectorError) return error;
  if (error instanceof ResultCodeError) {
    const code = codeForResult(error.code);
    return new ConnectorError(code, `${what}: LDAP result ${error.code} (${error.message})`, { targetStatus: error.code, cause: error });
  }
  const err = error as NodeJS.ErrnoException | undefined;
  const message = err?.message ?? String(error);
  const socketCode = err?.code && SOCKET_ERROR_CODES[err.code];
  if (socketCode) return new ConnectorError(socketCode, `${what}: ${message}`, { targetStatus: err.code, cause: error });
  if (err?.code && TLS_CONFIG_CODES.test(err.code)) {
    return new ConnectorError(ConnectorErrorCode.InvalidConfig, `${what}: TLS: ${message} (check tls.ca / tls.rejectUnauthorized)`, { targetStatus: err.code, cause: error });
  }
  if (/Connection timeout|Operation timed out/.test(message)) return new ConnectorError(ConnectorErrorCode.Timeout, `${what}: ${message}`, { cause: error });
  // ldapts rejects pending calls of a dropped socket with "Socket error" / "connection not established".
  if (/Socket error|Socket connection not established|socket hang up|Connection closed/i.test(message)) {
    return new ConnectorError(ConnectorErrorCode.NetworkError, `${what}: ${message.split('\n').join(': ')}`, { cause: error });
  }
  return new ConnectorError(ConnectorErrorCode.InvalidResponse, `${what}: ${message}`, { cause: error });
}
