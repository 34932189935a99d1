import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { ConsumerGroup, EventType, ScriptExecutionFinished, scriptExecutionFinishedSchema, Topic } from '@provisio/contracts';
import { TenantDatabase } from '@provisio/persistence';
import { EventConsumerHost } from '@provisio/platform';
import { CLOCK, Clock } from '../clock';
import { LoopWakeups } from '../core.module';
import { RunOutcomesService } from './run-outcomes.service';

/**
 * Consumes `provisio.script.execution.finished` and records the outcome of scheduled runs on their
 * schedule. Idempotent through the consumer host (the event id is recorded in the same transaction).
 * Thin: the rules are in `RunOutcomesService` and `decideOutcome`.
 */
@Injectable()
export class ExecutionOutcomesConsumer implements OnModuleInit {
  constructor(
    private readonly host: EventConsumerHost,
    private readonly db: TenantDatabase,
    private readonly outcomes: RunOutcomesService,
    private readonly wakeups: LoopWakeups,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.host.register<ScriptExecutionFinished>({
      groupId: ConsumerGroup.SchedulerExecutions,
      topic: Topic.ScriptExecutions,
      schemaFor: (type) => (type === EventType.ScriptExecutionFinished ? scriptExecutionFinishedSchema : null),
      handle: (event, { manager }) => this.outcomes.recordFinished(event, this.db.join(manager, event.tenantid), this.clock.now()),
      // The closed run was holding back a due occurrence: fire it now rather than at the next poll.
      afterCommit: async (_event, nextRunAt) => {
        if (nextRunAt instanceof Date && nextRunAt.getTime() <= this.clock.now().getTime()) this.wakeups.soon();
      },
    });
  }
}
