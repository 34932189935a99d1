import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { createCloudEvent, EventType, messageKey, ScriptExecutionFinished, Topic } from '@provisio/contracts';
import { capResourceLimits, TenantDatabase, tenantLimitCaps, TenantScoped } from '@provisio/persistence';
import { Batcher, describeDataError, isDataError, Metrics, OutboxEntry } from '@provisio/platform';
import { ExecutionResult, FetchImpl, ResourceLimits, resolveLimits, SandboxPool, ScriptContext } from '@provisio/sandbox';
import { ExecutionHeartbeat } from './execution-heartbeat';
import { ExecutionRecords, ExecutionRow, FinishedRun, RUNNING_GRACE_MS, ScriptToRun } from './execution-records.repository';
import { LeftTheGate } from './gate/run-slots';
import { ScriptRunGate } from './gate/script-run-gate';
import { SCRIPT_EXECUTION_OPTIONS, type ScriptExecutionOptions } from './script-execution.options';

/** How a run was recorded. `unrecordable`: its record was refused (a data error) and it was recorded failed instead. */
export interface RecordedRun {
  status: string;
  error: string | null;
  recordedNow: boolean;
  unrecordable: boolean;
}

export interface SandboxRun {
  result: ExecutionResult;
  startedAt: Date;
  completedAt: Date;
}

/** What `run` needs to know of a run besides the script and its context. */
export interface RunOptions {
  /** `trigger_type` of the row (`hook`, `manual`, …). */
  trigger: string;
  /** The hook binding that ran it (provisioning hooks). */
  bindingId?: string;
  /** The connector whose operation it ran for (provisioning hooks). */
  connectorId?: string;
  /** The provisioning operation it ran for (`script_executions.operation_id`), written with the row. */
  operationId?: string;
  /** `script_executions.input` (default: the context's `input`, else the whole context). */
  input?: unknown;
  /** `trigger_data`; serialised when the run is recorded (after it), so it may hold what the run filled in. */
  triggerData?: Record<string, unknown>;
  executedBy?: string | null;
  /** The version that runs (`script_version`); default the script's current one. */
  scriptVersion?: number | null;
  /** At most this long, whatever the script's limit says (a dry run waits in an HTTP request). */
  maxExecutionTimeMs?: number;
  /**
   * A dry run: `fetch` answered by `fetchImpl`, recorded `dry_run = true`, never announced. Without a
   * script `id` nothing is recorded.
   */
  dryRun?: { fetchImpl: FetchImpl };
  /** Known before the run, so it can be cancelled by id (default: a new UUID). */
  executionId?: string;
}

/** A run that will not happen, to record as `skipped` (`recordSkipped`): its script, why, and what `run` would have recorded. */
export interface SkippedScriptRun extends Pick<RunOptions, 'trigger' | 'bindingId' | 'connectorId' | 'operationId' | 'input' | 'triggerData'> {
  script: Pick<ScriptToRun, 'id' | 'tenant_id' | 'current_version'>;
  reason: string;
}

/** A run of `run`, recorded (or not: `executionId` null when the script was deleted meanwhile, or has no id). */
export interface FinishedExecution extends SandboxRun {
  executionId: string | null;
  scriptVersion: number | null;
}

/** A finished run of `run` waiting to be recorded with the others that ended meanwhile (ScriptExecution.finishedRuns). */
interface RunToInsert {
  tenantId: string;
  run: FinishedRun;
  finished: OutboxEntry | null;
}

/** How one run of a batched record went: recorded or not (its script was deleted meanwhile), or the error of its own statement. */
type InsertOutcome = { recorded: boolean } | { error: unknown };

/** Runs one statement records at most, and such statements at once (what ends meanwhile waits for the next). */
const RECORD_BATCH = { maxSize: 200, maxInFlight: 2 };

/** A script as `run` takes it: its row (ScriptToRun), or a source that is not saved yet (dry runs). */
export type RunnableScript = Omit<ScriptToRun, 'id' | 'status' | 'current_version'> & { id?: string; current_version?: number | null };

