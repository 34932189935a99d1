import { Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { SandboxPool } from '@provisio/sandbox';

/**
 * Worker threads of the registry's sandbox. The registry only compiles (validation, template checks) and
 * runs dry runs, which are rare and interactive: one QuickJS worker is enough, and keeps the API process
 * small. Runs beyond it queue in the pool.
 */
export const REGISTRY_SANDBOX_POOL_SIZE = 1;

@Injectable()
export class RegistrySandboxLifecycle implements OnApplicationShutdown {
  constructor(@Inject(SandboxPool) private readonly pool: SandboxPool) {}

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
      useFactory: async () => {
        const pool = new SandboxPool({ size: REGISTRY_SANDBOX_POOL_SIZE });
        await pool.ready();
        return pool;
      },
    },
    RegistrySandboxLifecycle,
  ],
  exports: [SandboxPool],
})
export class RegistrySandboxModule {}
