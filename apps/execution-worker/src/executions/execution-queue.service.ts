import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Job as BullJob, Queue as BullQueue, DelayedError, UnrecoverableError, Worker } from 'bullmq';
import { DataSource, EntityManager } from 'typeorm';
import { createCloudEvent, EventType, Job, messageKey, Queue, Topic } from '@provisio/contracts';
import { APP_CONFIG, Metrics, OutboxService, RedisService } from '@provisio/platform';
import type { AppConfig } from '../config';
import { ExecutionRow, ExecutionsRepository, ScriptToRun } from './executions.repository';
import { ConcurrencyLimitReached, EXECUTION_SOURCE, ExecutionRunner, SandboxRun } from './execution-runner.service';

/** Event-triggered runs get 3 attempts in all (seed 001: "maximum 3 retry attempts"), then a dead letter. */
export const EVENT_ATTEMPTS = 3;

interface Prepared {
  root: ExecutionRow;
  execution: ExecutionRow;
  /** Undefined when the attempt was already recorded (a job re-run after its worker died). */
  script?: ScriptToRun;
  /** Why it was skipped (the script is not active or gone). */
  skipped?: string;
}

interface AttemptOutcome {
  status: string;
  trigger: string;
  error: string | null;
  /** The attempt failed and another one is due (after this transaction commits). */
  retry: boolean;
}

export interface ExecuteScriptJob {
  execution_id: string;
  /** Attempts already made before this job (a retry job after a failed inline first attempt). */
  retry_offset?: number;
}

