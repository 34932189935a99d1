import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { createCloudEvent, EventType, messageKey, ScriptExecutionFinished, Topic } from '@provisio/contracts';
import { APP_CONFIG, describeDataError, isDataError, Metrics, OutboxEntry, OutboxService, RateLimitedError } from '@provisio/platform';
import { ExecutionResult, resolveLimits, SandboxPool, ScriptContext } from '@provisio/sandbox';
import type { AppConfig } from '../config';
import { ExecutionHeartbeat } from './execution-heartbeat.service';
import { ExecutionRow, ExecutionsRepository, RUNNING_GRACE_MS, ScriptToRun } from './executions.repository';

/** How a run was recorded. `unrecordable`: its record was refused (a data error) and it was recorded failed instead. */
export interface RecordedRun {
  status: string;
  error: string | null;
  recordedNow: boolean;
  unrecordable: boolean;
}
import { RunSlots, ScriptRunGates } from './run-slots';
import { ScriptConcurrency } from './script-concurrency.service';

export const EXECUTION_SOURCE = 'provisio/execution-worker';

/** The script already runs `max_concurrent_runs` times (across replicas): try again shortly. */
export class ConcurrencyLimitReached extends RateLimitedError {}

type ResourceLimitsResolved = ReturnType<typeof resolveLimits>;

export interface SandboxRun {
  result: ExecutionResult;
  startedAt: Date;
  completedAt: Date;
}

/**
 * Runs executions in the sandbox and records them. Running holds no database transaction (a run may
 * wait for a sandbox slot or for `fetch`); recording is one statement that only applies to an execution
 * not recorded yet, so it is recorded (and announced) once even if two workers ran it.
 */
@Injectable()
export class ExecutionRunner {
  private readonly slots: RunSlots;
  private readonly gates = new ScriptRunGates();

  constructor(
    private readonly executions: ExecutionsRepository,
    private readonly pool: SandboxPool,
    private readonly concurrency: ScriptConcurrency,
    private readonly outbox: OutboxService,
    private readonly heartbeat: ExecutionHeartbeat,
    private readonly metrics: Metrics,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.slots = new RunSlots(config.EXECUTION_CONCURRENCY);
  }

  /** The context a script sees for an execution, by trigger. */
  contextOf(execution: ExecutionRow): ScriptContext {
    switch (execution.trigger_type) {
      case 'event':
        return { event: { ...execution.trigger_data, data: execution.input }, input: execution.input, trigger: 'event' };
      case 'http':
        return { request: execution.trigger_data, input: execution.input, trigger: 'http' };
      default:
        return { input: execution.input, trigger: execution.trigger_type, trigger_data: execution.trigger_data };
    }
  }

  /**
   * Runs the script under its limits and `max_concurrent_runs`: the run waits its turn behind the
   * script's other runs in this process (ScriptRunGates), then for one of this process's run slots, and
   * only then takes one of the script's slots (ScriptConcurrency, across replicas). So a backlog never
   * holds slots it cannot use yet, and only other replicas' runs can leave none free:
   * ConcurrencyLimitReached, and the caller queues the run. The execution's row says `running` all that
   * time; the heartbeat keeps it from looking abandoned while the run waits.
   */
  execute(execution: ExecutionRow, script: ScriptToRun): Promise<SandboxRun> {
    const limits = resolveLimits(script.resource_limits);
    this.heartbeat.hold(execution.id, limits.max_execution_time_ms);
    return this.gates
      .use(script.id, limits.max_concurrent_runs, () => this.slots.use(() => this.executeInSlot(execution, script, limits)))
      .finally(() => this.heartbeat.release(execution.id));
  }

  private async executeInSlot(execution: ExecutionRow, script: ScriptToRun, limits: ResourceLimitsResolved): Promise<SandboxRun> {
    const token = await this.concurrency.take(script.id, limits.max_concurrent_runs, limits.max_execution_time_ms + RUNNING_GRACE_MS);
    if (!token) throw this.limitReached(script, limits);
    try {
      return await this.runInSandbox(execution, script, limits);
    } finally {
      this.concurrency.give(script.id, limits.max_concurrent_runs, token);
    }
  }

  private limitReached(script: ScriptToRun, limits: { max_concurrent_runs: number }): ConcurrencyLimitReached {
    return new ConcurrencyLimitReached(`script ${script.id} is at its max_concurrent_runs (${limits.max_concurrent_runs})`);
  }

  private async runInSandbox(execution: ExecutionRow, script: ScriptToRun, limits: ResourceLimitsResolved): Promise<SandboxRun> {
    // Both instants are taken inside the slot, so runs of a script limited to one at a time never
    // overlap on record.
    const startedAt = new Date();
    const result = await this.pool.execute({
      source: script.source,
      context: this.contextOf(execution),
      limits,
      tenantId: script.tenant_id,
      scriptId: script.id,
      executionId: execution.id,
      allowedHosts: script.allowed_hosts,
    });
    this.metrics.scriptRunDuration.observe({ trigger: execution.trigger_type, status: result.status }, result.metrics.duration_ms / 1000);
    return { result, startedAt, completedAt: new Date() };
  }

