import { Injectable } from '@nestjs/common';
import { NotFoundError, OutboxEntry, Page, page, Principal, SqlFilters } from '@provisio/platform';
import { CallerTransaction, TenantDatabase, TenantScoped } from '@provisio/persistence';
import type { AuditEventDto } from './dtos/audit-event.dto';
import type { ListAuditQueryDto, ListScriptAuditQueryDto } from './dtos/list-audit.query';

export interface AuditEntry {
  /** The script the event is about (NULL once the script is deleted; `entity_id` keeps the id). */
  script_id: string | null;
  /** `script` unless the event is about another kind of object (`hook_binding`, `script_template` …). */
  entity_type?: string;
  entity_id: string;
  /** `create`, `update`, `activate`, `pause`, `disable`, `archive`, `delete`, `create_version`, `rollback` … */
  action: string;
  details: Record<string, unknown>;
}

interface AuditRow {
  event_id: string;
  tenant_id: string;
  script_id: string | null;
  entity_type: string;
  entity_id: string | null;
  action: string;
  actor_id: string;
  details: Record<string, unknown>;
  created_at: Date;
}

const INSERT_AUDIT_ROW = `INSERT INTO audit_events (tenant_id, script_id, entity_type, entity_id, action, actor_id, details)
                          VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) RETURNING event_id`;

const COLUMNS = 'event_id, tenant_id, script_id, entity_type, entity_id, action, actor_id, details, created_at';

/** Seed 000 types AuditEvent.details as a JSON string; it is stored as jsonb (docs/data-model.md). */
function toDto(row: AuditRow): AuditEventDto {
  return { ...row, details: JSON.stringify(row.details) };
}

/**
 * The audit trail (seed 000's AuditEvent): one row per change, written in the change's own transaction,
 * so there is a row if and only if the change committed. The actor is the caller's JWT subject.
 */
@Injectable()
export class AuditService {
  constructor(private readonly db: TenantDatabase) {}

  /** Writes the audit row of a change, in the change's transaction (nothing is announced). */
  async record(tx: CallerTransaction, entry: AuditEntry): Promise<void> {
    await tx.query(INSERT_AUDIT_ROW, this.params(tx, entry));
  }

  /**
   * Writes the audit row of a change AND announces the change (`announce` goes to the outbox), in ONE
   * statement: every change of a script does both, and one round trip instead of two is a measurable
   * share of a write. Its own name, so that the caller reads that the change is announced.
   */
  async recordAndAnnounce(tx: CallerTransaction, entry: AuditEntry, announce: OutboxEntry): Promise<void> {
    const params = this.params(tx, entry);
    const announced = tx.announceIfAny('audited', announce, params.length + 2);
    await tx.query(`WITH audited AS (${INSERT_AUDIT_ROW}), ${announced.cte} SELECT event_id FROM audited`, [...params, ...announced.params]);
  }

  private params(tx: CallerTransaction, entry: AuditEntry): unknown[] {
    return [entry.script_id, entry.entity_type ?? 'script', entry.entity_id, entry.action, tx.subject, JSON.stringify(entry.details)];
  }

  async listForTenant(principal: Principal, query: ListAuditQueryDto): Promise<Page<AuditEventDto>> {
    const filters = new SqlFilters();
    if (query.action?.length) filters.add('action = ANY(?::text[])', query.action);
    if (query.entity_type) filters.add('entity_type = ?', query.entity_type);
    if (query.entity_id) filters.add('entity_id = ?::uuid', query.entity_id);
    if (query.script_id) filters.add('script_id = ?::uuid', query.script_id);
    if (query.actor) filters.add('actor_id = ?', query.actor);
    if (query.from) filters.add('created_at >= ?::timestamptz', query.from);
    if (query.to) filters.add('created_at < ?::timestamptz', query.to);
    return this.list(this.db.read(principal), filters, query);
  }

  /**
   * A script's trail: its own events, also after it was deleted (`entity_id`), and events about objects
   * that reference it (`script_id`: bindings, parameters …). 404 when neither the script nor a trail exists.
   */
  async listForScript(principal: Principal, scriptId: string, query: ListScriptAuditQueryDto): Promise<Page<AuditEventDto>> {
    const db = this.db.read(principal);
    const filters = new SqlFilters();
    filters.add(`(script_id = ?::uuid OR (entity_type = 'script' AND entity_id = ?::uuid))`, scriptId, scriptId);
    if (query.action?.length) filters.add('action = ANY(?::text[])', query.action);
    const result = await this.list(db, filters, query);
    if (result.total === 0 && !(await db.one('SELECT 1 FROM scripts WHERE tenant_id = $1 AND id = $2', [scriptId]))) throw new NotFoundError('script', scriptId);
    return result;
  }

  private async list(db: TenantScoped, filters: SqlFilters, query: { limit: number; offset: number }): Promise<Page<AuditEventDto>> {
    const paged = filters.page(query);
    const [rows, [{ total }]] = await Promise.all([
      db.query<AuditRow>(`SELECT ${COLUMNS} FROM audit_events WHERE ${filters.where} ORDER BY created_at DESC, event_id DESC ${paged.sql}`, paged.params),
      db.query<{ total: number }>(`SELECT count(*)::int AS total FROM audit_events WHERE ${filters.where}`, filters.params),
    ]);
    return page(rows.map(toDto), total, query);
  }
}
