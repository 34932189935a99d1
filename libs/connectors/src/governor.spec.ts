import { ConnectorError, ConnectorErrorCode } from './connector-errors';
import { ConnectorGovernor } from './governor';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How many timer turns the event loop took while `work` ran: 0 means it finished on microtasks alone, no wait. */
async function timerTurnsDuring(work: () => Promise<unknown>): Promise<number> {
  let turns = 0;
  const tick = setInterval(() => turns++, 0);
  setImmediate(() => turns++);
  try {
    await work();
  } finally {
    clearInterval(tick);
  }
  return turns;
}

describe('ConnectorGovernor', () => {
  let governor: ConnectorGovernor;
  afterEach(async () => governor?.close());

  it('keeps at most maxConcurrency calls in flight', async () => {
    governor = new ConnectorGovernor({ maxConcurrency: 3, timeoutMs: 5000 });
    let inFlight = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 12 }, () =>
        governor.call({
          kind: 'read',
          description: 'read',
          run: async () => {
            peak = Math.max(peak, ++inFlight);
            await sleep(20);
            inFlight--;
          },
        }),
      ),
    );
    expect(peak).toBe(3);
  });

  it('spaces call starts to requestsPerSecond', async () => {
    governor = new ConnectorGovernor({ maxConcurrency: 10, requestsPerSecond: 20, timeoutMs: 5000 });
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 6 }, () => governor.call({ kind: 'read', description: 'read', run: async () => void starts.push(Date.now()) })));
    // 6 starts at 20/s: the last at least 5 x 50 ms after the first.
    expect(starts[5] - starts[0]).toBeGreaterThanOrEqual(240);
  });

  it('spaces writes to writesPerMinute, reads not', async () => {
    governor = new ConnectorGovernor({ maxConcurrency: 10, writesPerMinute: 600, timeoutMs: 5000 });
    expect(await timerTurnsDuring(() => Promise.all(Array.from({ length: 5 }, () => governor.call({ kind: 'read', description: 'read', run: async () => undefined }))))).toBe(0);
    const writes: number[] = [];
    await Promise.all(Array.from({ length: 4 }, () => governor.call({ kind: 'write', description: 'write', run: async () => void writes.push(Date.now()) })));
    // 600 a minute = one every 100 ms.
    expect(writes[3] - writes[0]).toBeGreaterThanOrEqual(290);
  });

  it('counts a batch as as many writes as it carries: the next write waits that many intervals', async () => {
    governor = new ConnectorGovernor({ maxConcurrency: 10, writesPerMinute: 1200, timeoutMs: 5000 });
    const begin = Date.now();
    expect(await timerTurnsDuring(() => governor.call({ kind: 'write', description: 'bulk', writes: 5, run: async () => undefined }))).toBe(0);
    await governor.call({ kind: 'write', description: 'one', run: async () => undefined });
    // 1200 a minute = 50 ms a write: 5 writes' worth of intervals after the batch.
    expect(Date.now() - begin).toBeGreaterThanOrEqual(240);
  });

  it('writes held back by writesPerMinute do not hold concurrency slots: reads pass them', async () => {
    governor = new ConnectorGovernor({ maxConcurrency: 1, writesPerMinute: 60, timeoutMs: 5000 });
    const writes = Array.from({ length: 3 }, () => governor.call({ kind: 'write', description: 'write', run: async () => Date.now() }));
    // The writes are a second apart: the read's and the refusals' bounds sit well below that.
    const begin = Date.now();
    await governor.call({ kind: 'read', description: 'read', run: async () => undefined });
    expect(Date.now() - begin).toBeLessThan(700);
    const closedAt = Date.now();
    await governor.close();
    // Writes still waiting for their slot are refused at once, not after their wait.
    const outcomes = await Promise.allSettled(writes);
    expect(Date.now() - closedAt).toBeLessThan(700);
    expect(outcomes.filter((o) => o.status === 'rejected').length).toBeGreaterThanOrEqual(2);
  });

  it('adds no timer turn to a call when no rate limit is set', async () => {
    // A limiter that yields a timer tick per call (bottleneck does) caps at ~400 calls a second here, below
    // the SCIM connector's 500 writes a second; so no-limit calls must complete within microtasks alone.
    governor = new ConnectorGovernor({ maxConcurrency: 32, timeoutMs: 5000 });
    let next = 0;
    const turns = await timerTurnsDuring(() =>
      Promise.all(
        Array.from({ length: 32 }, async () => {
          for (let i = next++; i < 5000; i = next++) await governor.call({ kind: 'write', description: 'w', run: async () => i });
        }),
      ),
    );
    expect(next).toBeGreaterThanOrEqual(5000);
    expect(turns).toBe(0);
  });

  it('rejects a call that outlives timeoutMs with a transient Timeout and aborts its signal', async () => {
    governor = new ConnectorGovernor({ timeoutMs: 100 });
    let signal: AbortSignal | undefined;
    const startedAt = Date.now();
    const error = await governor
      .call({
        kind: 'read',
        description: 'slow read',
        run: (s) => {
          signal = s;
          return new Promise(() => undefined);
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect((error as ConnectorError).code).toBe(ConnectorErrorCode.Timeout);
    expect((error as ConnectorError).transient).toBe(true);
    expect((error as ConnectorError).message).toContain('slow read');
    expect(signal?.aborted).toBe(true);
    expect(Date.now() - startedAt).toBeLessThan(400);
  });

  it("starts no call before a failed call's Retry-After has passed", async () => {
    governor = new ConnectorGovernor({ maxConcurrency: 4, timeoutMs: 5000 });
    const limited = governor.call({
      kind: 'read',
      description: 'limited',
      run: async () => {
        throw new ConnectorError(ConnectorErrorCode.RateLimited, 'HTTP 429', { retryAfterMs: 300 });
      },
    });
    await expect(limited).rejects.toMatchObject({ code: ConnectorErrorCode.RateLimited, retryAfterMs: 300 });
    const failedAt = Date.now();
    expect(governor.stats().pausedUntil).toBeGreaterThan(failedAt);
    const starts = await Promise.all(Array.from({ length: 3 }, () => governor.call({ kind: 'read', description: 'next', run: async () => Date.now() })));
    for (const start of starts) expect(start - failedAt).toBeGreaterThanOrEqual(290);
    expect(governor.stats().pausedUntil).toBeNull();
  });

  it('fails at once, with the time left, a call that would wait out a Retry-After longer than its timeout', async () => {
    governor = new ConnectorGovernor({ timeoutMs: 200 });
    const unavailable = new ConnectorError(ConnectorErrorCode.ServiceUnavailable, 'HTTP 503', { retryAfterMs: 5000 });
    await expect(governor.call({ kind: 'read', description: 'first', run: async () => Promise.reject(unavailable) })).rejects.toBe(unavailable);
    let sent = false;
    let error: unknown;
    const turns = await timerTurnsDuring(async () => {
      error = await governor.call({ kind: 'read', description: 'second', run: async () => void (sent = true) }).catch((e: unknown) => e);
    });
    expect(turns).toBe(0);
    expect(sent).toBe(false);
    expect(error).toMatchObject({ code: ConnectorErrorCode.ServiceUnavailable, transient: true });
    expect((error as ConnectorError).retryAfterMs).toBeGreaterThan(4500);
  });

  it('passes a call’s own error through unchanged', async () => {
    governor = new ConnectorGovernor();
    const own = new ConnectorError(ConnectorErrorCode.NotFound, 'gone');
    await expect(governor.call({ kind: 'write', description: 'x', run: async () => Promise.reject(own) })).rejects.toBe(own);
  });

  it('refuses calls once closed', async () => {
    governor = new ConnectorGovernor();
    await governor.close();
    await expect(governor.call({ kind: 'read', description: 'late', run: async () => 1 })).rejects.toMatchObject({ code: ConnectorErrorCode.InvalidConfig });
  });
});
