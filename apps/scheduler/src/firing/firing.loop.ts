import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG } from '@provisio/platform';
import { CLOCK, Clock } from '../clock';
import type { AppConfig } from '../config';
import { LoopWakeups } from '../core.module';
import { FiringService, PreparedFiringAborted } from './firing.service';

/** The preparation never starts earlier than this before an instant, however slow the last one was. */
const PREPARE_AHEAD_CAP_MS = 5_000;
/** Stuck runs are looked for at most this often (the query scans running jobs). */
const SWEEP_EVERY_MS = 5_000;

/**
 * The replica's scheduling loop: release stuck runs, schedule new jobs, fire what is due (several claim
 * transactions at once while full batches keep coming); when the next occurrence is less than
 * SCHEDULER_PREPARE_AHEAD_MS away, prepare its firing and commit it on the instant; otherwise sleep until
 * then, or SCHEDULER_POLL_INTERVAL_MS, whichever comes first. Every replica runs one; the database decides
 * who fires what.
 */
@Injectable()
export class FiringLoop implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(FiringLoop.name);
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  /** A nudge that came while the loop was busy: the next sleep is skipped. */
  private nudged = false;
  private lastSweep = 0;

  constructor(
    private readonly firing: FiringService,
    wakeups: LoopWakeups,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    wakeups.listen(() => this.nudge());
  }

  onApplicationBootstrap(): void {
    if (!this.config.SCHEDULER_FIRING_ENABLED) {
      this.logger.log({ message: 'firing disabled (SCHEDULER_FIRING_ENABLED=false): API and outcomes only' });
      return;
    }
    this.running = true;
    this.loop = this.run();
    this.logger.log({ message: 'scheduling', replica: this.firing.replicaId });
  }

  /** Stops after the transaction in hand: an unfinished claim never commits half-way. */
  async onModuleDestroy(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** A run closed while its job is due, or a script changed: look now instead of at the next poll. */
  nudge(): void {
    if (!this.running) return;
    if (this.wake) this.wake();
    else this.nudged = true;
  }

  /** One pass over what is due now. */
  async tick(): Promise<void> {
    if (Date.now() - this.lastSweep >= SWEEP_EVERY_MS) {
      this.lastSweep = Date.now();
      await this.firing.releaseStuckRuns();
    }
    while ((await this.firing.scheduleNew()) === this.config.SCHEDULER_BATCH_SIZE && this.running);
    const claimer = async () => {
      while ((await this.firing.fireDue()) === this.config.SCHEDULER_BATCH_SIZE && this.running);
    };
    await Promise.all(Array.from({ length: this.config.SCHEDULER_CLAIM_CONCURRENCY }, claimer));
  }

  private async run(): Promise<void> {
    const poll = this.config.SCHEDULER_POLL_INTERVAL_MS;
    const configured = this.config.SCHEDULER_PREPARE_AHEAD_MS;
    // A prepared transaction is held open until its instant: stay well inside the claim timeout.
    const longest = Math.min(PREPARE_AHEAD_CAP_MS, this.config.SCHEDULER_CLAIM_TIMEOUT_MS - 1_000);
    while (this.running) {
      // On a slow or busy machine a big instant takes longer to prepare: start earlier (never later).
      const ahead = configured > 0 ? Math.min(longest, Math.max(configured, Math.round(this.firing.lastPreparationMs * 1.5))) : 0;
      try {
        await this.tick();
        const next = await this.firing.nextDueAt();
        const until = next ? next.getTime() - this.clock.now().getTime() : Infinity;
        if (next && ahead > 0 && until <= ahead) {
          // The next occurrence is close: prepare its firing now and commit it on the instant.
          const prepared = await this.firing.fireAt(next, () => this.holdUntil(next));
          // Nothing to prepare (its jobs are running, or another replica holds them): wait for the instant.
          if (prepared === 0) await this.holdUntil(next);
          continue;
        }
        // Wake when the next occurrence is `ahead` away (or at the next poll, or when nudged).
        // +1 ms: timers may fire a hair early; waking before the instant would find nothing to do.
        await this.sleep(Math.min(poll, Math.max(0, until - ahead + 1)));
      } catch (error) {
        if (error instanceof PreparedFiringAborted && !this.running) return; // stopping: the other replicas fire it
        this.logger.error({ message: 'scheduling pass failed; retrying', error: (error as Error).message });
        await this.sleep(1_000);
      }
    }
  }

  /**
   * Sleeps until `at`; runs due work that a nudge announces meanwhile (jobs released by a finished run).
   * Returns early only when the replica is stopping (a prepared firing then rolls back).
   */
  private async holdUntil(at: Date): Promise<void> {
    for (;;) {
      const left = at.getTime() - this.clock.now().getTime() + 1;
      if (left <= 0 || !this.running) return;
      await this.sleep(left);
      if (at.getTime() > this.clock.now().getTime() && this.running) {
        while ((await this.firing.fireDue()) === this.config.SCHEDULER_BATCH_SIZE && this.running);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.nudged || !this.running) {
      this.nudged = false;
      return Promise.resolve();
    }
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
