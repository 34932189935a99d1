import { Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, Metrics } from '@provisio/platform';
import { SandboxPool } from '@provisio/sandbox';
import type { AppConfig } from '../config';

@Injectable()
export class RegistrySandboxLifecycle implements OnApplicationShutdown {
  constructor(@Inject(SandboxPool) private readonly pool: SandboxPool, metrics: Metrics) {
    metrics.observeSandboxPool(() => pool.stats());
  }

  /** After the HTTP server stopped taking requests: runs still queued end as failed. */
  async onApplicationShutdown(): Promise<void> {
    await this.pool.close();
  }
}

/** The registry's `SandboxPool` (one per process), ready before the app serves, closed on shutdown. */
@Module({
  providers: [
    {
      provide: SandboxPool,
      inject: [APP_CONFIG],
      // The registry only compiles (validation, template checks) and runs dry runs, which are rare and
      // interactive: one QuickJS worker by default keeps the API process small; more runs queue.
      useFactory: async (config: AppConfig) => {
        const pool = new SandboxPool({ size: config.REGISTRY_SANDBOX_POOL_SIZE });
        await pool.ready();
        return pool;
      },
    },
    RegistrySandboxLifecycle,
  ],
  exports: [SandboxPool],
})
export class RegistrySandboxModule {}
