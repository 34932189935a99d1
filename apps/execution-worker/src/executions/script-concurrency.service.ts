import { Injectable } from '@nestjs/common';
import { RedisService } from '@provisio/platform';

/**
 * `max_concurrent_runs` per script across every replica: a Redis sorted set of running execution ids
 * scored by lease expiry. A holder that dies stops renewing nothing — its lease simply runs out.
 */
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 1 end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0`;

/** The client with ACQUIRE defined as a command: ioredis sends it by SHA (EVALSHA), not its text each time. */
type WithAcquire = RedisService['client'] & {
  provisioAcquireRunSlot(key: string, now: string, limit: string, executionId: string, expiresAt: string, leaseMs: string): Promise<number>;
};

@Injectable()
export class ScriptConcurrency {
  private readonly client: WithAcquire;

  constructor(private readonly redis: RedisService) {
    redis.client.defineCommand('provisioAcquireRunSlot', { numberOfKeys: 1, lua: ACQUIRE });
    this.client = redis.client as WithAcquire;
  }

  /** Takes a slot for `executionId` if fewer than `limit` runs of the script hold one. */
  async tryAcquire(scriptId: string, executionId: string, limit: number, leaseMs: number): Promise<boolean> {
    const now = Date.now();
    const acquired = await this.client.provisioAcquireRunSlot(this.key(scriptId), String(now), String(limit), executionId, String(now + leaseMs), String(leaseMs));
    return acquired === 1;
  }

  async release(scriptId: string, executionId: string): Promise<void> {
    await this.redis.client.zrem(this.key(scriptId), executionId);
  }

  private key(scriptId: string): string {
    return this.redis.key('script-running', scriptId);
  }
}
