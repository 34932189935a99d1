/**
 * Domain errors, thrown by services, use cases and consumers alike. They carry no HTTP types: the
 * exception filter maps them to responses in one place, and consumers map them to retry-or-DLQ.
 */
export type ErrorCode =
  | 'validation_failed'
  | 'not_found'
  | 'conflict'
  | 'invalid_transition'
  | 'unauthenticated'
  | 'forbidden'
  | 'payload_too_large'
  | 'rate_limited'
  | 'method_not_allowed'
  | 'script_failed'
  | 'internal';

export abstract class DomainError extends Error {
  abstract readonly code: ErrorCode;
  /** Permanent errors never succeed on retry: consumers dead-letter them at once. */
  readonly permanent: boolean = true;
  constructor(
    message: string,
    readonly field?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends DomainError {
  readonly code = 'validation_failed' as const;
}
export class NotFoundError extends DomainError {
  readonly code = 'not_found' as const;
  constructor(entity: string, id?: string) {
    super(id ? `${entity} ${id} not found` : `${entity} not found`);
  }
}
export class ConflictError extends DomainError {
  readonly code = 'conflict' as const;
}
export class InvalidTransitionError extends DomainError {
  readonly code = 'invalid_transition' as const;
  constructor(entity: string, from: string, to: string, allowed: readonly string[]) {
    super(
      `${entity} cannot go from ${from} to ${to}; allowed: ${allowed.length ? allowed.join(', ') : 'none'}`,
      'status',
      { from, to, allowed },
    );
  }
}
export class UnauthenticatedError extends DomainError {
  readonly code = 'unauthenticated' as const;
}
export class ForbiddenError extends DomainError {
  readonly code = 'forbidden' as const;
}
export class PayloadTooLargeError extends DomainError {
  readonly code = 'payload_too_large' as const;
}
export class RateLimitedError extends DomainError {
  readonly code = 'rate_limited' as const;
  override readonly permanent = false;
  constructor(
    message: string,
    /** When a retry may succeed: HTTP answers carry it as Retry-After. */
    readonly retryAfterSeconds?: number,
    details?: Record<string, unknown>,
  ) {
    super(message, undefined, details);
  }
}

/**
 * "Too busy, retry later" from a lib that does not depend on this one (the sandbox's SandboxBusyError):
 * any Error with `code: 'rate_limited'` and, optionally, a whole number of `retryAfterSeconds`.
 */
export interface RateLimitedLike extends Error {
  code: 'rate_limited';
  retryAfterSeconds?: number;
}

export function isRateLimited(error: unknown): error is RateLimitedLike {
  return error instanceof Error && (error as { code?: unknown }).code === 'rate_limited';
}

/** The Retry-After (whole seconds, at least 1) a rate-limited error asks for, if any. */
export function retryAfterOf(error: unknown): number | undefined {
  if (!isRateLimited(error)) return undefined;
  const seconds = error.retryAfterSeconds;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : undefined;
}

/** A temporary failure (a target system down, a lock not acquired): retry it. */
export class TransientError extends Error {
  readonly permanent = false;
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'TransientError';
  }
}

export function isPermanent(error: unknown): boolean {
  return error instanceof DomainError && error.permanent;
}

export function assertUnreachable(value: never): never {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
}
