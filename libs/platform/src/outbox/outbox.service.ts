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

/** The outbox's part of another statement: CTEs for its WITH list, and their parameters. */
export interface OutboxStatementPart {
  cte: string;
  /** Numbered from the `firstParam` the part was made for. */
  params: unknown[];
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
   * The outbox's part of a statement a repository writes: a CTE (`announced AS (INSERT INTO outbox …)`) for
   * the statement's WITH list that writes the event of each row its CTE `rows` returns, matched on
   * `rows.id` = the entry's key. The change and its announcement are then ONE statement (one round trip,
   * atomic without a transaction) and the statement stays the repository's: the outbox never sees it.
   * `firstParam` is the statement's first free parameter number.
   */
  announceEach(rows: string, entries: Map<string, OutboxEntry>, firstParam: number): OutboxStatementPart {
    const events = [...entries].map(([key, entry]) => {
      const [id, tenant_id, topic, message_key, event_type, payload] = this.columns(entry);
      return { key, id, tenant_id, topic, message_key, event_type, payload: JSON.parse(payload as string) };
    });
    return {
      cte: `announced AS (
              INSERT INTO outbox (id, tenant_id, topic, message_key, event_type, payload)
              SELECT e.id, e.tenant_id, e.topic, e.message_key, e.event_type, e.payload
                FROM jsonb_to_recordset($${firstParam}::jsonb) AS e(key text, id uuid, tenant_id uuid, topic text, message_key text, event_type text, payload jsonb)
                JOIN ${rows} r ON r.id::text = e.key)`,
      params: [toStorableJson(events)],
    };
  }

  /** `announceEach` of one event, written if the statement's CTE `rows` returned at least one row. */
  announceIfAny(rows: string, entry: OutboxEntry, firstParam: number): OutboxStatementPart {
    const p = firstParam;
    return {
      cte: `announced AS (
              INSERT INTO outbox (id, tenant_id, topic, message_key, event_type, payload)
              SELECT $${p}::uuid, $${p + 1}::uuid, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}::jsonb WHERE EXISTS (SELECT 1 FROM ${rows}))`,
      params: this.columns(entry),
    };
  }

  private columns(entry: OutboxEntry): unknown[] {
    return [entry.event.id, entry.event.tenantid, entry.topic, toStorableText(entry.key), toStorableText(entry.event.type), toStorableJson(entry.event)];
  }
}
