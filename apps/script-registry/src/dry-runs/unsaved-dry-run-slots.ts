import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, RateLimitedError } from '@provisio/platform';
import type { AppConfig } from '../config';

/** What a refused dry run tells its caller to wait (seconds): a dry run takes at most 30 s, most a few ms. */
export const DRY_RUN_RETRY_AFTER_SECONDS = 1;

/**
 * Concurrency caps of unsaved dry runs (any source a caller posts, not yet a script an administrator's
 * caps have seen): at most REGISTRY_UNSAVED_DRY_RUNS per process and REGISTRY_UNSAVED_DRY_RUNS_PER_TENANT
 * per tenant at once, counted from the request to the answer (waiting for the sandbox included). Beyond
 * them the request is refused at once, 429 with Retry-After, instead of queueing without bound.
 */
@Injectable()
export class UnsavedDryRunSlots {
  private inFlight = 0;
  private readonly byTenant = new Map<string, number>();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async run<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
    const tenant = this.byTenant.get(tenantId) ?? 0;
    if (this.inFlight >= this.config.REGISTRY_UNSAVED_DRY_RUNS) {
      throw new RateLimitedError(`too many unsaved dry runs at once in this process (${this.config.REGISTRY_UNSAVED_DRY_RUNS}); retry in ${DRY_RUN_RETRY_AFTER_SECONDS} s`, DRY_RUN_RETRY_AFTER_SECONDS);
    }
    if (tenant >= this.config.REGISTRY_UNSAVED_DRY_RUNS_PER_TENANT) {
      throw new RateLimitedError(`too many unsaved dry runs at once for this tenant (${this.config.REGISTRY_UNSAVED_DRY_RUNS_PER_TENANT}); retry in ${DRY_RUN_RETRY_AFTER_SECONDS} s`, DRY_RUN_RETRY_AFTER_SECONDS);
    }
    this.inFlight++;
    this.byTenant.set(tenantId, tenant + 1);
    try {
      return await work();
    } finally {
      this.inFlight--;
      const left = (this.byTenant.get(tenantId) ?? 1) - 1;
      if (left > 0) this.byTenant.set(tenantId, left);
      else this.byTenant.delete(tenantId);
    }
  }
}
