import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ConsumerGroup, EventType, ScriptExecutionCancelled, scriptExecutionCancelledSchema, Topic } from '@provisio/contracts';
import { EventConsumerHost } from '@provisio/platform';
import { ScriptExecution } from '@provisio/script-execution';

/** How long a cancellation keeps looking for its run in this process (a run claimed but not yet at the gate, or queued for a retry, comes later). */
const LOOK_FOR_MS = 60_000;
const LOOK_EVERY_MS = 1_000;

/**
 * Cancellations of running executions (`POST /executions/{id}/cancel` in the registry, which already
 * marked the row `cancelled` with who did it): the replica running the execution stops it in the
 * sandbox (`ScriptExecution.cancel`). Every replica reads every cancellation — its consumer group is its
 * own (`execution-worker.execution-cancellations.<host>-<pid>-<random>`), starting at the latest offset —
 * since only the one holding the run can stop it: in the sandbox it is stopped, still waiting its turn
 * at the gate it leaves the gate's line at once and never starts. A run this process does not hold yet
 * (its parameters being prepared, its job still queued) is looked for again every second for a minute;
 * its record no longer applies to the finished row either way.
 */
@Injectable()
export class ExecutionCancellationsConsumer implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ExecutionCancellationsConsumer.name);
  private readonly replica = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly looking = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly host: EventConsumerHost,
    private readonly runs: ScriptExecution,
  ) {}

  onModuleInit(): void {
    this.host.register<ScriptExecutionCancelled>({
      groupId: `${ConsumerGroup.WorkerExecutionCancellations}.${this.replica}`,
      topic: Topic.ScriptExecutionCancellations,
      fromBeginning: false,
      schemaFor: (type) => (type === EventType.ScriptExecutionCancelled ? scriptExecutionCancelledSchema : null),
      handle: async (event) => event.data,
      afterCommit: async (_event, handled) => this.cancel((handled as ScriptExecutionCancelled).execution_id, (handled as ScriptExecutionCancelled).cancelled_by),
    });
  }

  onModuleDestroy(): void {
    for (const timer of this.looking.values()) clearInterval(timer);
    this.looking.clear();
  }

  /** Stops the run if this process holds it; otherwise keeps looking for a while. */
  cancel(executionId: string, by: string): void {
    if (this.runs.cancel(executionId)) {
      this.logger.log({ message: 'cancelled a running execution', execution_id: executionId, cancelled_by: by });
      return;
    }
    if (this.looking.has(executionId)) return;
    const until = Date.now() + LOOK_FOR_MS;
    const timer = setInterval(() => {
      const found = this.runs.cancel(executionId);
      if (found) this.logger.log({ message: 'cancelled a running execution', execution_id: executionId, cancelled_by: by });
      if (found || Date.now() > until) {
        clearInterval(timer);
        this.looking.delete(executionId);
      }
    }, LOOK_EVERY_MS);
    timer.unref();
    this.looking.set(executionId, timer);
  }
}
