import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import type { CloudEvent, DomainEventData } from '@provisio/contracts';
import { EVENT_ATTEMPTS } from '../executions/execution-queue.service';

export interface CreatedExecution {
  id: string;
  script_id: string;
  trigger_type: 'event';
}

/**
 * Turns a domain event into one `pending` execution (trigger `event`) per active script of the event's
 * tenant subscribed to its type. Runs in the consumer's transaction, so the executions exist exactly
 * when the event is recorded as processed.
 */
@Injectable()
export class EventTriggeredExecutionsService {
  /** The executions of a group of events, in one statement; answers those created for each event, in order. */
  async createForEvents(events: CloudEvent<DomainEventData>[], manager: EntityManager): Promise<CreatedExecution[][]> {
    const rows = events.map((event, idx) => ({
      idx,
      tenant_id: event.tenantid,
      event_type: event.type,
      trigger_data: { event_id: event.id, event_type: event.type, source: event.source, subject: event.subject ?? null, time: event.time ?? null },
      input: event.data ?? {},
    }));
    const created: (CreatedExecution & { idx: number })[] = await manager.query(
      `WITH e AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS e(idx int, tenant_id uuid, event_type text, trigger_data jsonb, input jsonb)),
            inserted AS (
              INSERT INTO script_executions (script_id, tenant_id, status, trigger_type, trigger_data, input, max_retries)
              SELECT sub.script_id, sub.tenant_id, 'pending', 'event', e.trigger_data, e.input, $2
                FROM e
                JOIN script_event_subscriptions sub ON sub.tenant_id = e.tenant_id AND sub.event_type = e.event_type AND sub.is_active
                JOIN scripts s ON s.id = sub.script_id AND s.status = 'active'
               ORDER BY e.idx
              RETURNING id, script_id, trigger_type, trigger_data->>'event_id' AS event_id)
       SELECT i.id, i.script_id, i.trigger_type, e.idx FROM inserted i JOIN e ON e.trigger_data->>'event_id' = i.event_id`,
      [JSON.stringify(rows), EVENT_ATTEMPTS - 1],
    );
    const byEvent: CreatedExecution[][] = events.map(() => []);
    for (const { idx, ...execution } of created) byEvent[idx].push(execution);
    return byEvent;
  }
}
