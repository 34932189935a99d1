import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Job as BullJob, Queue as BullQueue, DelayedError, UnrecoverableError, Worker } from 'bullmq';
import { DataSource, EntityManager } from 'typeorm';
import { createCloudEvent, EventType, Job, messageKey, Queue, Topic } from '@provisio/contracts';
import { APP_CONFIG, Metrics, OutboxService, RedisService } from '@provisio/platform';
import type { AppConfig } from '../config';
import { ExecutionRow, ExecutionsRepository } from './executions.repository';
import { ConcurrencyLimitReached, EXECUTION_SOURCE, ExecutionRunner } from './execution-runner.service';

/** Event-triggered runs get 3 attempts in all (seed 001: "maximum 3 retry attempts"), then a dead letter. */
export const EVENT_ATTEMPTS = 3;

interface AttemptOutcome {
  status: string;
  trigger: string;
  error: string | null;
  /** The attempt failed and another one is due (after this transaction commits). */
  retry: boolean;
}

export interface ExecuteScriptJob {
  execution_id: string;
}

/**
 * The execution queue (BullMQ on Redis). Jobs carry only the execution id; the processor reloads the
 * row. The job id IS the execution id, so enqueueing twice (a sweep after a crash) is a no-op.
 *
 * Exactly once: each attempt runs and records in one database transaction holding the row lock, and
 * first checks whether that attempt was already recorded (a job whose worker died after the commit is
 * re-run by BullMQ's stalled-job check and must not run the script again).
 */
