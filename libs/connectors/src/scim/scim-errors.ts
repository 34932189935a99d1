/**
 * How a SCIM call's failure becomes a ConnectorError: HTTP status and SCIM `scimType` (RFC 7644 §3.12),
 * `Retry-After` (delta-seconds or an HTTP date), and the network errors of undici and Node.
 */
import { ConnectorError, ConnectorErrorCode } from '../connector-errors';

/** The SCIM error body (RFC 7644 §3.12), when the server sent one. */
export interface ScimErrorBody {
  status?: string | number;
  scimType?: string;
  detail?: string;
}

const MAX_RETRY_AFTER_MS = 24 * 3600_000;

/** Milliseconds a `Retry-After` header asks for (undefined when absent or unreadable), at most a day. */
export function parseRetryAfter(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, MAX_RETRY_AFTER_MS);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS);
}

/** The code of an HTTP failure: status first, then the SCIM scimType where the status leaves a choice. */
export function codeForHttpStatus(status: number, scimType: string | undefined, method: string): ConnectorErrorCode {
  const type = scimType?.toLowerCase();
  if (type === 'uniqueness') return ConnectorErrorCode.AlreadyExists;
  switch (status) {
    case 400:
      switch (type) {
        case 'invalidvalue':
        case 'invalidpath':
        case 'notarget':
        case 'mutability':
        case 'invalidsyntax':
          return ConnectorErrorCode.InvalidAttribute;
        case 'invalidvers':
          return ConnectorErrorCode.PreconditionFailed;
        default:
          return ConnectorErrorCode.BadRequest;
      }
    case 401:
      return ConnectorErrorCode.Unauthorized;
    case 403:
      return ConnectorErrorCode.Forbidden;
    case 404:
      return ConnectorErrorCode.NotFound;
    case 409:
      // A conflict without scimType: on create it is the object existing, on a change a version race.
      return method === 'POST' ? ConnectorErrorCode.AlreadyExists : ConnectorErrorCode.PreconditionFailed;
    case 412:
      return ConnectorErrorCode.PreconditionFailed;
    case 429:
      return ConnectorErrorCode.RateLimited;
    case 501:
      return ConnectorErrorCode.Unsupported;
    case 503:
      return ConnectorErrorCode.ServiceUnavailable;
    case 504:
      return ConnectorErrorCode.Timeout;
    default:
      if (status >= 500) return ConnectorErrorCode.ServerError;
      if (status >= 400) return ConnectorErrorCode.BadRequest;
      // A status a SCIM call never expects (1xx, an unfollowed 3xx): the answer is not one we can use.
      return ConnectorErrorCode.InvalidResponse;
  }
}

export function httpError(
  what: string,
  status: number,
  body: unknown,
  headers: Record<string, string | string[] | undefined>,
  method: string,
): ConnectorError {
  const error = (body && typeof body === 'object' ? body : {}) as ScimErrorBody;
  const scimType = typeof error.scimType === 'string' ? error.scimType : undefined;
  const detail = typeof error.detail === 'string' ? error.detail.slice(0, 500) : undefined;
  const code = codeForHttpStatus(status, scimType, method);
  const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(headers['retry-after']) : undefined;
  const message = `${what}: HTTP ${status}${scimType ? ` ${scimType}` : ''}${detail ? `: ${detail}` : ''}`;
  return new ConnectorError(code, message, { targetStatus: status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
}

const TLS_CONFIG_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_UNTRUSTED',
]);

/** A failure before any HTTP answer (undici and Node errors), as a ConnectorError. */
export function networkError(what: string, error: unknown): ConnectorError {
  if (error instanceof ConnectorError) return error;
  const codes = errorCodes(error);
  const message = `${what}: ${describe(error)}`;
  const has = (...names: string[]) => names.some((name) => codes.has(name));
  if (has('ECONNREFUSED')) return new ConnectorError(ConnectorErrorCode.ConnectionRefused, message, { cause: error });
  if (has('UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT')) {
    return new ConnectorError(ConnectorErrorCode.Timeout, message, { cause: error });
  }
  if ([...codes].some((code) => TLS_CONFIG_CODES.has(code))) {
    return new ConnectorError(ConnectorErrorCode.InvalidConfig, `${message} (trust the server's CA in tls.ca)`, { cause: error });
  }
  if (has('UND_ERR_INVALID_ARG', 'ERR_INVALID_URL')) return new ConnectorError(ConnectorErrorCode.InvalidConfig, message, { cause: error });
  // Resets, hang-ups, DNS failures, a closed socket mid-body: the network between us, worth a retry.
  return new ConnectorError(ConnectorErrorCode.NetworkError, message, { cause: error });
}

function errorCodes(error: unknown): Set<string> {
  const codes = new Set<string>();
  let current: unknown = error;
  for (let depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.add(code);
    for (const inner of (current as { errors?: unknown[] }).errors ?? []) {
      const innerCode = (inner as { code?: unknown })?.code;
      if (typeof innerCode === 'string') codes.add(innerCode);
    }
    current = (current as { cause?: unknown }).cause;
  }
  return codes;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return `${error.message || error.name}${cause}`;
  }
  return String(error);
}
