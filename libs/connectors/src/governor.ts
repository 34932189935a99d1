/**
 * The governor every connector sends its calls through: it keeps one connector inside the limits its
 * target publishes (ConnectorLimits), whatever concurrency the caller brings.
 *
 * - at most `maxConcurrency` calls in flight;
 * - at most `requestsPerSecond` call starts a second, and `writesPerMinute` write starts a minute, spaced
 *   evenly (one start every 1/rate), so no target sees a burst beyond one call (or one batch: a Bulk of N
 *   writes is followed by N intervals);
 * - each call's own time limit (`timeoutMs`): the call's AbortSignal fires and the caller gets a
 *   ConnectorError Timeout, even if the protocol library never notices the abort;
 * - a target's Retry-After: once a call fails with a ConnectorError carrying `retryAfterMs` (HTTP 429 or
 *   503), no further call starts before that time has passed. Calls already in flight cannot be recalled.
 *   A call that would wait longer than its own timeout for that fails at once instead, with the error that
 *   set the pause and the time left as its retryAfterMs: the caller reschedules rather than holds a worker.
 *
 * Writes wait for their write slot before they queue for a concurrency slot, so writes held back by
 * writesPerMinute never block reads. The governor never retries: whether and when to retry is the
 * provisioning queue's decision, made from the error's class.
 *
 * Not bottleneck: its local datastore yields a timer tick for every step of every job, one job at a time,
 * which caps it at ~400 jobs a second on this 2-core machine (measured: 380-400/s for empty jobs, with or
 * without limits) — below the SCIM connector's 500 writes a second. The two mechanisms needed (a FIFO
 * semaphore and an even spacer) are a few lines each here.
 */
import { ConnectorError, ConnectorErrorCode } from './connector-errors';
import { ConnectorLimits, DEFAULT_CONNECTOR_LIMITS } from './connector';

/** `read`: get, search, schema, test; `write`: anything that changes the target (counts against writesPerMinute). */
export type GovernedCallKind = 'read' | 'write';

export interface GovernedCall<T> {
  kind: GovernedCallKind;
  /** For messages: `create account`, `search page 3`. */
  description: string;
  /** Does the call; must stop when the signal aborts (the governor rejects on timeout regardless). */
  run: (signal: AbortSignal) => Promise<T>;
  /** A write that stands for several (a Bulk request of 50 operations): its weight in writesPerMinute. */
  writes?: number;
}

export interface GovernorStats {
  running: number;
  queued: number;
  /** Epoch ms before which no call starts (a target's Retry-After), or null. */
  pausedUntil: number | null;
}

/** Sleeps `ms`, or less when `signal` aborts (the governor closing). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

const closedError = (description: string) => new ConnectorError(ConnectorErrorCode.InvalidConfig, `${description}: the connector is closed`);

/** At most `size` holders at once; waiters are served in arrival order. */
class Semaphore {
  private held = 0;
  private readonly waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];

  constructor(private readonly size: number) {}

  get running(): number {
    return this.held;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  acquire(): Promise<void> {
    if (this.held < this.size) {
      this.held++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next.resolve(); // the slot passes straight to the next waiter
    else this.held--;
  }

  rejectWaiting(error: Error): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }
}

/** Lets takers through one at a time, in order, `intervalMs` apart (a taker of weight N is followed by N intervals). */
class Spacer {
  private tail: Promise<void> = Promise.resolve();
  private nextAt = 0;
  waiting = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly closing: AbortSignal,
  ) {}

  take(weight: number): Promise<void> {
    this.waiting++;
    const turn = this.tail.then(async () => {
      const wait = this.nextAt - Date.now();
      if (wait > 0) await sleep(wait, this.closing);
      this.nextAt = Math.max(Date.now(), this.nextAt) + this.intervalMs * weight;
      this.waiting--;
    });
    this.tail = turn;
    return turn;
  }
}

