import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG } from '@provisio/platform';
import { CLOCK, Clock } from '../clock';
import type { AppConfig } from '../config';
import { ReconciliationFiringService } from './reconciliation-firing.service';

/**
 * Each replica's loop over reconciliation schedules, beside the script firing loop: fill missing
 * `next_run_at`, fire what is due, then sleep until the next occurrence or SCHEDULER_POLL_INTERVAL_MS,
 * whichever comes first. The database decides who fires what (see ReconciliationFiringService).
 * Reconciliation schedules are hourly at the most frequent (or a cron): no preparation ahead of the
 * instant, an occurrence fires within a poll interval of its time.
 */
@Injectable()
export class ReconciliationFiringLoop implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ReconciliationFiringLoop.name);
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;

  constructor(
    private readonly firing: ReconciliationFiringService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.SCHEDULER_FIRING_ENABLED) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after the transaction in hand: a claim never commits half-way. */
  async onModuleDestroy(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** One pass over what is due now. */
  async tick(): Promise<void> {
    const batch = this.config.SCHEDULER_BATCH_SIZE;
    while ((await this.firing.scheduleNew()) === batch && this.running);
    while ((await this.firing.fireDue()) === batch && this.running);
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.tick();
        const next = await this.firing.nextDueAt();
        const until = next ? next.getTime() - this.clock.now().getTime() + 1 : Infinity;
        await this.sleep(Math.max(0, Math.min(this.config.SCHEDULER_POLL_INTERVAL_MS, until)));
      } catch (error) {
        this.logger.error({ message: 'reconciliation firing pass failed; retrying', error: (error as Error).message });
        await this.sleep(1_000);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.wake = finish;
    });
  }
}
