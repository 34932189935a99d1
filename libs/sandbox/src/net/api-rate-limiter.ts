// Counts a script's outbound API calls over a sliding minute, across its runs, in this process.

export class ApiRateLimiter {
  private readonly calls = new Map<string, number[]>();
  private sweeps = 0;

  constructor(
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a call for `key` and returns true, or returns false when `limit` calls already happened in the window. */
  tryAcquire(key: string, limit: number): boolean {
    const now = this.now();
    const since = now - this.windowMs;
    let times = this.calls.get(key);
    if (times === undefined) {
      times = [];
      this.calls.set(key, times);
    }
    let drop = 0;
    while (drop < times.length && times[drop] <= since) drop++;
    if (drop > 0) times.splice(0, drop);
    if (++this.sweeps % 1024 === 0) this.sweep(since);
    if (times.length >= limit) return false;
    times.push(now);
    return true;
  }

  /** Calls recorded for `key` in the current window. */
  count(key: string): number {
    const since = this.now() - this.windowMs;
    return (this.calls.get(key) ?? []).filter((t) => t > since).length;
  }

  private sweep(since: number): void {
    for (const [key, times] of this.calls) if (times.length === 0 || times[times.length - 1] <= since) this.calls.delete(key);
  }
}
