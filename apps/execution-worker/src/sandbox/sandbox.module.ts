import { Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { SandboxPool } from '@provisio/sandbox';
import { APP_CONFIG, Metrics } from '@provisio/platform';
import type { AppConfig } from '../config';

/** The QuickJS worker-thread pool, one per process, closed after in-flight runs on shutdown. */
@Injectable()
export class SandboxPoolLifecycle implements OnApplicationShutdown {
  constructor(@Inject(SandboxPool) private readonly pool: SandboxPool, metrics: Metrics) {
    metrics.observeSandboxPool(() => pool.stats());
  }
  async onApplicationShutdown(): Promise<void> {
    await this.pool.close();
  }
}

@Global()
@Module({
  providers: [
    {
      provide: SandboxPool,
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig) => {
        const pool = new SandboxPool(config.SANDBOX_POOL_SIZE > 0 ? { size: config.SANDBOX_POOL_SIZE } : {});
        await pool.ready();
        return pool;
      },
    },
    SandboxPoolLifecycle,
  ],
  exports: [SandboxPool],
})
export class SandboxModule {}
