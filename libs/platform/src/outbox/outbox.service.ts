import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import type { CloudEvent } from '@provisio/contracts';
import { toStorableJson, toStorableText } from '../storable/storable-text';

export interface OutboxEntry {
  /** Topic base name from `Topic`. */
  topic: string;
  key: string;
  event: CloudEvent;
}

/**
 * Writes events to the `outbox` table inside the caller's transaction: the event exists if and only if
 * the business change committed. The relay publishes it. Payloads are written with toStorableJson (NUL
 * and unpaired surrogates as U+FFFD), so no text an event carries can fail the business change.
 */
@Injectable()
export class OutboxService {
  async enqueue(manager: EntityManager, entries: OutboxEntry | OutboxEntry[]): Promise<void> {
    const list = Array.isArray(entries) ? entries : [entries];
    if (list.length === 0) return;
    const values: unknown[] = [];
    const rows = list.map((entry, i) => {
      values.push(...this.columns(entry));
      const p = i * 6;
      return `($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}, $${p + 6}::jsonb)`;
    });
    await manager.query(`INSERT INTO outbox (id, tenant_id, topic, message_key, event_type, payload) VALUES ${rows.join(', ')}`, values);
  }

  /**
   * Runs `change` (one data-modifying statement with RETURNING, using `$1…$n` for `params`) and writes the
   * event only if it returned a row: change and announcement in ONE statement, atomic without an
   * explicit transaction (one round trip on hot paths). Resolves to whether the change applied.
   */
  async enqueueAfter(manager: EntityManager, change: string, params: unknown[], entry: OutboxEntry): Promise<boolean> {
    const p = params.length;
    const inserted: unknown[] = await manager.query(
      `WITH changed AS (${change})
       INSERT INTO outbox (id, tenant_id, topic, message_key, event_type, payload)
       SELECT $${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}, $${p + 6}::jsonb FROM changed LIMIT 1
       RETURNING id`,
      [...params, ...this.columns(entry)],
    );
    return inserted.length > 0;
  }

  /**
   * The many-rows form of `enqueueAfter`: `change` returns `id`s; the event keyed by each returned id is
   * written, in the same statement. Resolves to the keys whose change applied.
   */
  async enqueueForChanged(manager: EntityManager, change: string, params: unknown[], entries: Map<string, OutboxEntry>): Promise<Set<string>> {
    if (entries.size === 0) return new Set();
    const events = [...entries].map(([key, entry]) => {
      const [id, tenant_id, topic, message_key, event_type, payload] = this.columns(entry);
      return { key, id, tenant_id, topic, message_key, event_type, payload: JSON.parse(payload as string) };
    });
    const rows: { key: string }[] = await manager.query(
      `WITH changed AS (${change}),
            events AS (SELECT * FROM jsonb_to_recordset($${params.length + 1}::jsonb)
                         AS e(key text, id uuid, tenant_id uuid, topic text, message_key text, event_type text, payload jsonb)),
            inserted AS (INSERT INTO outbox (id, tenant_id, topic, message_key, event_type, payload)
                         SELECT e.id, e.tenant_id, e.topic, e.message_key, e.event_type, e.payload
                           FROM events e JOIN changed c ON c.id::text = e.key
                         RETURNING id)
       SELECT e.key FROM events e JOIN inserted i ON i.id = e.id`,
      [...params, toStorableJson(events)],
    );
    return new Set(rows.map((r) => r.key));
  }

  private columns(entry: OutboxEntry): unknown[] {
    return [entry.event.id, entry.event.tenantid, entry.topic, toStorableText(entry.key), toStorableText(entry.event.type), toStorableJson(entry.event)];
  }
}