  /**
   * Records a run and announces it, unless the execution was already recorded (then returns that status).
   * A record PostgreSQL refuses for a data reason (class 22 or 23: what the script returned or logged)
   * is replaced by a `failed` record saying why, so the run is never left running nor run again for it.
   * Inside a transaction, the refused statement is rolled back to a savepoint first.
   */
  async record(manager: EntityManager, execution: ExecutionRow, scriptVersion: number, run: SandboxRun): Promise<RecordedRun> {
    const { result } = run;
    let recorded: boolean;
    try {
      // The record and its "finished" event in one statement: only a run that records announces.
      recorded = await withSavepoint(manager, () => this.executions.record(manager, execution.id, run, scriptVersion, result, this.finished(execution, result.status, result.metrics.duration_ms, result.error)));
    } catch (error) {
      if (!isDataError(error)) throw error;
      return this.recordUnrecordable(manager, execution, scriptVersion, run, error);
    }
    if (recorded) return { status: result.status, error: result.error, recordedNow: true, unrecordable: false };
    const current = await this.executions.find(manager, execution.id);
    return { status: current?.status ?? 'skipped', error: current?.error ?? null, recordedNow: false, unrecordable: false };
  }

  private async recordUnrecordable(manager: EntityManager, execution: ExecutionRow, scriptVersion: number, run: SandboxRun, refusal: unknown): Promise<RecordedRun> {
    const error = `the run ended ${run.result.status} but its result could not be stored (${describeDataError(refusal, 500)}); recorded failed without its output and logs`;
    if (await this.executions.recordUnrecordable(manager, execution.id, run, scriptVersion, error, this.finished(execution, 'failed', run.result.metrics.duration_ms, error))) {
      return { status: 'failed', error, recordedNow: true, unrecordable: true };
    }
    const current = await this.executions.find(manager, execution.id);
    return { status: current?.status ?? 'skipped', error: current?.error ?? null, recordedNow: false, unrecordable: false };
  }

  /**
   * `record` for many runs: one statement records those not recorded yet and writes their events.
   * Answers how each run recorded now was recorded. If PostgreSQL refuses the statement for a data
   * reason, the runs are recorded one at a time, so only the refused one is recorded failed. `manager`
   * must not be in a transaction (each fallback statement commits on its own).
   */
  async recordMany(manager: EntityManager, runs: { execution: ExecutionRow; scriptVersion: number; run: SandboxRun; nextRetryAt?: Date | null }[]): Promise<Map<string, RecordedRun>> {
    if (runs.length === 0) return new Map();
    const events = new Map(runs.map(({ execution, run: { result } }) => [execution.id, this.finished(execution, result.status, result.metrics.duration_ms, result.error)]));
    try {
      const ids = await this.executions.recordMany(manager, runs.map(({ execution, scriptVersion, run, nextRetryAt }) => ({ id: execution.id, scriptVersion, nextRetryAt, ...run })), events);
      const byId = new Map(runs.map((r) => [r.execution.id, r.run.result]));
      return new Map([...ids].map((id) => [id, { status: byId.get(id)!.status, error: byId.get(id)!.error, recordedNow: true, unrecordable: false }]));
    } catch (error) {
      if (!isDataError(error)) throw error;
    }
    const outcomes = new Map<string, RecordedRun>();
    for (const { execution, scriptVersion, run, nextRetryAt } of runs) {
      const outcome = await this.record(manager, execution, scriptVersion, run);
      if (!outcome.recordedNow) continue;
      if (nextRetryAt && !outcome.unrecordable) await this.executions.scheduleRetry(manager, execution.id, nextRetryAt);
      outcomes.set(execution.id, outcome);
    }
    return outcomes;
  }

  /** Publishes `provisio.script.execution.finished` (via the outbox) for a recorded execution. */
  async announce(manager: EntityManager, execution: ExecutionRow, status: ScriptExecutionFinished['status'], durationMs: number, error: string | null): Promise<void> {
    await this.outbox.enqueue(manager, this.finished(execution, status, durationMs, error));
  }

  private finished(execution: ExecutionRow, status: ScriptExecutionFinished['status'], durationMs: number, error: string | null): OutboxEntry {
    const data: ScriptExecutionFinished = {
      execution_id: execution.id,
      script_id: execution.script_id,
      status,
      trigger_type: execution.trigger_type,
      duration_ms: durationMs,
      error,
      ...(execution.scheduled_job_id ? { scheduled_job_id: execution.scheduled_job_id } : {}),
      ...(execution.scheduled_for ? { scheduled_for: new Date(execution.scheduled_for).toISOString() } : {}),
    };
    return {
      topic: Topic.ScriptExecutions,
      key: messageKey.tenantScript(execution.tenant_id, execution.script_id),
      event: createCloudEvent({ source: EXECUTION_SOURCE, type: EventType.ScriptExecutionFinished, tenantid: execution.tenant_id, subject: execution.id, data }),
    };
  }
}

/**
 * Runs `statement` so that, inside a transaction, its failure leaves the transaction usable (SAVEPOINT /
 * ROLLBACK TO SAVEPOINT); outside one it is just the statement (it commits or fails on its own).
 */
async function withSavepoint<T>(manager: EntityManager, statement: () => Promise<T>): Promise<T> {
  if (!manager.queryRunner?.isTransactionActive) return statement();
  await manager.query('SAVEPOINT record_run');
  try {
    const result = await statement();
    await manager.query('RELEASE SAVEPOINT record_run');
    return result;
  } catch (error) {
    await manager.query('ROLLBACK TO SAVEPOINT record_run');
    throw error;
  }
}
