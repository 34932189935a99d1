import { randomUUID } from 'node:crypto';
import { RedisService } from '@provisio/platform';
import { ScriptConcurrency } from './script-concurrency.service';

/** `max_concurrent_runs` slots against the real Redis. */
describe('ScriptConcurrency', () => {
  const redis = new RedisService({ REDIS_URL: process.env.REDIS_URL!, REDIS_KEY_PREFIX: `test-${randomUUID().slice(0, 8)}` });
  const concurrency = new ScriptConcurrency(redis);
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `exec-${i}`);
  afterAll(() => redis.onApplicationShutdown());

  it('grants a batch as many slots as the limit leaves, in order, and again to holders', async () => {
    const script = randomUUID();
    expect([...(await concurrency.tryAcquireMany(script, ids(5), 3, 10_000))]).toEqual(['exec-0', 'exec-1', 'exec-2']);
    // Holders keep theirs; nobody else gets one while three are held.
    expect([...(await concurrency.tryAcquireMany(script, ['exec-1', 'exec-9'], 3, 10_000))]).toEqual(['exec-1']);
    expect(await concurrency.tryAcquire(script, 'exec-9', 3, 10_000)).toBe(false);
    await concurrency.release(script, ['exec-0', 'exec-1']);
    expect([...(await concurrency.tryAcquireMany(script, ['exec-8', 'exec-9', 'exec-7'], 3, 10_000))]).toEqual(['exec-8', 'exec-9']);
  });

  it('lets leases of a holder that stops renewing run out, and keeps renewed ones', async () => {
    const script = randomUUID();
    await concurrency.tryAcquireMany(script, ['kept', 'lapsed'], 2, 300);
    await new Promise((resolve) => setTimeout(resolve, 150));
    await concurrency.renew(script, ['kept'], 300);
    await new Promise((resolve) => setTimeout(resolve, 250));
    // 'lapsed' ran out, 'kept' was renewed: one slot is free, not two.
    expect([...(await concurrency.tryAcquireMany(script, ['new-1', 'new-2'], 2, 300))]).toEqual(['new-1']);
  });
});
