/**
 * The governor every connector sends its calls through: it keeps one connector inside the limits its
 * target publishes (ConnectorLimits), whatever concurrency the caller brings.
 *
 * - at most `maxConcurrency` calls in flight;
 * - at most `requestsPerSecond` call starts a second, and `writesPerMinute` write starts a minute, spaced
 *   evenly (bottleneck's `minTime`), so no window of any length sees more than the target allows;
 * - each call's own time limit (`timeoutMs`): the call's AbortSignal fires and the caller gets a
 *   ConnectorError Timeout, even if the protocol library never notices the abort;
 * - a target's Retry-After: once a call fails with a ConnectorError carrying `retryAfterMs` (HTTP 429 or
 *   503), no further call starts before that time has passed. Calls already in flight cannot be recalled.
 *
 * The governor never retries: whether and when to retry is the provisioning queue's decision, made from
 * the error's class.
 */
import Bottleneck from 'bottleneck';
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

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class ConnectorGovernor {
  readonly limits: ConnectorLimits;
  private readonly calls: Bottleneck;
  private readonly writes: Bottleneck | null;
  private pausedUntilMs = 0;
  private closed = false;

  constructor(limits: Partial<ConnectorLimits> = {}) {
    this.limits = { ...DEFAULT_CONNECTOR_LIMITS, ...limits };
    const { maxConcurrency, requestsPerSecond, writesPerMinute } = this.limits;
    this.calls = new Bottleneck({ maxConcurrent: maxConcurrency, minTime: requestsPerSecond ? 1000 / requestsPerSecond : 0 });
    // Writes wait for their write slot first, then for a call slot like any call.
    this.writes = writesPerMinute ? new Bottleneck({ minTime: 60_000 / writesPerMinute }) : null;
  }

  /** Runs one call within the limits. Rejects with the call's own error, or a ConnectorError Timeout. */
  async call<T>(call: GovernedCall<T>): Promise<T> {
    if (this.closed) throw new ConnectorError(ConnectorErrorCode.InvalidConfig, `${call.description}: the connector is closed`);
    const execute = () => this.calls.schedule(() => this.execute(call));
    if (call.kind === 'write' && this.writes) {
      const weight = Math.max(1, Math.floor(call.writes ?? 1));
      // A batch of N writes takes N write slots: the first one starts it, the rest are waited for after.
      if (weight === 1) return this.writes.schedule(execute);
      await Promise.all(Array.from({ length: weight - 1 }, () => this.writes!.schedule(async () => undefined)));
      return this.writes.schedule(execute);
    }
    return execute();
  }

  /** No call starts before `epochMs` (a Retry-After learnt some other way than a failed call). */
  pauseUntil(epochMs: number): void {
    if (epochMs > this.pausedUntilMs) this.pausedUntilMs = epochMs;
  }

  stats(): GovernorStats {
    const counts = this.calls.counts();
    return {
      running: counts.EXECUTING,
      queued: counts.QUEUED + counts.RECEIVED + counts.RUNNING,
      pausedUntil: this.pausedUntilMs > Date.now() ? this.pausedUntilMs : null,
    };
  }

  /** Rejects queued calls and waits for those in flight. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const stop = { dropWaitingJobs: true, dropErrorMessage: 'the connector was closed' };
    await Promise.all([this.calls.stop(stop), this.writes?.stop(stop)]);
  }

  private async execute<T>(call: GovernedCall<T>): Promise<T> {
    // Re-checked after every sleep: a call that failed meanwhile may have pushed the pause further.
    for (let wait = this.pausedUntilMs - Date.now(); wait > 0; wait = this.pausedUntilMs - Date.now()) await sleep(wait);
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
      if (error instanceof ConnectorError && error.retryAfterMs !== undefined && error.retryAfterMs > 0) this.pauseUntil(Date.now() + error.retryAfterMs);
      // A protocol library that surfaces our own abort as its own error: the timeout is what happened.
      if (controller.signal.aborted && controller.signal.reason instanceof ConnectorError) throw controller.signal.reason;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}
