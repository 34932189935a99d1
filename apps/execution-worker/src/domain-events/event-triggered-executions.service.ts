import { Injectable, Logger } from '@nestjs/common';
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
  private readonly logger = new Logger(EventTriggeredExecutionsService.name);

  async createForEvent(event: CloudEvent<DomainEventData>, manager: EntityManager): Promise<CreatedExecution[]> {
    const triggerData = {
      event_id: event.id,
      event_type: event.type,
      source: event.source,
      subject: event.subject ?? null,
      time: event.time ?? null,
    };
    const created: CreatedExecution[] = await manager.query(
      `INSERT INTO script_executions (script_id, tenant_id, status, trigger_type, trigger_data, input, max_retries)
       SELECT sub.script_id, sub.tenant_id, 'pending', 'event', $3::jsonb, $4::jsonb, $5
         FROM script_event_subscriptions sub
         JOIN scripts s ON s.id = sub.script_id
        WHERE sub.tenant_id = $1 AND sub.event_type = $2 AND sub.is_active AND s.status = 'active'
       RETURNING id, script_id, trigger_type`,
      [event.tenantid, event.type, JSON.stringify(triggerData), JSON.stringify(event.data ?? {}), EVENT_ATTEMPTS - 1],
    );
    if (created.length) this.logger.debug({ message: 'event matched scripts', event_id: event.id, type: event.type, executions: created.length });
    return created;
  }
}