export class ConnectorGovernor {
  readonly limits: ConnectorLimits;
  private readonly slots: Semaphore;
  private readonly requests: Spacer | null;
  private readonly writes: Spacer | null;
  private pausedUntilMs = 0;
  /** The code of the failure that asked for the pause (rate_limited, service_unavailable). */
  private pausedBy: ConnectorErrorCode = ConnectorErrorCode.RateLimited;
  private readonly closing = new AbortController();

  constructor(limits: Partial<ConnectorLimits> = {}) {
    this.limits = { ...DEFAULT_CONNECTOR_LIMITS, ...limits };
    const { maxConcurrency, requestsPerSecond, writesPerMinute } = this.limits;
    this.slots = new Semaphore(Math.max(1, maxConcurrency));
    this.requests = requestsPerSecond ? new Spacer(1000 / requestsPerSecond, this.closing.signal) : null;
    this.writes = writesPerMinute ? new Spacer(60_000 / writesPerMinute, this.closing.signal) : null;
  }

  /** Runs one call within the limits. Rejects with the call's own error, or a ConnectorError Timeout. */
  async call<T>(call: GovernedCall<T>): Promise<T> {
    if (this.closed) throw closedError(call.description);
    if (call.kind === 'write' && this.writes) await this.writes.take(Math.max(1, Math.floor(call.writes ?? 1)));
    if (this.closed) throw closedError(call.description);
    await this.slots.acquire().catch(() => Promise.reject(closedError(call.description)));
    try {
      if (this.requests) await this.requests.take(1);
      // Re-checked after every sleep: a call that failed meanwhile may have pushed the pause further.
      for (let wait = this.pausedUntilMs - Date.now(); wait > 0 && !this.closed; wait = this.pausedUntilMs - Date.now()) {
        if (wait > this.limits.timeoutMs) {
          throw new ConnectorError(this.pausedBy, `${call.description}: not sent, the target asked for no requests for another ${Math.ceil(wait / 1000)} s`, {
            retryAfterMs: wait,
          });
        }
        await sleep(wait, this.closing.signal);
      }
      if (this.closed) throw closedError(call.description);
      return await this.execute(call);
    } finally {
      this.slots.release();
    }
  }

  /** No call starts before `epochMs` (a Retry-After learnt some other way than a failed call). */
  pauseUntil(epochMs: number, reason: ConnectorErrorCode = ConnectorErrorCode.RateLimited): void {
    if (epochMs > this.pausedUntilMs) {
      this.pausedUntilMs = epochMs;
      this.pausedBy = reason;
    }
  }

  private get closed(): boolean {
    return this.closing.signal.aborted;
  }

  stats(): GovernorStats {
    return {
      running: this.slots.running,
      queued: this.slots.waiting + (this.writes?.waiting ?? 0),
      pausedUntil: this.pausedUntilMs > Date.now() ? this.pausedUntilMs : null,
    };
  }

  /** Rejects calls not yet started; calls in flight finish (their connections are the connector's to close). */
  async close(): Promise<void> {
    this.closing.abort();
    this.slots.rejectWaiting(closedError('a queued call'));
  }

  private async execute<T>(call: GovernedCall<T>): Promise<T> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new ConnectorError(ConnectorErrorCode.Timeout, `${call.description}: no answer within ${this.limits.timeoutMs} ms`);
        controller.abort(error);
        reject(error);
      }, this.limits.timeoutMs);
    });
    try {
      return await Promise.race([call.run(controller.signal), timeout]);
    } catch (error) {
      if (error instanceof ConnectorError && error.retryAfterMs !== undefined && error.retryAfterMs > 0) this.pauseUntil(Date.now() + error.retryAfterMs, error.code);
      // A protocol library that surfaces our own abort as its own error: the timeout is what happened.
      if (controller.signal.aborted && controller.signal.reason instanceof ConnectorError) throw controller.signal.reason;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}
