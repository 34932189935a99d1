import { Injectable } from '@nestjs/common';
import { Page, page } from '@provisio/platform';
import type { TenantScoped } from '@provisio/persistence';
import type { TemplateDto } from './dtos/template.dto';
import type { PlaceholderAnnotation } from './template-placeholders';

/** A template row as stored (`placeholder_annotations` is jsonb: the list form). */
export interface TemplateRow extends Omit<TemplateDto, 'placeholder_annotations' | 'placeholders'> {
  placeholder_annotations: PlaceholderAnnotation[];
}

export interface TemplateFilter {
  category?: string[];
  is_system?: boolean;
  q?: string;
  limit: number;
  offset: number;
}

/** What a tenant sees: its own templates and the system ones (`tenant_id IS NULL`). */
export const VISIBLE = '(t.tenant_id = $1 OR t.tenant_id IS NULL)';

const COLUMNS = `t.id, t.tenant_id, t.name, t.description, t.category, t.template_body, t.placeholder_annotations, t.is_system,
  (SELECT u.subject FROM users u WHERE u.id = t.created_by) AS created_by, t.created_at, t.updated_at`;

/** Seed 000 types `placeholder_annotations` as a string: the API answers the JSON text, and the parsed list beside it. */
export function toTemplateDto(row: TemplateRow): TemplateDto {
  return { ...row, placeholder_annotations: JSON.stringify(row.placeholder_annotations), placeholders: row.placeholder_annotations };
}

/** Reads of `script_templates`; every one takes the tenant's scope. */
@Injectable()
export class TemplatesRepository {
  async get(db: TenantScoped, id: string, { forUpdate = false } = {}): Promise<TemplateRow | undefined> {
    return db.one<TemplateRow>(`SELECT ${COLUMNS} FROM script_templates t WHERE ${VISIBLE} AND t.id = $2${forUpdate ? ' FOR UPDATE OF t' : ''}`, [id]);
  }

  async list(db: TenantScoped, filter: TemplateFilter): Promise<Page<TemplateDto>> {
    const conditions = [VISIBLE];
    const params: unknown[] = [];
    const bind = (value: unknown) => `$${params.push(value) + 1}`;
    if (filter.category?.length) conditions.push(`t.category = ANY(${bind(filter.category)}::text[])`);
    if (filter.is_system !== undefined) conditions.push(`t.is_system = ${bind(filter.is_system)}`);
    if (filter.q !== undefined) {
      const pattern = `%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      conditions.push(`(t.name ILIKE ${bind(pattern)} OR t.description ILIKE $${params.length + 1})`);
    }
    const where = conditions.join(' AND ');
    const filterParams = [...params];
    const limit = bind(filter.limit);
    const offset = bind(filter.offset);
    const [rows, [{ total }]] = await Promise.all([
      db.query<TemplateRow>(`SELECT ${COLUMNS} FROM script_templates t WHERE ${where} ORDER BY t.is_system DESC, t.name, t.id LIMIT ${limit} OFFSET ${offset}`, params),
      db.query<{ total: number }>(`SELECT count(*)::int AS total FROM script_templates t WHERE ${where}`, filterParams),
    ]);
    return page(rows.map(toTemplateDto), total, filter);
  }
}