@Injectable()
export class ExecutionQueue implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ExecutionQueue.name);
  private readonly queue: BullQueue<ExecuteScriptJob>;
  private worker?: Worker<ExecuteScriptJob>;
  private sweepTimer?: NodeJS.Timeout;

  constructor(
    private readonly dataSource: DataSource,
    private readonly executions: ExecutionsRepository,
    private readonly runner: ExecutionRunner,
    private readonly outbox: OutboxService,
    private readonly redis: RedisService,
    private readonly metrics: Metrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.queue = new BullQueue<ExecuteScriptJob>(Queue.ScriptExecutions, { connection: redis.connectionOptions(), prefix: redis.key('bull') });
  }

  onApplicationBootstrap(): void {
    this.worker = new Worker<ExecuteScriptJob>(Queue.ScriptExecutions, (job, token) => this.process(job, token), {
      connection: this.redis.connectionOptions(),
      prefix: this.redis.key('bull'),
      concurrency: this.config.EXECUTION_CONCURRENCY,
      // A killed worker's jobs are noticed within seconds and run again (the processor is idempotent).
      lockDuration: 15_000,
      stalledInterval: 5_000,
      maxStalledCount: 5,
    });
    this.worker.on('error', (error) => this.logger.error({ message: 'execution queue worker error', error: error.message }));
    this.sweepTimer = setInterval(() => void this.sweep().catch((error: Error) => this.logger.error({ message: 'sweep failed', error: error.message })), this.config.EXECUTION_SWEEP_INTERVAL_MS);
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.sweepTimer);
    // Waits for the jobs in hand; BullMQ hands the rest back to the queue.
    await this.worker?.close();
    await this.queue.close();
  }

  async enqueue(executions: { id: string; trigger_type: string }[]): Promise<void> {
    if (executions.length === 0) return;
    await this.queue.addBulk(
      executions.map((e) => ({
        name: Job.ExecuteScript,
        data: { execution_id: e.id },
        opts: {
          jobId: e.id,
          attempts: e.trigger_type === 'event' ? EVENT_ATTEMPTS : 1,
          backoff: { type: 'exponential', delay: this.config.SCRIPT_EVENT_RETRY_BASE_DELAY_MS },
          removeOnComplete: { age: 3_600, count: 10_000 },
          removeOnFail: { age: 24 * 3_600 },
        },
      })),
    );
  }

  /** Re-enqueues pending executions whose job was lost (the process died between commit and enqueue). */
  async sweep(): Promise<number> {
    const stale = await this.executions.stalePending(this.dataSource.manager, this.config.EXECUTION_SWEEP_INTERVAL_MS, 1_000);
    for (const { id } of stale) {
      // A job that ended (its infrastructure retries exhausted) while its execution is still pending would
      // block re-enqueueing under the same id: replace it.
      const job = await this.queue.getJob(id);
      if (job && ((await job.isFailed()) || (await job.isCompleted()))) await job.remove();
    }
    await this.enqueue(stale);
    if (stale.length) this.logger.warn({ message: 're-enqueued pending executions', count: stale.length });
    return stale.length;
  }

  private async process(job: BullJob<ExecuteScriptJob>, token?: string): Promise<string> {
    const attempt = job.attemptsMade; // 0 for the first run, 1 and 2 for the retries
    const attempts = job.opts.attempts ?? 1;
    // Infrastructure errors (database, Redis) throw out of the transaction, which rolls back; BullMQ
    // retries the job. A full concurrency slot is no attempt at all: the job just waits a little.
    let outcome: AttemptOutcome;
    try {
      outcome = await this.dataSource.transaction((manager) => this.attempt(manager, job.data.execution_id, attempt, attempt + 1 >= attempts));
    } catch (error) {
      if (!(error instanceof ConcurrencyLimitReached)) throw error;
      await job.moveToDelayed(Date.now() + 50 + Math.floor(Math.random() * 150), token);
      throw new DelayedError();
    }
    this.metrics.scriptExecutions.inc({ trigger: outcome.trigger, status: outcome.status });
    // A failed attempt is committed first; only then is the job failed so BullMQ schedules the next one.
    if (outcome.retry) throw new Error(`attempt ${attempt + 1} of ${attempts} ended ${outcome.status}: ${outcome.error ?? ''}`);
    return outcome.status;
  }

  private async attempt(manager: EntityManager, rootId: string, retryCount: number, last: boolean): Promise<AttemptOutcome> {
    const root = await this.executions.lock(manager, rootId);
    if (!root) throw new UnrecoverableError(`execution ${rootId} does not exist`);
    let execution: ExecutionRow = root;
    if (retryCount > 0) execution = (await this.executions.findAttempt(manager, rootId, retryCount)) ?? (await this.executions.createAttempt(manager, root, retryCount));

    let status = execution.status;
    let error = execution.error;
    if (!this.executions.isTerminal(status)) {
      const script = await this.executions.loadScript(manager, execution.script_id);
      if (!script || (script.status !== 'active' && execution.trigger_type !== 'manual' && execution.trigger_type !== 'api')) {
        await this.executions.skip(manager, execution.id, script ? `script is ${script.status}` : 'script no longer exists');
        await this.runner.announce(manager, execution, 'skipped', 0, 'script not active');
        return { status: 'skipped', trigger: root.trigger_type, retry: false, error: null };
      }
      const { result } = await this.runner.run(manager, execution, script);
      status = result.status;
      error = result.error;
    }
    const outcome = { status, trigger: root.trigger_type, error, retry: false };
    if (status === 'completed' || status === 'skipped' || root.trigger_type !== 'event') return outcome;
    if (!last) return { ...outcome, retry: true };
    await this.deadLetter(manager, root, execution, error ?? status);
    return { ...outcome, status: 'dead_lettered' };
  }

  /** The final failure of an event-triggered run: a `script_event_dead_letters` row and a `.dlq` event. */
  private async deadLetter(manager: EntityManager, root: ExecutionRow, last: ExecutionRow, error: string): Promise<void> {
    const existing: unknown[] = await manager.query('SELECT 1 FROM script_event_dead_letters WHERE execution_id = $1', [last.id]);
    if (existing.length) return;
    const [row]: { id: string }[] = await manager.query(
      `INSERT INTO script_event_dead_letters (script_id, tenant_id, execution_id, event_type, event_data, error, retry_count)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) RETURNING id`,
      [root.script_id, root.tenant_id, last.id, String(root.trigger_data.event_type ?? 'unknown'), JSON.stringify({ ...root.trigger_data, data: root.input }), error, EVENT_ATTEMPTS - 1],
    );
    await this.outbox.enqueue(manager, {
      topic: Topic.ScriptEventsDlq,
      key: messageKey.tenantScript(root.tenant_id, root.script_id),
      event: createCloudEvent({
        source: EXECUTION_SOURCE,
        type: EventType.ScriptEventDeadLettered,
        tenantid: root.tenant_id,
        subject: row.id,
        data: { dead_letter_id: row.id, script_id: root.script_id, execution_id: last.id, event_type: root.trigger_data.event_type, event: { ...root.trigger_data, data: root.input }, error, attempts: EVENT_ATTEMPTS },
      }),
    });
    this.logger.warn({ message: 'event-triggered run dead-lettered', script_id: root.script_id, execution_id: last.id, error });
  }
}