/**
 * Runs scripts in the sandbox and records them: the one way a service runs a script (the execution
 * worker's queue, HTTP triggers, the registry's dry runs, the provisioning queue's hooks).
 *
 * Every run goes through the one per-script gate (ScriptRunGate: max_concurrent_runs in this process
 * and across replicas, the process's run bound) and runs under its script's limits lowered to the
 * tenant's caps, with the tenant's allowed hosts and ports. Running holds no database transaction (a
 * run may wait its turn or for `fetch`); recording is one statement with its `finished` event.
 *
 *  - `run(script, context, options)`: a run that has no row yet (a hook, a dry run), recorded as a new
 *    row when it ends.
 *  - `execute(execution, script)` then `record` / `recordMany`: a run whose row exists (`running`),
 *    recorded only if not recorded yet, so it is recorded (and announced) once even if two workers ran it.
 *  - `cancel(executionId)`: ends a run of this process as `cancelled`.
 */
@Injectable()
export class ScriptExecution {
  /** Runs of this process from the moment they ask the gate until they end, by execution id (cancel). */
  private readonly inHand = new Map<string, { cancelled: boolean; gate: AbortController }>();
  /** The records of `run`, gathered: the runs that end together are inserted by one statement per tenant. */
  private readonly finishedRuns = new Batcher<RunToInsert, InsertOutcome>((runs) => this.insertFinished(runs), RECORD_BATCH);

  constructor(
    private readonly records: ExecutionRecords,
    private readonly pool: SandboxPool,
    private readonly gate: ScriptRunGate,
    private readonly heartbeat: ExecutionHeartbeat,
    private readonly db: TenantDatabase,
    private readonly metrics: Metrics,
    @Inject(SCRIPT_EXECUTION_OPTIONS) private readonly options: ScriptExecutionOptions,
  ) {}

