import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Job as BullJob, Queue as BullQueue, DelayedError, UnrecoverableError, Worker } from 'bullmq';
import { DataSource } from 'typeorm';
import { createCloudEvent, EventType, Job, messageKey, Queue, Topic } from '@provisio/contracts';
import { CrossTenant, TenantDatabase, TenantTransaction } from '@provisio/persistence';
import { APP_CONFIG, Metrics, RedisService, toStorableJson } from '@provisio/platform';
import { ConcurrencyLimitReached, ExecutionRecords, ExecutionRow, RecordedRun, SandboxRun, ScriptExecution, ScriptToRun } from '@provisio/script-execution';
import type { AppConfig } from '../config';
import { EXECUTION_SOURCE } from '../execution-source';
import { RunInputs } from '../parameters/run-inputs.service';
import { BY_EXECUTION_ID, ExecutionsRepository } from './executions.repository';

/** Event-triggered runs get 3 attempts in all (seed 001: "maximum 3 retry attempts"), then a dead letter. */
export const EVENT_ATTEMPTS = 3;

/**
 * A dead-letter event carries the event it is about unless that is larger than this: a message near the
 * broker's 1 MB limit would then not fit (the row keeps it whole, `GET /dead-letters/{id}`).
 */
const DEAD_LETTER_EVENT_MAX_CHARS = 256 * 1024;

/** BullMQ job states in which a job will still run (its execution is not lost). */
const LIVE_JOB_STATES = new Set(['waiting', 'delayed', 'active', 'prioritized', 'waiting-children']);

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
 *
 * Redis may lose everything: PostgreSQL holds what the queue must not forget. A first attempt's row
 * keeps `next_retry_at` while a retry of its failed event-triggered run is due, and the sweep enqueues
 * retries whose job is gone, as it re-enqueues executions a crash left behind. Each re-enqueue of an
 * abandoned execution counts in `recovery_count`; past EXECUTION_MAX_RECOVERIES it is failed instead
 * (a run that kills its worker would otherwise crash-loop the service).
 */
