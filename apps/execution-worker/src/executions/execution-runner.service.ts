import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { createCloudEvent, EventType, messageKey, ScriptExecutionFinished, Topic } from '@provisio/contracts';
import { OutboxService, RateLimitedError } from '@provisio/platform';
import { ExecutionResult, resolveLimits, SandboxPool, ScriptContext } from '@provisio/sandbox';
import { ExecutionRow, ExecutionsRepository, ScriptToRun } from './executions.repository';
import { ScriptConcurrency } from './script-concurrency.service';

export const EXECUTION_SOURCE = 'provisio/execution-worker';

/** The script already runs `max_concurrent_runs` times (across replicas): try again shortly. */
export class ConcurrencyLimitReached extends RateLimitedError {}

export interface RunOutcome {
  execution: ExecutionRow;
  result: ExecutionResult;
}

/**
 * Runs one execution in the sandbox and records it, in the caller's transaction: the row goes
 * `pending → running → completed/failed/timeout` (the running state is what other readers see while the
 * transaction holds it; the committed record carries `started_at` and `completed_at`), and the
 * "execution finished" event goes out through the outbox in the same commit.
 */
@Injectable()
export class ExecutionRunner {
  constructor(
    private readonly executions: ExecutionsRepository,
    private readonly pool: SandboxPool,
    private readonly concurrency: ScriptConcurrency,
    private readonly outbox: OutboxService,
  ) {}

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

  async run(manager: EntityManager, execution: ExecutionRow, script: ScriptToRun, context = this.contextOf(execution)): Promise<RunOutcome> {
    const limits = resolveLimits(script.resource_limits);
    // Across replicas; a run that cannot get a slot is tried again later (the transaction rolls back).
    const leaseMs = limits.max_execution_time_ms + 5_000;
    if (!(await this.concurrency.tryAcquire(script.id, execution.id, limits.max_concurrent_runs, leaseMs))) {
      throw new ConcurrencyLimitReached(`script ${script.id} is at its max_concurrent_runs (${limits.max_concurrent_runs})`);
    }
    // Both instants are taken inside the slot (not the transaction's now()), so runs of a script limited to
    // one at a time never overlap on record.
    const startedAt = new Date();
    let completedAt: Date;
    let result: ExecutionResult;
    try {
      await manager.query(`UPDATE script_executions SET status = 'running', started_at = $2 WHERE id = $1`, [execution.id, startedAt]);
      result = await this.pool.execute({
        source: script.source,
        context,
        limits,
        tenantId: script.tenant_id,
        scriptId: script.id,
        executionId: execution.id,
        allowedHosts: script.allowed_hosts,
      });
      completedAt = new Date();
    } finally {
      await this.concurrency.release(script.id, execution.id);
    }
    await this.executions.record(manager, execution.id, { startedAt, completedAt }, script.current_version, result);
    await this.announce(manager, execution, result.status, result.metrics.duration_ms, result.error);
    return { execution, result };
  }

  /** Publishes `provisio.script.execution.finished` (via the outbox) for a recorded execution. */
  async announce(manager: EntityManager, execution: ExecutionRow, status: ScriptExecutionFinished['status'], durationMs: number, error: string | null): Promise<void> {
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
    await this.outbox.enqueue(manager, {
      topic: Topic.ScriptExecutions,
      key: messageKey.tenantScript(execution.tenant_id, execution.script_id),
      event: createCloudEvent({ source: EXECUTION_SOURCE, type: EventType.ScriptExecutionFinished, tenantid: execution.tenant_id, subject: execution.id, data }),
    });
  }
}
