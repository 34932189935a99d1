import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ExecutionRecords, RUNNING_GRACE_MS } from './execution-records.repository';

/** How often the heartbeat looks for rows due a refresh. */
const TICK_MS = 500;
/** No row is refreshed more often than this. */
const MIN_REFRESH_MS = 1_000;

/**
 * Keeps the rows of the executions this process holds from looking abandoned.
 *
 * A row says `running` from the moment a worker commits to its run (event executions are created
 * running), but the run may first wait its turn: behind the script's other runs when
 * `max_concurrent_runs` is low, for a run slot, for a sandbox thread. The recovery sweep
 * (the execution worker's `ExecutionQueue.sweep`) re-queues rows running for longer than their time limit + RUNNING_GRACE_MS,
 * taking them for runs whose worker died, so without this a long wait here would be run twice. While
 * this process holds a run, its row's `started_at` moves forward each time a third of that threshold
 * has passed: a normal run (done well within a third) costs no write at all. Recording sets the run's
 * real start.
 */
@Injectable()
export class ExecutionHeartbeat implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ExecutionHeartbeat.name);
  /** Execution id → when its row is next due, and how often. */
  private readonly held = new Map<string, { due: number; every: number }>();
  private timer?: NodeJS.Timeout;
  private beating?: Promise<number>;

  constructor(private readonly records: ExecutionRecords) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.beat(), TICK_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
  }

  /** This process holds the execution's run from now until release(). */
  hold(id: string, timeLimitMs: number): void {
    const every = Math.max(MIN_REFRESH_MS, (timeLimitMs + RUNNING_GRACE_MS) / 3);
    this.held.set(id, { due: Date.now() + every, every });
  }

  release(id: string): void {
    this.held.delete(id);
  }

  /** Refreshes the rows that are due, in one statement; returns how many were due. */
  beat(): Promise<number> {
    if (this.beating) return this.beating;
    const now = Date.now();
    const due: string[] = [];
    for (const [id, entry] of this.held) {
      if (entry.due > now) continue;
      due.push(id);
      entry.due = now + entry.every;
    }
    if (due.length === 0) return Promise.resolve(0);
    this.beating = this.records
      .touchRunning(due)
      .then(
        () => due.length,
        (error: Error) => {
          this.logger.error({ message: 'could not refresh the rows of held executions', count: due.length, error: error.message });
          return 0;
        },
      )
      .finally(() => (this.beating = undefined));
    return this.beating;
  }
}