/**
 * The execution queue (BullMQ on Redis). Jobs carry only the execution id; the processor reloads the
 * row. The job id IS the execution id, so enqueueing twice (a sweep after a crash) is a no-op.
 *
 * Exactly once on record: an attempt that was already recorded is not run again (a job whose worker
 * died after the commit is re-run by BullMQ's stalled-job check), and recording locks the row and
 * re-checks, so two runs of one attempt (a stalled job taken over while its first worker still ran)
 * record once.
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

  /**
   * Runs first attempts now (the execution-requests consumer calls this right after its commit): no
   * queue round trips on the happy path. One statement claims them all (marks them running).
   */
  async runNow(executions: { id: string; trigger_type: string }[]): Promise<void> {
    if (executions.length === 0) return;
    const claimed = await this.executions.claimManyForRun(this.dataSource.manager, executions.map((e) => e.id));
    const claimedIds = new Set(claimed.map((c) => c.execution.id));
    // Recorded already, or gone: the queue decides.
    await this.runCreated(claimed, executions.filter((e) => !claimedIds.has(e.id)));
  }

  /**
   * Runs first attempts created (or claimed) running by this worker, and records them all in one
   * statement. A failed event-triggered run is handed to the queue for its retries; a run that cannot
   * start (other replicas hold the script's slots, an infrastructure error) is handed to the queue as is.
   */
  async runCreated(claimed: { execution: ExecutionRow; script: ScriptToRun }[], notClaimed: { id: string; trigger_type: string }[] = []): Promise<void> {
    const queued = [...notClaimed];
    const runs: { execution: ExecutionRow; scriptVersion: number; run: SandboxRun }[] = [];
    await Promise.all(
      claimed.map(async ({ execution, script }) => {
        if (!this.runnable(execution, script)) return queued.push(execution); // the careful path skips it
        try {
          runs.push({ execution, scriptVersion: script.current_version, run: await this.runner.execute(execution, script) });
        } catch (error) {
          if (!(error instanceof ConcurrencyLimitReached)) this.logger.warn({ message: 'inline run failed; queued', execution_id: execution.id, error: (error as Error).message });
          queued.push(execution);
        }
      }),
    );
    const recorded = await this.runner.recordMany(this.dataSource.manager, runs);
    const retries: string[] = [];
    for (const { execution, run } of runs) {
      if (!recorded.has(execution.id)) continue; // recorded by someone else meanwhile
      this.metrics.scriptExecutions.inc({ trigger: execution.trigger_type, status: run.result.status });
      if (execution.trigger_type === 'event' && run.result.status !== 'completed') retries.push(execution.id);
    }
    await Promise.all(retries.map((id) => this.enqueueRetry(id, 1)));
    await this.enqueue(queued);
  }

  /** The retries of an event-triggered run whose first `retryOffset` attempts failed, with doubling delays. */
  private async enqueueRetry(executionId: string, retryOffset: number): Promise<void> {
    const base = this.config.SCRIPT_EVENT_RETRY_BASE_DELAY_MS;
    await this.queue.add(Job.ExecuteScript, { execution_id: executionId, retry_offset: retryOffset }, {
      jobId: `${executionId}-retry`,
      attempts: EVENT_ATTEMPTS - retryOffset,
      delay: base * 2 ** (retryOffset - 1),
      // BullMQ waits delay × 2^(attemptsMade − 1) after the n-th failure of this job: 2 × base after the first.
      backoff: { type: 'exponential', delay: base * 2 ** retryOffset },
      removeOnComplete: { age: 3_600, count: 10_000 },
      removeOnFail: { age: 24 * 3_600 },
    });
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

  /**
   * Re-enqueues executions a crash left behind: pending ones whose run never started (the process died
   * between commit and run) and running ones past their time limit (it died mid-run).
   */
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
    // 0 for the first run, 1 and 2 for the retries.
    const retryCount = (job.data.retry_offset ?? 0) + job.attemptsMade;
    const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    // Infrastructure errors (database, Redis) are thrown: BullMQ retries the job. A full concurrency slot
    // is no attempt at all: the job just waits a little.
    let outcome: AttemptOutcome;
    try {
      outcome = await this.attempt(job.data.execution_id, retryCount, last);
    } catch (error) {
      if (!(error instanceof ConcurrencyLimitReached)) throw error;
      await job.moveToDelayed(Date.now() + 50 + Math.floor(Math.random() * 150), token);
      throw new DelayedError();
    }
    this.metrics.scriptExecutions.inc({ trigger: outcome.trigger, status: outcome.status });
    // A failed attempt is committed first; only then is the job failed so BullMQ schedules the next one.
    if (outcome.retry) throw new Error(`attempt ${retryCount + 1} ended ${outcome.status}: ${outcome.error ?? ''}`);
    return outcome.status;
  }

  /** One attempt: prepare (one statement on the first attempt), run (no transaction), record (one statement). */
  private async attempt(rootId: string, retryCount: number, last: boolean): Promise<AttemptOutcome> {
    const prepared = (retryCount === 0 && (await this.claimFirst(rootId))) || (await this.dataSource.transaction((manager) => this.prepare(manager, rootId, retryCount)));
    const { root, execution, script } = prepared;
    const trigger = root.trigger_type;
    if (prepared.skipped) return { status: 'skipped', trigger, error: prepared.skipped, retry: false };

    let status = execution.status;
    let error = execution.error;
    const failedFinally = (s: string) => trigger === 'event' && last && s !== 'completed' && s !== 'skipped';
    if (script) {
      const run = await this.runner.execute(execution, script);
      const recorded = failedFinally(run.result.status)
        ? // The final failure and its dead letter commit together.
          await this.dataSource.transaction(async (manager) => {
            const outcome = await this.runner.record(manager, execution, script.current_version, run);
            if (outcome.recordedNow) await this.deadLetter(manager, root, execution, outcome.error ?? outcome.status);
            return outcome;
          })
        : await this.runner.record(this.dataSource.manager, execution, script.current_version, run);
      status = recorded.status;
      error = recorded.error;
    } else if (failedFinally(status)) {
      // Recorded by an earlier run of this job that died before dead-lettering: finish the job's work.
      await this.dataSource.transaction((manager) => this.deadLetter(manager, root, execution, error ?? status));
    }
    const outcome = { status, trigger, error, retry: false };
    if (status === 'completed' || status === 'skipped' || trigger !== 'event') return outcome;
    return last ? { ...outcome, status: 'dead_lettered' } : { ...outcome, retry: true };
  }

  /** The hot path of a first attempt: claimed with its script in one statement, when it is runnable. */
  private async claimFirst(rootId: string): Promise<Prepared | undefined> {
    const claimed = await this.executions.claimForRun(this.dataSource.manager, rootId);
    if (!claimed || !this.runnable(claimed.execution, claimed.script)) return undefined; // the careful path decides
    return { root: claimed.execution, execution: claimed.execution, script: claimed.script };
  }

  /** Requests made by a person (manual, api) run whatever the status; triggers fire for active scripts only. */
  private runnable(execution: ExecutionRow, script: ScriptToRun | undefined): boolean {
    return !!script && (script.status === 'active' || execution.trigger_type === 'manual' || execution.trigger_type === 'api');
  }

  /**
   * Finds (or creates) the row of this attempt and marks it running; `script` is undefined when the
   * attempt was already recorded (a job re-run after its worker died).
   */
  private async prepare(manager: EntityManager, rootId: string, retryCount: number): Promise<Prepared> {
    const root = await this.executions.lock(manager, rootId);
    if (!root) throw new UnrecoverableError(`execution ${rootId} does not exist`);
    const execution = retryCount === 0 ? root : ((await this.executions.findAttempt(manager, rootId, retryCount)) ?? (await this.executions.createAttempt(manager, root, retryCount)));
    if (this.executions.isTerminal(execution.status)) return { root, execution };
    const script = await this.executions.loadScript(manager, execution.script_id);
    if (!this.runnable(execution, script)) {
      const reason = script ? `script is ${script.status}` : 'script no longer exists';
      await this.executions.skip(manager, execution.id, reason);
      await this.runner.announce(manager, execution, 'skipped', 0, reason);
      return { root, execution, skipped: reason };
    }
    await manager.query(`UPDATE script_executions SET status = 'running', started_at = clock_timestamp() WHERE id = $1`, [execution.id]);
    return { root, execution, script: script! };
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