  /** The limits a run of `script` gets: its own, each lowered to its tenant's current cap. */
  limitsOf(script: Pick<ScriptToRun, 'resource_limits' | 'limit_caps'>): ResourceLimits {
    return capResourceLimits(resolveLimits(script.resource_limits), tenantLimitCaps({ limits: script.limit_caps }));
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
   * Runs `script` with `context` and records it as a new `script_executions` row (binding_id,
   * connector_id and script_version included), announced on `provisio.script-executions` unless it is a
   * dry run. Never rejects for what the script does; rejects with ConcurrencyLimitReached when other
   * replicas hold every slot of the script, and with SandboxBusyError when the sandbox queue is full.
   */
  async run(script: RunnableScript, context: ScriptContext, options: RunOptions): Promise<FinishedExecution> {
    const executionId = options.executionId ?? randomUUID();
    const limits = this.limitsOf(script);
    if (options.maxExecutionTimeMs !== undefined) limits.max_execution_time_ms = Math.min(limits.max_execution_time_ms, options.maxExecutionTimeMs);
    const inSandbox = () => this.runInSandbox(script, context, limits, executionId, options.trigger, options.dryRun?.fetchImpl);
    // A source that is no script yet (an unsaved dry run) has no runs to share a limit with.
    const run = await this.holding(executionId, (gate) =>
      script.id
        ? this.gate.use(
            // Dry runs wait in a line of their own: trying a script out never takes its live runs' places.
            { scriptId: options.dryRun ? `dry:${script.id}` : script.id, limit: limits.max_concurrent_runs, leaseMs: limits.max_execution_time_ms + RUNNING_GRACE_MS, acrossReplicas: !options.dryRun },
            inSandbox,
            gate,
          )
        : inSandbox(),
    );
    const scriptVersion = options.scriptVersion === undefined ? (script.current_version ?? null) : options.scriptVersion;
    if (!script.id) return { ...run, executionId: null, scriptVersion };
    const triggerData = options.triggerData ?? {};
    const finished =
      options.dryRun || this.options.announceRuns === false
        ? null
        : this.finished({ id: executionId, script_id: script.id, tenant_id: script.tenant_id, trigger_type: options.trigger, scheduled_job_id: null, scheduled_for: null }, run.result.status, run.result.metrics.duration_ms, run.result.error);
    const outcome = await this.finishedRuns.submit({
      tenantId: script.tenant_id,
      run: {
        id: executionId,
        scriptId: script.id,
        scriptVersion,
        trigger: options.trigger,
        triggerData,
        input: options.input ?? context.input ?? context,
        result: run.result,
        startedAt: run.startedAt,
        completedAt: run.completedAt,
        executedBy: options.executedBy ?? null,
        bindingId: options.bindingId ?? null,
        connectorId: options.connectorId ?? null,
        operationId: options.operationId ?? null,
        dryRun: !!options.dryRun,
      },
      finished,
    });
    if ('error' in outcome) throw outcome.error;
    const { recorded } = outcome;
    if (recorded && !options.dryRun) this.metrics.scriptExecutions.inc({ trigger: options.trigger, status: run.result.status });
    return { ...run, executionId: recorded ? executionId : null, scriptVersion };
  }

  /**
   * Inserts the rows of finished `run`s: one statement per tenant of the batch. A statement PostgreSQL
   * refuses for a data reason (what one script returned or logged) is retried run by run, so only that
   * run's `run` rejects; any other failure rejects the runs of its statement.
   */
  private async insertFinished(runs: RunToInsert[]): Promise<InsertOutcome[]> {
    const outcomes = new Map<RunToInsert, InsertOutcome>();
    const byTenant = new Map<string, RunToInsert[]>();
    for (const item of runs) {
      const items = byTenant.get(item.tenantId);
      if (items) items.push(item);
      else byTenant.set(item.tenantId, [item]);
    }
    const announcements = (items: RunToInsert[]) => new Map(items.flatMap((item) => (item.finished ? [[item.run.id, item.finished] as const] : [])));
    await Promise.all(
      [...byTenant].map(async ([tenantId, items]) => {
        const db = this.db.statements(tenantId);
        try {
          const recorded = await this.records.recordFinishedMany(db, items.map((item) => item.run), announcements(items));
          for (const item of items) outcomes.set(item, { recorded: recorded.has(item.run.id) });
          return;
        } catch (error) {
          if (items.length === 1 || !isDataError(error)) return items.forEach((item) => outcomes.set(item, { error }));
        }
        for (const item of items) {
          outcomes.set(
            item,
            await this.records.recordFinishedMany(db, [item.run], announcements([item])).then(
              (recorded) => ({ recorded: recorded.size > 0 }),
              (error: unknown) => ({ error }),
            ),
          );
        }
      }),
    );
    return runs.map((item) => outcomes.get(item)!);
  }

  /**
   * Records runs that never happened as `skipped` rows with why (a hook left out because an earlier step
   * of its chain ended it), all of one tenant in one statement, each announced like a run (0 ms) unless the app's runs are not (`announceRuns`).
   * Answers how many were recorded (a script deleted meanwhile gets none).
   */
  async recordSkipped(tenantId: string, runs: SkippedScriptRun[]): Promise<number> {
    if (runs.length === 0) return 0;
    const rows = runs.map((r) => ({
      id: randomUUID(),
      scriptId: r.script.id,
      scriptVersion: r.script.current_version ?? null,
      trigger: r.trigger,
      triggerData: r.triggerData ?? {},
      input: r.input,
      reason: r.reason.slice(0, 2000),
      bindingId: r.bindingId ?? null,
      connectorId: r.connectorId ?? null,
      operationId: r.operationId ?? null,
    }));
    const events = new Map(
      this.options.announceRuns === false
        ? []
        : rows.map((r) => [r.id, this.finished({ id: r.id, script_id: r.scriptId, tenant_id: tenantId, trigger_type: r.trigger, scheduled_job_id: null, scheduled_for: null }, 'skipped', 0, r.reason)]),
    );
    const recorded = await this.records.recordSkipped(this.db.statements(tenantId), rows, events);
    for (const r of rows.slice(0, recorded)) this.metrics.scriptExecutions.inc({ trigger: r.trigger, status: 'skipped' });
    return recorded;
  }

  /**
   * Ends the run of `executionId` if this process holds it (`run` or `execute`), as `cancelled`: one
   * still waiting its turn at the gate or in the sandbox's queue never starts; one running is stopped
   * (SandboxPool.cancel replaces its worker thread). Answers whether a run was cancelled; it is then
   * recorded like any run, `cancelled` with why.
   */
  cancel(executionId: string): boolean {
    const run = this.inHand.get(executionId);
    if (!run || run.cancelled) return false;
    run.cancelled = true;
    // Still waiting at the gate: it leaves the line now (its place goes to the next run). In the
    // sandbox: stopped there. Between the two: it never reaches the sandbox (runInSandbox).
    run.gate.abort();
    this.pool.cancel(executionId);
    return true;
  }

  /**
   * Runs an execution whose row says `running`, under its limits and the gate (ScriptRunGate); the
   * heartbeat keeps the row from looking abandoned while the run waits its turn. Rejects with
   * ConcurrencyLimitReached when only other replicas' runs hold the script's slots: the caller queues it.
   * `extraContext` is added to the trigger's context (the worker's checked parameters, `ctx.params`).
   */
  execute(execution: ExecutionRow, script: ScriptToRun, extraContext?: ScriptContext): Promise<SandboxRun> {
    const limits = this.limitsOf(script);
    this.heartbeat.hold(execution.id, limits.max_execution_time_ms);
    return this.holding(execution.id, (gate) =>
      this.gate.use(
        { scriptId: script.id, limit: limits.max_concurrent_runs, leaseMs: limits.max_execution_time_ms + RUNNING_GRACE_MS, acrossReplicas: true },
        () => this.runInSandbox(script, { ...this.contextOf(execution), ...extraContext }, limits, execution.id, execution.trigger_type),
        gate,
      ),
    ).finally(() => this.heartbeat.release(execution.id));
  }

  /** Runs `work` with the run known by its id to `cancel`; one cancelled while it waited at the gate ends `cancelled` unstarted. */
  private async holding(executionId: string, work: (gate: AbortSignal) => Promise<SandboxRun>): Promise<SandboxRun> {
    const gate = new AbortController();
    this.inHand.set(executionId, { cancelled: false, gate });
    try {
      return await work(gate.signal);
    } catch (error) {
      if (!(error instanceof LeftTheGate)) throw error;
      const at = new Date();
      return { result: cancelledBeforeStart(), startedAt: at, completedAt: at };
    } finally {
      this.inHand.delete(executionId);
    }
  }

  private async runInSandbox(script: RunnableScript, context: ScriptContext, limits: ResourceLimits, executionId: string, trigger: string, fetchImpl?: FetchImpl): Promise<SandboxRun> {
    // Both instants are taken inside the gate, so runs of a script limited to one at a time never
    // overlap on record.
    const startedAt = new Date();
    if (this.inHand.get(executionId)?.cancelled) return { result: cancelledBeforeStart(), startedAt, completedAt: startedAt };
    const result = await this.pool.execute({
      source: script.source,
      context,
      limits,
      tenantId: script.tenant_id,
      scriptId: script.id,
      executionId,
      allowedHosts: script.allowed_hosts,
      allowedPorts: script.allowed_ports,
      fetchImpl,
      scriptSlotHeld: true,
    });
    if (!fetchImpl) this.metrics.scriptRunDuration.observe({ trigger, status: result.status }, result.metrics.duration_ms / 1000);
    return { result, startedAt, completedAt: new Date() };
  }

  /**
   * Records a run and announces it, unless the execution was already recorded (then returns that status).
   * A record PostgreSQL refuses for a data reason (class 22 or 23: what the script returned or logged)
   * is replaced by a `failed` record saying why, so the run is never left running nor run again for it.
   * Inside a transaction (`manager`'s), the refused statement is rolled back to a savepoint first.
   */
  async record(manager: EntityManager, execution: ExecutionRow, scriptVersion: number, run: SandboxRun): Promise<RecordedRun> {
    const { result } = run;
    const db = this.scoped(manager, execution.tenant_id);
    let recorded: boolean;
    try {
      // The record and its "finished" event in one statement: only a run that records announces.
      recorded = await withSavepoint(manager, () => this.records.record(db, execution.id, run, scriptVersion, result, this.finished(execution, result.status, result.metrics.duration_ms, result.error)));
    } catch (error) {
      if (!isDataError(error)) throw error;
      return this.recordUnrecordable(db, execution, scriptVersion, run, error);
    }
    if (recorded) return { status: result.status, error: result.error, recordedNow: true, unrecordable: false };
    return this.recordedBefore(db, execution.id);
  }

  private async recordUnrecordable(db: TenantScoped, execution: ExecutionRow, scriptVersion: number, run: SandboxRun, refusal: unknown): Promise<RecordedRun> {
    const error = `the run ended ${run.result.status} but its result could not be stored (${describeDataError(refusal, 500)}); recorded failed without its output and logs`;
    if (await this.records.recordUnrecordable(db, execution.id, run, scriptVersion, error, this.finished(execution, 'failed', run.result.metrics.duration_ms, error))) {
      return { status: 'failed', error, recordedNow: true, unrecordable: true };
    }
    return this.recordedBefore(db, execution.id);
  }

  private async recordedBefore(db: TenantScoped, id: string): Promise<RecordedRun> {
    const current = await this.records.find(db, id);
    return { status: current?.status ?? 'skipped', error: current?.error ?? null, recordedNow: false, unrecordable: false };
  }

  /**
   * `record` for many runs: one statement records those not recorded yet and writes their events.
   * Answers how each run recorded now was recorded. If PostgreSQL refuses the statement for a data
   * reason, the runs are recorded one at a time, so only the refused one is recorded failed. `manager`
   * must not be in a transaction (each fallback statement commits on its own). `afterFallback` runs
   * after a run recorded one at a time (the queue schedules its retry there).
   */
  async recordMany(
    manager: EntityManager,
    runs: { execution: ExecutionRow; scriptVersion: number; run: SandboxRun; nextRetryAt?: Date | null }[],
    afterFallback?: (execution: ExecutionRow, outcome: RecordedRun, nextRetryAt: Date | null | undefined) => Promise<void>,
  ): Promise<Map<string, RecordedRun>> {
    if (runs.length === 0) return new Map();
    const events = new Map(runs.map(({ execution, run: { result } }) => [execution.id, this.finished(execution, result.status, result.metrics.duration_ms, result.error)]));
    try {
      const ids = await this.records.recordMany(runs.map(({ execution, scriptVersion, run, nextRetryAt }) => ({ id: execution.id, scriptVersion, nextRetryAt, ...run })), events);
      const byId = new Map(runs.map((r) => [r.execution.id, r.run.result]));
      return new Map([...ids].map((id) => [id, { status: byId.get(id)!.status, error: byId.get(id)!.error, recordedNow: true, unrecordable: false }]));
    } catch (error) {
      if (!isDataError(error)) throw error;
    }
    const outcomes = new Map<string, RecordedRun>();
    for (const { execution, scriptVersion, run, nextRetryAt } of runs) {
      const outcome = await this.record(manager, execution, scriptVersion, run);
      if (!outcome.recordedNow) continue;
      await afterFallback?.(execution, outcome, nextRetryAt);
      outcomes.set(execution.id, outcome);
    }
    return outcomes;
  }

  /** Publishes `provisio.script.execution.finished` (via the outbox) for a recorded execution, in `manager`'s transaction. */
  async announce(manager: EntityManager, execution: ExecutionRow, status: ScriptExecutionFinished['status'], durationMs: number, error: string | null): Promise<void> {
    await this.db.join(manager, execution.tenant_id).publish(this.finished(execution, status, durationMs, error));
  }

  /** The tenant's handle for `manager`: joined to its transaction, or statements of their own outside one. */
  private scoped(manager: EntityManager, tenantId: string): TenantScoped {
    return manager.queryRunner?.isTransactionActive ? this.db.join(manager, tenantId) : this.db.statements(tenantId);
  }

  private finished(
    execution: Pick<ExecutionRow, 'id' | 'script_id' | 'tenant_id' | 'trigger_type' | 'scheduled_job_id' | 'scheduled_for'>,
    status: ScriptExecutionFinished['status'],
    durationMs: number,
    error: string | null,
  ): OutboxEntry {
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
      event: createCloudEvent({ source: this.options.eventSource, type: EventType.ScriptExecutionFinished, tenantid: execution.tenant_id, subject: execution.id, data }),
    };
  }
}

function cancelledBeforeStart(): ExecutionResult {
  return { status: 'cancelled', output: null, error: 'cancelled before it started', logs: [], metrics: { duration_ms: 0, memory_used_bytes: 0, api_call_count: 0 } };
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
