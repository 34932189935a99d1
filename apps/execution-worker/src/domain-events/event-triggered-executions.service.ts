import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import type { CloudEvent, DomainEventData } from '@provisio/contracts';
import { TenantDatabase } from '@provisio/persistence';
import { toStorableJson } from '@provisio/platform';
import { EVENT_ATTEMPTS } from '../executions/execution-queue.service';
import { EXECUTION_COLUMNS, ExecutionRow, SCRIPT_TO_RUN_COLUMNS, SCRIPT_TO_RUN_JOINS, ScriptToRun, splitClaimedRow, type ClaimedRow } from '@provisio/script-execution';

/** An execution created for an event, with the script it runs. */
export interface CreatedExecution {
  execution: ExecutionRow;
  script: ScriptToRun;
}

/**
 * Turns a domain event into one execution (trigger `event`) per active script of the event's tenant
 * subscribed to its type. Runs in the consumer's transaction, so the executions exist exactly when the
 * event is recorded as processed. They are created `running`: the worker that commits them starts
 * them right after the commit (ExecutionQueue.runCreated); a `pending` row and a second statement to
 * claim it would only cost a write of every row and its indexes. If the worker dies first, the sweep
 * finds them running past their time limit and queues them.
 */
@Injectable()
export class EventTriggeredExecutionsService {
  constructor(private readonly db: TenantDatabase) {}

  /** The executions of a group of events, in one statement; answers those created for each event, in order. */
  async createForEvents(events: CloudEvent<DomainEventData>[], manager: EntityManager): Promise<CreatedExecution[][]> {
    const rows = events.map((event, idx) => ({
      idx,
      tenant_id: event.tenantid,
      event_type: event.type,
      trigger_data: { event_id: event.id, event_type: event.type, source: event.source, subject: event.subject ?? null, time: event.time ?? null },
      input: event.data ?? {},
    }));
    // Each execution takes the tenant of its event: the subscriptions and scripts joined are that tenant's.
    const created = await this.db.joinAllTenants(manager, "a consumer's batch holds events of many tenants, created in one statement").query<ClaimedRow & { idx: number }>(
      `WITH e AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS e(idx int, tenant_id uuid, event_type text, trigger_data jsonb, input jsonb)),
            inserted AS (
              INSERT INTO script_executions (script_id, tenant_id, status, trigger_type, trigger_data, input, max_retries, started_at)
              SELECT sub.script_id, sub.tenant_id, 'running', 'event', e.trigger_data, e.input, $2, clock_timestamp()
                FROM e
                JOIN script_event_subscriptions sub ON sub.tenant_id = e.tenant_id AND sub.event_type = e.event_type AND sub.is_active
                JOIN scripts s ON s.id = sub.script_id AND s.status = 'active'
               ORDER BY e.idx
              RETURNING ${EXECUTION_COLUMNS})
       SELECT c.*, e.idx, ${SCRIPT_TO_RUN_COLUMNS}
         FROM inserted c
         -- (source, id) is the event: two sources may send the same id in one batch.
         JOIN e ON e.trigger_data->>'event_id' = c.trigger_data->>'event_id' AND e.trigger_data->>'source' = c.trigger_data->>'source'
         ${SCRIPT_TO_RUN_JOINS}`,
      [toStorableJson(rows), EVENT_ATTEMPTS - 1],
    );
    const byEvent: CreatedExecution[][] = events.map(() => []);
    for (const { idx, ...row } of created) byEvent[idx].push(splitClaimedRow(row));
    return byEvent;
  }
}