@Injectable()
export class ExecutionQueue implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ExecutionQueue.name);
  private readonly queue: BullQueue<ExecuteScriptJob>;
  private worker?: Worker<ExecuteScriptJob>;
  private sweepTimer?: NodeJS.Timeout;

  constructor(
    private readonly dataSource: DataSource,
    private readonly db: TenantDatabase,
    private readonly executions: ExecutionsRepository,
    private readonly runner: ScriptExecution,
    private readonly records: ExecutionRecords,
    private readonly inputs: RunInputs,
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
      // Once more after a stall, then the job fails and the sweep decides (recovery_count bounds it).
      maxStalledCount: 1,
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
    const claimed = await this.executions.claimManyForRun(executions.map((e) => e.id));
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
    const runs: { execution: ExecutionRow; scriptVersion: number; run: SandboxRun; nextRetryAt: Date | null }[] = [];
    await Promise.all(
      claimed.map(async ({ execution, script }) => {
        if (!this.runnable(execution, script)) return queued.push(execution); // the careful path skips it
        try {
          const run = await this.inputs.execute(execution, script);
          // A failed event-triggered run's first retry is due after the base delay: kept with the record.
          const nextRetryAt = execution.trigger_type === 'event' && run.result.status !== 'completed' ? new Date(run.completedAt.getTime() + this.retryDelayMs(0)) : null;
          runs.push({ execution, scriptVersion: run.scriptVersion, run, nextRetryAt });
        } catch (error) {
          if (!(error instanceof ConcurrencyLimitReached)) this.logger.warn({ message: 'inline run failed; queued', execution_id: execution.id, error: (error as Error).message });
          queued.push(execution);
        }
      }),
    );
    const recorded = await this.runner.recordMany(this.dataSource.manager, runs, async (execution, outcome, nextRetryAt) => {
      if (nextRetryAt && !outcome.unrecordable) await this.executions.scheduleRetry(this.db.statements(execution.tenant_id), execution.id, nextRetryAt);
    });
    const retries: string[] = [];
    for (const { execution } of runs) {
      const outcome = recorded.get(execution.id);
      if (!outcome) continue; // recorded by someone else meanwhile
      this.metrics.scriptExecutions.inc({ trigger: execution.trigger_type, status: outcome.status });
      if (execution.trigger_type !== 'event' || outcome.status === 'completed') continue;
      // A run that could not be recorded is not run again: its event is dead-lettered at once.
      if (outcome.unrecordable) await this.db.transaction(execution.tenant_id, (tx) => this.deadLetter(tx, execution, execution, outcome.error ?? 'failed'));
      else retries.push(execution.id);
    }
    await Promise.all(retries.map((id) => this.enqueueRetry(id, 1)));
    await this.enqueue(queued);
  }

  /** How long after attempt `retryCount` (0 for the first) failed the next one is due: doubling from the base. */
  private retryDelayMs(retryCount: number): number {
    return this.config.SCRIPT_EVENT_RETRY_BASE_DELAY_MS * 2 ** retryCount;
  }

  /** The retries of an event-triggered run whose first `retryOffset` attempts failed, with doubling delays. */
  private async enqueueRetry(executionId: string, retryOffset: number, delayMs = this.retryDelayMs(retryOffset - 1)): Promise<void> {
    const base = this.config.SCRIPT_EVENT_RETRY_BASE_DELAY_MS;
    await this.queue.add(Job.ExecuteScript, { execution_id: executionId, retry_offset: retryOffset }, {
      jobId: retryJobId(executionId),
      attempts: EVENT_ATTEMPTS - retryOffset,
      delay: delayMs,
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
   * between commit and run, or Redis lost the job) and running ones past their time limit (it died
   * mid-run); then the retries that were due and whose job is gone. Executions whose job is still
   * alive in the queue are left to it. Answers how many were re-enqueued.
   */
  async sweep(): Promise<number> {
    const stale = await this.executions.stalePending(this.config.EXECUTION_SWEEP_INTERVAL_MS, 1_000);
    const lost: string[] = [];
    const exhausted: { id: string; recoveries: number }[] = [];
    for (const { id, recovery_count } of stale) {
      if (!(await this.clearEndedJob(id))) continue;
      if (recovery_count >= this.config.EXECUTION_MAX_RECOVERIES) exhausted.push({ id, recoveries: recovery_count });
      else lost.push(id);
    }
    const requeued = await this.executions.countRecovery(lost);
    await this.enqueue(requeued);
    for (const { id, recoveries } of exhausted) await this.failAbandoned(id, recoveries);
    if (requeued.length) this.logger.warn({ message: 're-enqueued abandoned executions', count: requeued.length });
    return requeued.length + (await this.sweepRetries());
  }

  /**
   * True when no live job holds the execution's run (none, or one that ended: removed, since it would
   * block re-enqueueing under the same id); false when a job will still run it.
   */
  private async clearEndedJob(jobId: string): Promise<boolean> {
    const job = await this.queue.getJob(jobId);
    if (!job) return true;
    if (LIVE_JOB_STATES.has(await job.getState())) return false;
    await job.remove();
    return true;
  }

  /** Retries that were due more than a sweep interval ago and whose job is gone (Redis lost it): enqueued now. */
  private async sweepRetries(): Promise<number> {
    const due = await this.executions.dueRetries(this.config.EXECUTION_SWEEP_INTERVAL_MS, 1_000);
    let enqueued = 0;
    for (const { id, recovery_count, retries_recorded } of due) {
      if (!(await this.clearEndedJob(retryJobId(id)))) continue;
      if (recovery_count >= this.config.EXECUTION_MAX_RECOVERIES) {
        await this.abandonRetries(id, recovery_count);
        continue;
      }
      await this.executions.countRetryRecovery(id);
      // The attempt after those recorded (an attempt whose run died is run again); never past the last.
      await this.enqueueRetry(id, Math.min(1 + retries_recorded, EVENT_ATTEMPTS - 1), 0);
      enqueued++;
    }
    if (enqueued) this.logger.warn({ message: 're-enqueued retries the queue had lost', count: enqueued });
    return enqueued;
  }

  /** Retries re-enqueued too often (an attempt that kills its worker): no more attempts, the event is dead-lettered. */
  private async abandonRetries(rootId: string, recoveries: number): Promise<void> {
    const error = `abandoned: the retries were re-queued ${recoveries} times after their worker stopped or lost them (EXECUTION_MAX_RECOVERIES); no more attempts`;
    await this.db.allTenantsTransaction(BY_EXECUTION_ID, async (cross) => {
      const root = await this.executions.lock(cross, rootId);
      if (!root) return;
      const tx = cross.tenant(root.tenant_id);
      await this.executions.failAbandonedAttempts(tx, rootId, error);
      await this.deadLetter(tx, root, root, error);
      await this.executions.scheduleRetry(tx, rootId, null);
    });
    this.logger.error({ message: 'retries abandoned after too many recoveries', execution_id: rootId, recoveries });
  }

  /** An execution abandoned too often (its run may be what kills the worker): failed, announced, its event dead-lettered. */
  private async failAbandoned(id: string, recoveries: number): Promise<void> {
    const error = `abandoned: the run was re-queued ${recoveries} times after its worker stopped or lost it (EXECUTION_MAX_RECOVERIES); it is not run again`;
    const failed = await this.db.allTenantsTransaction(BY_EXECUTION_ID, async (cross) => {
      const execution = await this.executions.failAbandoned(cross, id, error);
      if (!execution) return undefined;
      const tx = cross.tenant(execution.tenant_id);
      await this.runner.announce(tx.manager, execution, 'failed', 0, error);
      if (execution.trigger_type === 'event') await this.deadLetter(tx, execution, execution, error);
      return execution;
    });
    if (!failed) return; // recorded meanwhile
    this.metrics.scriptExecutions.inc({ trigger: failed.trigger_type, status: 'failed' });
    this.logger.error({ message: 'execution failed after too many recoveries', execution_id: id, recoveries });
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
    const prepared = (retryCount === 0 && (await this.claimFirst(rootId))) || (await this.db.allTenantsTransaction(BY_EXECUTION_ID, (cross) => this.prepare(cross, rootId, retryCount)));
    const { root, execution, script } = prepared;
    const trigger = root.trigger_type;
    if (prepared.skipped) return { status: 'skipped', trigger, error: prepared.skipped, retry: false };

    let status = execution.status;
    let error = execution.error;
    let final = last;
    const failedFinally = (s: string) => trigger === 'event' && last && s !== 'completed' && s !== 'skipped';
    if (script) {
      const run = await this.inputs.execute(execution, script);
      const recorded =
        trigger === 'event'
          ? // The record, the retry schedule and a final failure's dead letter commit together.
            await this.db.transaction(root.tenant_id, async (tx) => {
              const outcome = await this.runner.record(tx.manager, execution, run.scriptVersion, run);
              if (outcome.recordedNow) await this.afterEventAttempt(tx, root, execution, retryCount, last, outcome);
              return outcome;
            })
          : await this.runner.record(this.dataSource.manager, execution, run.scriptVersion, run);
      status = recorded.status;
      error = recorded.error;
      // A run that could not be recorded is not run again.
      if (recorded.recordedNow && recorded.unrecordable) final = true;
    } else if (failedFinally(status)) {
      // Recorded by an earlier run of this job that died before dead-lettering: finish the job's work.
      await this.db.transaction(root.tenant_id, async (tx) => {
        await this.deadLetter(tx, root, execution, error ?? status);
        await this.executions.scheduleRetry(tx, root.id, null);
      });
    }
    const outcome = { status, trigger, error, retry: false };
    if (status === 'completed' || status === 'skipped' || trigger !== 'event') return outcome;
    return final ? { ...outcome, status: 'dead_lettered' } : { ...outcome, retry: true };
  }

  /**
   * What follows the record of an event-triggered attempt, in its transaction: the next retry due (in
   * PostgreSQL, so a Redis that loses the job loses no retry), or none, and a final failure's dead letter.
   */
  private async afterEventAttempt(tx: TenantTransaction, root: ExecutionRow, execution: ExecutionRow, retryCount: number, last: boolean, outcome: RecordedRun): Promise<void> {
    const failed = outcome.status !== 'completed' && outcome.status !== 'skipped';
    if (failed && (last || outcome.unrecordable)) await this.deadLetter(tx, root, execution, outcome.error ?? outcome.status);
    const nextRetryAt = failed && !last && !outcome.unrecordable ? new Date(Date.now() + this.retryDelayMs(retryCount)) : null;
    await this.executions.scheduleRetry(tx, root.id, nextRetryAt);
  }

  /** The hot path of a first attempt: claimed with its script in one statement, when it is runnable. */
  private async claimFirst(rootId: string): Promise<Prepared | undefined> {
    const claimed = await this.executions.claimForRun(rootId);
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
  private async prepare(cross: CrossTenant, rootId: string, retryCount: number): Promise<Prepared> {
    const root = await this.executions.lock(cross, rootId);
    if (!root) throw new UnrecoverableError(`execution ${rootId} does not exist`);
    const tx = cross.tenant(root.tenant_id);
    const execution = retryCount === 0 ? root : ((await this.executions.findAttempt(tx, rootId, retryCount)) ?? (await this.executions.createAttempt(tx, root, retryCount)));
    if (this.executions.isTerminal(execution.status)) return { root, execution };
    const script = await this.records.loadScript(tx, execution.script_id);
    if (!this.runnable(execution, script)) {
      const reason = script ? `script is ${script.status}` : 'script no longer exists';
      await this.executions.skip(tx, execution.id, reason);
      if (execution.id !== root.id) await this.executions.scheduleRetry(tx, root.id, null);
      await this.runner.announce(tx.manager, execution, 'skipped', 0, reason);
      return { root, execution, skipped: reason };
    }
    await this.executions.markRunning(tx, execution.id);
    return { root, execution, script: script! };
  }

  /** The final failure of an event-triggered run: a `script_event_dead_letters` row and a `.dlq` event. */
  private async deadLetter(tx: TenantTransaction, root: ExecutionRow, last: ExecutionRow, error: string): Promise<void> {
    if (await this.executions.hasDeadLetter(tx, last.id)) return;
    const event = { ...root.trigger_data, data: root.input };
    const eventJson = toStorableJson(event);
    // A bulk replay (dead-letters service) deleted the letter it replayed and counts it on: back with its count raised.
    const replays = Number(root.trigger_data.dead_letter_replays);
    const id = await this.executions.createDeadLetter(tx, root, last.id, eventJson, error, Number.isSafeInteger(replays) && replays > 0 ? replays : EVENT_ATTEMPTS - 1);
    await tx.publish({
      topic: Topic.ScriptEventsDlq,
      key: messageKey.tenantScript(root.tenant_id, root.script_id),
      event: createCloudEvent({
        source: EXECUTION_SOURCE,
        type: EventType.ScriptEventDeadLettered,
        tenantid: root.tenant_id,
        subject: id,
        data: {
          dead_letter_id: id,
          script_id: root.script_id,
          execution_id: last.id,
          event_type: root.trigger_data.event_type,
          event: eventJson.length > DEAD_LETTER_EVENT_MAX_CHARS ? { ...root.trigger_data, data_omitted: `larger than ${DEAD_LETTER_EVENT_MAX_CHARS} characters: see the dead letter` } : event,
          error,
          attempts: EVENT_ATTEMPTS,
        },
      }),
    });
    this.logger.warn({ message: 'event-triggered run dead-lettered', script_id: root.script_id, execution_id: last.id, error });
  }
}

/** The job of an execution's retries (one per first attempt: enqueueing it twice is a no-op). */
function retryJobId(executionId: string): string {
  return `${executionId}-retry`;
}
