/**
 * When a failed operation's next attempt is due: exponential backoff with full jitter (a delay drawn
 * uniformly from [0, min(max, base × 2^retry)), so retries of many operations failed by one outage do
 * not return in a wave), never sooner than the target's Retry-After.
 */
export function retryDelayMs(retryCount: number, options: { baseMs: number; maxMs: number; retryAfterMs?: number; random?: () => number }): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(retryCount, 30));
  const jittered = Math.floor((options.random ?? Math.random)() * ceiling);
  return Math.max(jittered, options.retryAfterMs ?? 0, 1);
}
