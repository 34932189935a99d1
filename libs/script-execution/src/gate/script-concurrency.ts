import { createHash, randomUUID } from 'node:crypto';
import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { RedisService } from '@provisio/platform';

/**
 * The cross-replica step of ScriptRunGate: `max_concurrent_runs` per script across every replica: a Redis sorted set of slot holders scored by
 * lease expiry. A holder that dies releases nothing: its leases simply run out.
 *
 * The slots this process holds are its own tokens (`<process>:<n>`), not execution ids, so one slot
 * serves run after run: `take` hands out a token the process already holds when it can (no round trip),
 * asks Redis for as many more as runs are waiting (one round trip for all that arrive in the same turn
 * of the event loop), and `give` hands a token to the next run waiting for one. Tokens nobody wants
 * for LINGER_MS go back to Redis, so other replicas get them; held ones are renewed while held. A round
 * trip per run is what costs on a small machine, not the run.
 *
 * KEYS[1] the set; ARGV: now, limit, lease expiry, lease ms, then the holder ids, granted in order while
 * there is room. Answers the ids that hold a slot.
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

/** How long a token nobody asks for stays with this process before it goes back to Redis. */
const LINGER_MS = 50;

/** This process's hold on one script's slots (per limit: a script saved with a new limit starts afresh). */
interface ScriptSlots {
  scriptId: string;
  key: string;
  limit: number;
  leaseMs: number;
  /** Tokens Redis granted this process and that it has not released. */
  held: Set<string>;
  /** Held tokens no run uses right now. */
  idle: string[];
  /** Runs waiting for a token, in order. */
  waiting: ((token: string | undefined | Error) => void)[];
  acquiring: boolean;
  flushScheduled: boolean;
  linger?: NodeJS.Timeout;
  renewal?: NodeJS.Timeout;
}

@Injectable()
export class ScriptConcurrency implements OnModuleDestroy {
  private readonly process = randomUUID();
  private next = 0;
  private readonly scripts = new Map<string, ScriptSlots>();

  constructor(private readonly redis: RedisService) {}

  /**
   * A slot for one run of the script: a token to `give` back when the run ends, or undefined when the
   * script's `limit` slots are all held (by other replicas: callers keep this process's own runs of a
   * script within the limit).
   */
  take(scriptId: string, limit: number, leaseMs: number): Promise<string | undefined> {
    const key = `${scriptId}:${limit}`;
    let slots = this.scripts.get(key);
    if (!slots) this.scripts.set(key, (slots = { scriptId, key, limit, leaseMs, held: new Set(), idle: [], waiting: [], acquiring: false, flushScheduled: false }));
    slots.leaseMs = Math.max(slots.leaseMs, leaseMs);
    const token = slots.idle.pop();
    if (token) return Promise.resolve(token);
    return new Promise((resolve, reject) => {
      slots.waiting.push((answer) => (answer instanceof Error ? reject(answer) : resolve(answer)));
      this.scheduleAcquire(slots);
    });
  }

  /** Gives back the token of a run that ended: to the next run waiting, or idle until LINGER_MS passes. */
  give(scriptId: string, limit: number, token: string): void {
    const slots = this.scripts.get(`${scriptId}:${limit}`);
    if (!slots?.held.has(token)) return;
    const waiter = slots.waiting.shift();
    if (waiter) return waiter(token);
    slots.idle.push(token);
    slots.linger ??= setTimeout(() => this.releaseIdle(slots), LINGER_MS);
  }

  async onModuleDestroy(): Promise<void> {
    const all = [...this.scripts.values()];
    this.scripts.clear();
    await Promise.all(
      all.map((slots) => {
        clearTimeout(slots.linger);
        clearInterval(slots.renewal);
        slots.waiting.splice(0).forEach((waiter) => waiter(undefined));
        return this.release(slots.scriptId, [...slots.held]).catch(() => undefined);
      }),
    );
  }

  private scheduleAcquire(slots: ScriptSlots): void {
    if (slots.flushScheduled || slots.acquiring) return;
    slots.flushScheduled = true;
    // The runs that ask in the same turn of the event loop share one round trip.
    setImmediate(() => {
      slots.flushScheduled = false;
      void this.acquire(slots);
    });
  }

  private async acquire(slots: ScriptSlots): Promise<void> {
    const wanted = Math.min(slots.waiting.length, slots.limit - slots.held.size);
    const askers = slots.waiting.splice(0, slots.waiting.length);
    if (wanted <= 0) return askers.forEach((waiter) => waiter(undefined));
    slots.acquiring = true;
    const tokens = Array.from({ length: wanted }, () => `${this.process}:${this.next++}`);
    // Redis unreachable: the callers fail (an infrastructure error, retried), and the next ask tries again.
    const answers: (string | undefined | Error)[] = await this.tryAcquireMany(slots.scriptId, tokens, slots.limit, slots.leaseMs).then(
      (granted) => [...granted],
      (error: Error) => askers.map(() => error),
    );
    slots.acquiring = false;
    for (const answer of answers) if (typeof answer === 'string') slots.held.add(answer);
    if (slots.held.size && !slots.renewal) {
      // Held tokens outlive a single run's lease: renewed while held; a dead process's still run out.
      slots.renewal = setInterval(() => void this.renew(slots.scriptId, [...slots.held], slots.leaseMs).catch(() => undefined), Math.max(1_000, slots.leaseMs / 3));
      slots.renewal.unref();
    }
    askers.forEach((waiter, i) => waiter(answers[i]));
    if (slots.waiting.length) this.scheduleAcquire(slots);
    else if (!slots.held.size) this.forget(slots);
  }

  private releaseIdle(slots: ScriptSlots): void {
    slots.linger = undefined;
    const tokens = slots.idle.splice(0);
    for (const token of tokens) slots.held.delete(token);
    void this.release(slots.scriptId, tokens).catch(() => undefined); // a failed release only leaves leases to run out
    if (!slots.held.size && !slots.waiting.length && !slots.acquiring) this.forget(slots);
  }

  private forget(slots: ScriptSlots): void {
    clearInterval(slots.renewal);
    slots.renewal = undefined;
    if (this.scripts.get(slots.key) === slots) this.scripts.delete(slots.key);
  }

  /** Scripts this process holds slots of, or waits for (tests check that idle ones are forgotten). */
  get scriptsHeld(): number {
    return this.scripts.size;
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

  /** Extends the leases of slots `holders` still have (those already gone stay gone). */
  async renew(scriptId: string, holders: string[], leaseMs: number): Promise<void> {
    if (holders.length === 0) return;
    const expiresAt = String(Date.now() + leaseMs);
    const key = this.key(scriptId);
    await Promise.all([this.redis.client.zadd(key, 'XX', ...holders.flatMap((id) => [expiresAt, id])), this.redis.client.pexpire(key, leaseMs)]);
  }

  async release(scriptId: string, executionIds: string | string[]): Promise<void> {
    const ids = typeof executionIds === 'string' ? [executionIds] : executionIds;
    if (ids.length) await this.redis.client.zrem(this.key(scriptId), ...ids);
  }

  private key(scriptId: string): string {
    return this.redis.key('script-running', scriptId);
  }
}
