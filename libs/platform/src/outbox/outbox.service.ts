import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import type { CloudEvent } from '@provisio/contracts';

export interface OutboxEntry {
  /** Topic base name from `Topic`. */
  topic: string;
  key: string;
  event: CloudEvent;
}

/**
 * Writes events to the `outbox` table inside the caller's transaction: the event exists if and only if
 * the business change committed. The relay publishes it.
 */
@Injectable()
export class OutboxService {
  async enqueue(manager: EntityManager, entries: OutboxEntry | OutboxEntry[]): Promise<void> {
    const list = Array.isArray(entries) ? entries : [entries];
    if (list.length === 0) return;
    const values: unknown[] = [];
    const rows = list.map((entry, i) => {
      values.push(entry.event.id, entry.event.tenantid, entry.topic, entry.key, entry.event.type, JSON.stringify(entry.event));
      const p = i * 6;
      return `($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}, $${p + 6}::jsonb)`;
    });
    await manager.query(`INSERT INTO outbox (id, tenant_id, topic, message_key, event_type, payload) VALUES ${rows.join(', ')}`, values);
  }
}
