import { randomUUID } from 'node:crypto';
import { RedisService } from '@provisio/platform';
import { ScriptConcurrency } from './script-concurrency';

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
    expect((await concurrency.tryAcquireMany(script, ['exec-9'], 3, 10_000)).has('exec-9')).toBe(false);
    await concurrency.release(script, ['exec-0', 'exec-1']);
    expect([...(await concurrency.tryAcquireMany(script, ['exec-8', 'exec-9', 'exec-7'], 3, 10_000))]).toEqual(['exec-8', 'exec-9']);
  });

  it('lets the lease of a holder that died run out, and keeps the live ones', async () => {
    const script = randomUUID();
    await concurrency.tryAcquireMany(script, ['alive'], 2, 10_000);
    await concurrency.tryAcquireMany(script, ['died'], 2, 300);
    await new Promise((resolve) => setTimeout(resolve, 400));
    // 'died' ran out, 'alive' holds on: one slot is free, not two.
    expect([...(await concurrency.tryAcquireMany(script, ['new-1', 'new-2'], 2, 300))]).toEqual(['new-1']);
  });

  describe('take and give (a replica holding tokens)', () => {
    const replicaA = new ScriptConcurrency(redis);
    const replicaB = new ScriptConcurrency(redis);
    afterAll(() => Promise.all([replicaA.onModuleDestroy(), replicaB.onModuleDestroy()]));

    it('serves run after run from the tokens it holds, one round trip for a burst', async () => {
      const script = randomUUID();
      const roundTrips = jest.spyOn(replicaA, 'tryAcquireMany');
      const first = await Promise.all([1, 2, 3].map(() => replicaA.take(script, 5, 10_000)));
      expect(new Set(first).size).toBe(3);
      expect(roundTrips).toHaveBeenCalledTimes(1);
      first.forEach((token) => replicaA.give(script, 5, token!));
      for (let run = 0; run < 20; run++) {
        const token = await replicaA.take(script, 5, 10_000);
        expect(first).toContain(token);
        replicaA.give(script, 5, token!);
      }
      expect(roundTrips).toHaveBeenCalledTimes(1);
      roundTrips.mockRestore();
    });

    it("shares the script's limit with other replicas, and lets idle tokens go back to them", async () => {
      const script = randomUUID();
      const [a1, a2] = await Promise.all([replicaA.take(script, 3, 10_000), replicaA.take(script, 3, 10_000)]);
      const onB = await Promise.all([replicaB.take(script, 3, 10_000), replicaB.take(script, 3, 10_000)]);
      // Three slots in all: A holds two, so B gets one and is refused the other.
      expect(onB.filter(Boolean)).toHaveLength(1);
      replicaA.give(script, 3, a1!);
      replicaA.give(script, 3, a2!);
      await new Promise((resolve) => setTimeout(resolve, 200)); // A's idle tokens go back to Redis
      const again = await Promise.all([replicaB.take(script, 3, 10_000), replicaB.take(script, 3, 10_000)]);
      expect(again.every(Boolean)).toBe(true);
      [...onB, ...again].forEach((token) => token && replicaB.give(script, 3, token));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect({ a: replicaA.scriptsHeld, b: replicaB.scriptsHeld }).toEqual({ a: 0, b: 0 });
    });
  });
});
