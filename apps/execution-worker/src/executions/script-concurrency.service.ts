import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { RedisService } from '@provisio/platform';

/**
 * `max_concurrent_runs` per script across every replica: a Redis sorted set of running execution ids
 * scored by lease expiry. A holder that dies stops renewing nothing — its lease simply runs out.
 *
 * Takes slots for several executions of one script at once (a consumer batch): one round trip for the
 * batch, not one per run. KEYS[1] the set; ARGV: now, limit, lease expiry, lease ms, then the execution
 * ids, granted in order while there is room. Answers the ids that hold a slot.
 */
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local count = redis.call('ZCARD', KEYS[1])
local limit = tonumber(ARGV[2])
local granted = {}
for i = 5, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    granted[#granted + 1] = ARGV[i]
  elseif count < limit then
    redis.call('ZADD', KEYS[1], ARGV[3], ARGV[i])
    count = count + 1
    granted[#granted + 1] = ARGV[i]
  end
end
if #granted > 0 and redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return granted`;
const ACQUIRE_SHA = createHash('sha1').update(ACQUIRE).digest('hex');

@Injectable()
export class ScriptConcurrency {
  constructor(private readonly redis: RedisService) {}

  /** Takes a slot for `executionId` if fewer than `limit` runs of the script hold one. */
  async tryAcquire(scriptId: string, executionId: string, limit: number, leaseMs: number): Promise<boolean> {
    return (await this.tryAcquireMany(scriptId, [executionId], limit, leaseMs)).has(executionId);
  }

  /** Takes slots for as many of `executionIds` (in order) as the limit leaves room for; answers those that hold one. */
  async tryAcquireMany(scriptId: string, executionIds: string[], limit: number, leaseMs: number): Promise<Set<string>> {
    if (executionIds.length === 0) return new Set();
    const now = Date.now();
    const args = [this.key(scriptId), String(now), String(limit), String(now + leaseMs), String(leaseMs), ...executionIds];
    // EVALSHA by hand: ioredis's defineCommand sends the whole script (EVAL) whenever it is auto-pipelined.
    const granted = (await this.redis.client.evalsha(ACQUIRE_SHA, 1, ...args).catch((error: Error) => {
      if (!error.message.includes('NOSCRIPT')) throw error;
      return this.redis.client.eval(ACQUIRE, 1, ...args); // loads it for the next calls
    })) as string[];
    return new Set(granted);
  }

  /** Extends the leases of slots `executionIds` still hold (those already gone stay gone). */
  async renew(scriptId: string, executionIds: string[], leaseMs: number): Promise<void> {
    if (executionIds.length === 0) return;
    const expiresAt = String(Date.now() + leaseMs);
    const key = this.key(scriptId);
    await Promise.all([this.redis.client.zadd(key, 'XX', ...executionIds.flatMap((id) => [expiresAt, id])), this.redis.client.pexpire(key, leaseMs)]);
  }

  async release(scriptId: string, executionIds: string | string[]): Promise<void> {
    const ids = typeof executionIds === 'string' ? [executionIds] : executionIds;
    if (ids.length) await this.redis.client.zrem(this.key(scriptId), ...ids);
  }

  private key(scriptId: string): string {
    return this.redis.key('script-running', scriptId);
  }
}
