import { Injectable } from '@nestjs/common';
import { Page, page, SqlFilters } from '@provisio/platform';
import type { CallerTransaction, ResourceLimits, ScriptStatus, TenantScoped } from '@provisio/persistence';
import type { ScriptLock } from '../common/script-lock';
import type { ColumnChange } from '../versions/script-versions.service';
import type { ScriptDto, ScriptSummaryDto } from './dtos/script.dto';
import { resolveStatus, Triggers } from './script-rules';

/**
 * A script as the API shows it (without the source): actor ids as subjects, the cron's time zone from its
 * job. Scalar subqueries rather than joins: they run for the returned rows only and keep planning cheap.
 */
const VIEW_COLUMNS = `s.id, s.tenant_id, s.organization_id, s.name, s.description, s.type, s.status, s.resource_limits,
  s.cron_expression, (SELECT j.timezone FROM script_scheduled_jobs j WHERE j.script_id = s.id) AS timezone,
  s.http_path, s.http_methods, s.event_types, COALESCE(s.metadata, '{}'::jsonb) AS metadata,
  COALESCE(s.tags, ARRAY[]::text[]) AS tags, s.current_version, s.is_system, s.required_permissions, s.template_id,
  s.source_sha256, (SELECT u.subject FROM users u WHERE u.id = s.created_by) AS created_by,
  (SELECT u.subject FROM users u WHERE u.id = s.updated_by) AS updated_by, s.created_at, s.updated_at`;

/**
 * The full-text expression, written EXACTLY as seed 001's `idx_scripts_fulltext` index is, so that the
 * planner uses the GIN index (scripts.int-spec.ts checks the plan).
 */
export const FULLTEXT_EXPRESSION = "to_tsvector('english', s.name || ' ' || COALESCE(s.description, ''))";

const SORT_COLUMNS = { name: 'name', created_at: 'created_at', updated_at: 'updated_at' } as const;

export interface ScriptListFilter {
  status?: string[];
  type?: string[];
  tags?: string[];
  metadata?: Record<string, unknown>;
  q?: string;
  sort?: keyof typeof SORT_COLUMNS;
  order?: 'asc' | 'desc';
  limit: number;
  offset: number;
}

/**
 * `q` as a tsquery: every word must match, each as a prefix (`welc` finds "welcome"). Only letters,
 * digits and `_` reach `to_tsquery`, so its syntax cannot be injected.
 */
export function toPrefixTsQuery(q: string): string {
  const words = q.match(/[\p{L}\p{N}_]+/gu) ?? [];
  return words.map((w) => `${w.toLowerCase()}:*`).join(' & ');
}

/** A new script's columns (the caller's organization and actor come from the transaction). */
export interface NewScript extends Triggers {
  name: string;
  description: string | null;
  source: string;
  status: ScriptStatus;
  resource_limits: ResourceLimits;
  metadata: Record<string, unknown>;
  tags: string[];
  required_permissions: string[];
  is_system: boolean;
  /** The template the source was filled from; NULL when it was deleted meanwhile. */
  template_id: string | null;
}

/**
 * Statements of `scripts` (the source's versions are `ScriptVersionsService`'s, locks `lockScript`'s).
 * Every method takes the tenant's scope: there is no unscoped read or write.
 */
@Injectable()
export class ScriptsRepository {
  async get(db: TenantScoped, id: string): Promise<ScriptDto | undefined> {
    return db.one<ScriptDto>(`SELECT ${VIEW_COLUMNS}, s.source FROM scripts s WHERE s.tenant_id = $1 AND s.id = $2`, [id]);
  }

