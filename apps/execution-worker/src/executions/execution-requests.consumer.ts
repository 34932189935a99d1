import { Injectable, OnModuleInit } from '@nestjs/common';
import { ConsumerGroup, EventType, ScriptExecutionRequested, scriptExecutionRequestedSchema, Topic } from '@provisio/contracts';
import { EventConsumerHost, ValidationError } from '@provisio/platform';
import { ExecutionQueue } from './execution-queue.service';
import { TenantDatabase } from '@provisio/persistence';
import { EXECUTION_COLUMNS, type ExecutionRow } from '@provisio/script-execution';
import { ExecutionsRepository } from './executions.repository';

/**
 * Execution requests (`manual`, `api`, `oneoff` from the registry, `cron` from the scheduler) become
 * pending executions, enqueued once committed. A scheduled slot already executed is not executed again.
 * A request naming its `execution_id` (the registry's run-now, which recorded the row with its input
 * checked and secrets sealed) runs that row: nothing is created, and a row no longer pending (cancelled
 * meanwhile, or already run after a redelivery) is left alone.
 */
@Injectable()
export class ExecutionRequestsConsumer implements OnModuleInit {
  constructor(
    private readonly host: EventConsumerHost,
    private readonly db: TenantDatabase,
    private readonly executions: ExecutionsRepository,
    private readonly queue: ExecutionQueue,
  ) {}

  onModuleInit(): void {
    this.host.register<ScriptExecutionRequested>({
      groupId: ConsumerGroup.WorkerExecutionRequests,
      topic: Topic.ScriptExecutionRequests,
      schemaFor: (type) => (type === EventType.ScriptExecutionRequested ? scriptExecutionRequestedSchema : null),
      handle: async (event, { manager }) => {
        const request = event.data;
        // The script must belong to the event's tenant: a request can never run another tenant's script.
        // A request naming no script of the tenant is permanently wrong: it is dead-lettered.
        const owned = await this.db.join(manager, event.tenantid).one('SELECT 1 FROM scripts WHERE tenant_id = $1 AND id = $2', [request.script_id]);
        if (!owned) throw new ValidationError(`script ${request.script_id} does not exist in tenant ${event.tenantid}`, 'data.script_id');
        if (request.execution_id) {
          return this.db
            .join(manager, event.tenantid)
            .query<ExecutionRow>(`SELECT ${EXECUTION_COLUMNS} FROM script_executions WHERE tenant_id = $1 AND id = $2 AND script_id = $3 AND status = 'pending'`, [request.execution_id, request.script_id]);
        }
        return this.executions.create(manager, [
          {
            script_id: request.script_id,
            tenant_id: event.tenantid,
            trigger_type: request.trigger_type,
            trigger_data: { ...request.trigger_data, request_id: event.id, source: event.source },
            input: request.input,
            executed_by: request.requested_by ?? null,
            scheduled_job_id: request.scheduled_job_id ?? null,
            scheduled_for: request.scheduled_for ?? null,
          },
        ]);
      },
      afterCommitAll: (applied) => this.queue.runNow(applied.flatMap((a) => a.handled as ExecutionRow[])),
    });
  }
}
