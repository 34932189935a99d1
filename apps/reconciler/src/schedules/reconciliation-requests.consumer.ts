import { Injectable, OnModuleInit } from '@nestjs/common';
import { ConsumerGroup, EventType, reconciliationRequestedSchema, ReconciliationRequested, Topic } from '@provisio/contracts';
import { TenantDatabase } from '@provisio/persistence';
import { EventConsumerHost } from '@provisio/platform';
import { RunEngine } from '../runs/run-engine.service';
import { OccurrenceOutcome, ScheduledRunsService } from './scheduled-runs.service';

/**
 * Consumes `provisio.reconciliation.requested` (the scheduler's fired occurrences) from
 * `provisio.reconciliation-runs`; the other events on the topic (`provisio.reconciliation.finished`,
 * which this service publishes itself) are acknowledged and skipped. Idempotent through the consumer
 * host (the event id is recorded with the run it creates); a payload that fails its schema goes to the
 * topic's `.dlq`. The run is enqueued after the commit; if the process dies first, the engine's sweep
 * enqueues the pending run. Thin: the rules are in ScheduledRunsService.
 */
@Injectable()
export class ReconciliationRequestsConsumer implements OnModuleInit {
  constructor(
    private readonly host: EventConsumerHost,
    private readonly db: TenantDatabase,
    private readonly scheduled: ScheduledRunsService,
    private readonly engine: RunEngine,
  ) {}

  onModuleInit(): void {
    this.host.register<ReconciliationRequested>({
      groupId: ConsumerGroup.ReconcilerReconciliationRequests,
      topic: Topic.ReconciliationRuns,
      schemaFor: (type) => (type === EventType.ReconciliationRequested ? reconciliationRequestedSchema : null),
      handle: (event, { manager }) => this.scheduled.start(this.db.join(manager, event.tenantid), event.data),
      afterCommit: async (_event, handled) => {
        const outcome = handled as OccurrenceOutcome;
        if (outcome.kind === 'started') await this.engine.enqueue(outcome.run);
      },
    });
  }
}
