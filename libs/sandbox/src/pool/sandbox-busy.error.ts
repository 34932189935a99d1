// The pool's queue is full: the caller should answer "try again later" instead of queueing more.
// The platform's HTTP error filter recognises it by its code (429 with Retry-After) without this lib
// being one of its dependencies.

export class SandboxBusyError extends Error {
  override readonly name = 'SandboxBusyError';
  /** The domain error code HTTP entry points answer with (429). */
  readonly code = 'rate_limited' as const;
  /** Retrying later may succeed. */
  readonly permanent = false;

  constructor(
    /** A guess at when the queue will have room again (whole seconds, at least 1). */
    readonly retryAfterSeconds: number,
    readonly queued: number,
  ) {
    super(`the sandbox is busy: ${queued} runs are already waiting; try again in ${retryAfterSeconds} s`);
  }
}