  async list(db: TenantScoped, filter: ScriptListFilter): Promise<Page<ScriptSummaryDto>> {
    const filters = new SqlFilters('s.tenant_id');
    // Archived is the retained, hidden state (docs/data-model.md): only an explicit status filter shows it.
    if (filter.status?.length) filters.add('s.status = ANY(?::text[])', [...new Set(filter.status.map(resolveStatus))]);
    else filters.add("s.status <> 'archived'");
    if (filter.type?.length) filters.add('s.type = ANY(?::text[])', filter.type);
    if (filter.tags?.length) filters.add('s.tags @> ?::text[]', filter.tags);
    if (filter.metadata && Object.keys(filter.metadata).length) filters.add('s.metadata @> ?::jsonb', JSON.stringify(filter.metadata));
    if (filter.q !== undefined) filters.add(`${FULLTEXT_EXPRESSION} @@ to_tsquery('english', ?)`, toPrefixTsQuery(filter.q));

    const sort = filter.sort ?? 'created_at';
    const order = (filter.order ?? (sort === 'name' ? 'asc' : 'desc')).toUpperCase();
    const orderBy = (alias: string) => `ORDER BY ${alias}.${SORT_COLUMNS[sort]} ${order}, ${alias}.id ${order}`;
    const paged = filters.page(filter);
    // One statement. The page is cut from narrow rows (id, sort key, and the total, counted on the way
    // while the matches are sorted anyway); only its rows are read in full.
    const rows = await db.query<ScriptSummaryDto & { total: number }>(
      `SELECT ${VIEW_COLUMNS}, p.total
         FROM (SELECT s.id, s.${SORT_COLUMNS[sort]}, count(*) OVER ()::int AS total
                 FROM scripts s WHERE ${filters.where} ${orderBy('s')} ${paged.sql}) p
         JOIN scripts s ON s.id = p.id
        ${orderBy('p')}`,
      paged.params,
    );
    const total =
      rows[0]?.total ??
      (filter.offset === 0 ? 0 : (await db.query<{ total: number }>(`SELECT count(*)::int AS total FROM scripts s WHERE ${filters.where}`, filters.params))[0].total);
    return page(
      rows.map(({ total: _total, ...item }) => item),
      total,
      filter,
    );
  }

  /**
   * Inserts a script. The template (if any) is share-locked so it cannot be deleted before this commits;
   * a template deleted in between leaves template_id NULL rather than failing the create.
   */
  async insert(tx: CallerTransaction, script: NewScript): Promise<ScriptLock<{ id: string }>> {
    const row = await tx.one<ScriptLock<{ id: string }>>(
      `INSERT INTO scripts (tenant_id, organization_id, name, description, source, type, status, resource_limits, cron_expression,
                            http_path, http_methods, event_types, metadata, tags, required_permissions, is_system, created_by, updated_by, template_id)
       VALUES ($1, $2, $3, $4, $5, $6, $17, $7::jsonb, $8, $9, $10::text[], $11::text[], $12::jsonb, $13::text[], $14::text[], $15, $16, $16,
               (SELECT t.id FROM script_templates t WHERE t.id = $18::uuid AND (t.tenant_id = $1 OR t.tenant_id IS NULL) FOR KEY SHARE))
       RETURNING id`,
      [
        tx.organizationId,
        script.name,
        script.description,
        script.source,
        script.type,
        JSON.stringify(script.resource_limits),
        script.cron_expression,
        script.http_path,
        script.http_methods,
        script.event_types,
        JSON.stringify(script.metadata),
        script.tags,
        script.required_permissions,
        script.is_system,
        tx.actorId,
        script.status,
        script.template_id,
      ],
    );
    return row!;
  }

  /** Sets columns of a script (not its source: a new source is a new version). */
  async updateColumns(tx: CallerTransaction, id: string, sets: readonly ColumnChange[]): Promise<void> {
    await tx.execute(
      `UPDATE scripts SET ${sets.map((c, i) => `${c.column} = $${i + 3}${c.cast}`).join(', ')}, updated_at = now(), updated_by = $${sets.length + 3}
        WHERE tenant_id = $1 AND id = $2`,
      [id, ...sets.map((c) => c.value), tx.actorId],
    );
  }

  async setStatus(tx: CallerTransaction, id: string, status: ScriptStatus): Promise<void> {
    await tx.execute('UPDATE scripts SET status = $3, updated_at = now(), updated_by = $4 WHERE tenant_id = $1 AND id = $2', [id, status, tx.actorId]);
  }

  /** Seed 001's hard delete (versions, routing rows and executions go with it: CASCADE). */
  async delete(tx: CallerTransaction, id: string): Promise<void> {
    await tx.execute('DELETE FROM scripts WHERE tenant_id = $1 AND id = $2', [id]);
  }
}
