import { ApiRateLimiter } from './api-rate-limiter';

describe('ApiRateLimiter', () => {
  it('allows `limit` calls per sliding minute per key', () => {
    let now = 1_000_000;
    const limiter = new ApiRateLimiter(60_000, () => now);
    for (let i = 0; i < 3; i++) expect(limiter.tryAcquire('a', 3)).toBe(true);
    expect(limiter.tryAcquire('a', 3)).toBe(false);
    expect(limiter.tryAcquire('b', 3)).toBe(true);
    now += 59_999;
    expect(limiter.tryAcquire('a', 3)).toBe(false);
    now += 1;
    expect(limiter.tryAcquire('a', 3)).toBe(true);
    expect(limiter.count('a')).toBe(1);
  });

  it('refuses everything with a limit of 0', () => {
    expect(new ApiRateLimiter().tryAcquire('k', 0)).toBe(false);
  });
});
