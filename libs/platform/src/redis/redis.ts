import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { APP_CONFIG } from '../tokens';

export interface RedisSettings {
  REDIS_URL: string;
  REDIS_KEY_PREFIX: string;
}

/** The service's Redis connection (BullMQ opens its own from `connectionOptions`). */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  readonly client: Redis;

  constructor(@Inject(APP_CONFIG) readonly settings: RedisSettings) {
    // Auto-pipelining: commands issued in the same tick go out in one write (hundreds of runs taking and
    // freeing their run slots at once cost one socket write, not hundreds).
    this.client = new Redis(settings.REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 3, enableOfflineQueue: true, enableAutoPipelining: true });
  }

  /** Options for BullMQ queues and workers (they need `maxRetriesPerRequest: null`). */
  connectionOptions() {
    return { url: this.settings.REDIS_URL, maxRetriesPerRequest: null } as const;
  }

  key(...parts: string[]): string {
    return [this.settings.REDIS_KEY_PREFIX, ...parts].join(':');
  }

  async ping(): Promise<void> {
    const answer = await this.client.ping();
    if (answer !== 'PONG') throw new Error(`unexpected PING answer ${answer}`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
