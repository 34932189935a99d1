import { Injectable } from '@nestjs/common';
import { isDeepStrictEqual } from 'node:util';
import { hasPermission, Permission } from '@provisio/contracts';
import { ConflictError, ForbiddenError, NotFoundError, Page, Principal, ValidationError, translateUniqueViolation, UniqueConstraints } from '@provisio/platform';
import { CallerTransaction, TenantDatabase } from '@provisio/persistence';
import { AuditService } from '../audit/audit.service';
import type { CreateScriptDto } from '../scripts/dtos/create-script.dto';
import { SCRIPT_LIMITS } from '../scripts/dtos/create-script.dto';
import type { ScriptDto } from '../scripts/dtos/script.dto';
import { ScriptsService } from '../scripts/scripts.service';
import { ValidationService } from '../validation/validation.service';
import type { CreateTemplateDto, InstantiateTemplateDto, ListTemplatesQueryDto, TemplateDto, UpdateTemplateDto } from './dtos/template.dto';
import {
  checkAnnotationsMatchBody,
  fillTemplate,
  parseAnnotations,
  PlaceholderAnnotation,
  PlaceholderProblem,
  resolveValues,
  sampleValues,
} from './template-placeholders';
import { TemplateRow, TemplatesRepository, toTemplateDto } from './templates.repository';

const TEMPLATE_UNIQUES: UniqueConstraints = {
  uq_script_templates_tenant_name: { field: 'name', message: 'a template with this name already exists in the tenant' },
};

/** Fields PATCH can change, as stored. */
const UPDATABLE = ['name', 'description', 'category', 'template_body', 'placeholder_annotations'] as const;

/** A placeholder problem is the caller's: 400 naming the field. */
function asValidation<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof PlaceholderProblem) throw new ValidationError(error.message, error.field);
    throw error;
  }
}

const systemTemplateConflict = (what: 'changed' | 'deleted') =>
  new ConflictError(`a system template cannot be ${what}: instantiate it, or copy it into a template of your own`, 'is_system');

const auditView = (t: Pick<TemplateRow, 'name' | 'description' | 'category' | 'placeholder_annotations'>) => ({
  name: t.name,
  description: t.description,
  category: t.category,
  placeholders: t.placeholder_annotations.map((a) => a.name),
});

/**
 * Script templates (seed 000 ScriptTemplate): a tenant's own, plus Provisio's system templates
 * (`tenant_id NULL`, `is_system`; shipped by migration 1763900009000), which every tenant sees and
 * nobody changes or deletes through the API (409). A template is saved only if its placeholders are
 * exactly those its annotations describe and it compiles once they are filled; instantiating one creates
 * a script through the scripts feature's own `create` (version 1, routing, audit, `created` event).
 */
@Injectable()
export class TemplatesService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly templates: TemplatesRepository,
    private readonly audit: AuditService,
    private readonly validation: ValidationService,
    private readonly scripts: ScriptsService,
  ) {}

  list(principal: Principal, query: ListTemplatesQueryDto): Promise<Page<TemplateDto>> {
    return this.templates.list(this.db.read(principal), { ...query, is_system: query.is_system === undefined ? undefined : query.is_system === 'true' });
  }

  async get(principal: Principal, id: string): Promise<TemplateDto> {
    const row = await this.templates.get(this.db.read(principal), id);
    if (!row) throw new NotFoundError('template', id);
    return toTemplateDto(row);
  }

  async create(principal: Principal, dto: CreateTemplateDto): Promise<TemplateDto> {
    const annotations = await this.checkTemplate(dto.template_body, dto.placeholder_annotations ?? []);
    const id = await this.db.write(principal, async (tx) => {
      const row = await this.guard(() =>
        tx.one<{ id: string }>(
          `INSERT INTO script_templates (tenant_id, name, description, category, template_body, placeholder_annotations, is_system, created_by)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb, false, $7) RETURNING id`,
          [dto.name, dto.description ?? null, dto.category, dto.template_body, JSON.stringify(annotations), tx.actorId],
        ),
      );
      await this.record(tx, row!.id, 'create', { after: auditView({ ...dto, description: dto.description ?? null, placeholder_annotations: annotations }) });
      return row!.id;
    });
    return this.get(principal, id);
  }

  async update(principal: Principal, id: string, dto: UpdateTemplateDto): Promise<TemplateDto> {
    if (Object.values(dto).every((value) => value === undefined)) throw new ValidationError('the request changes nothing: give at least one field', undefined);
    // Checked (compiled in the sandbox) before the transaction, so no row lock waits on the sandbox; the
    // transaction then makes sure the body and annotations checked are still those stored.
    const seen = await this.templates.get(this.db.read(principal), id);
    if (!seen) throw new NotFoundError('template', id);
    if (seen.is_system) throw systemTemplateConflict('changed');
    const body = dto.template_body ?? seen.template_body;
    const reshaped = dto.placeholder_annotations !== undefined || dto.template_body !== undefined;
    const annotations = reshaped ? await this.checkTemplate(body, dto.placeholder_annotations ?? seen.placeholder_annotations) : seen.placeholder_annotations;

    await this.db.write(principal, async (tx) => {
      const current = await this.writable(tx, id, 'changed');
      if (current.template_body !== seen.template_body || !isDeepStrictEqual(current.placeholder_annotations, seen.placeholder_annotations)) {
        throw new ConflictError('the template changed while this request was being checked; read it again and retry', 'template_body');
      }
      const next = {
        name: dto.name ?? current.name,
        description: dto.description === undefined ? current.description : dto.description,
        category: dto.category ?? current.category,
        template_body: body,
        placeholder_annotations: annotations,
      };
      const changed = UPDATABLE.filter((field) => !isDeepStrictEqual(current[field], next[field]));
      if (!changed.length) return;
      await this.guard(() =>
        tx.execute(
          `UPDATE script_templates SET name = $3, description = $4, category = $5, template_body = $6, placeholder_annotations = $7::jsonb, updated_at = now()
            WHERE tenant_id = $1 AND id = $2`,
          [id, next.name, next.description, next.category, next.template_body, JSON.stringify(next.placeholder_annotations)],
        ),
      );
      // The body itself is not copied into the trail (it is the template's content, not a setting).
      const view = (t: typeof next) => Object.fromEntries(changed.filter((f) => f !== 'template_body').map((f) => [f, f === 'placeholder_annotations' ? auditView(t).placeholders : t[f]]));
      await this.record(tx, id, 'update', { changed, before: view(current), after: view(next) });
    });
    return this.get(principal, id);
  }

  async delete(principal: Principal, id: string): Promise<void> {
    await this.db.write(principal, async (tx) => {
      const current = await this.writable(tx, id, 'deleted');
      await this.record(tx, id, 'delete', { before: auditView(current) });
      // Scripts made from it keep their source; their template_id becomes NULL (FK ON DELETE SET NULL).
      await tx.execute('DELETE FROM script_templates WHERE tenant_id = $1 AND id = $2', [id]);
    });
  }

  /**
   * A new script from a template: the placeholders filled with the caller's values (or defaults) as
   * JavaScript literals, the result checked to compile, then `ScriptsService.create` (the same rules,
   * version 1, routing, audit `create` and `created` event as `POST /scripts`) with the template's id,
   * the initial status and the template's `instantiate` audit event in the same transaction: a failure
   * anywhere leaves nothing behind.
   */
  async instantiate(principal: Principal, id: string, dto: InstantiateTemplateDto): Promise<ScriptDto> {
    const { placeholder_values: given = {}, status = 'draft', type = 'embedded', ...fields } = dto;
    if (status === 'active' && !hasPermission(principal.permissions, Permission.ScriptManage)) {
      throw new ForbiddenError(`creating an active script needs ${Permission.ScriptManage} (omit status to create a draft)`);
    }
    const template = await this.templates.get(this.db.read(principal), id);
    if (!template) throw new NotFoundError('template', id);
    const values = asValidation(() => resolveValues(template.placeholder_annotations, given));
    const source = fillTemplate(template.template_body, values);
    if (source.length > SCRIPT_LIMITS.source) {
      throw new ValidationError(`the filled template is longer than ${SCRIPT_LIMITS.source} characters`, 'placeholder_values');
    }
    const check = await this.validation.validate(source);
    if (!check.valid) {
      const [first] = check.errors;
      throw new ValidationError(`the template filled with these values does not compile: line ${first.line}, column ${first.column}: ${first.message}`, 'placeholder_values', { errors: check.errors });
    }

    const create: CreateScriptDto = {
      ...fields,
      type,
      source,
      description: fields.description === undefined ? template.description : fields.description,
      change_description: fields.change_description ?? `Created from template "${template.name}"`,
    };
    // One transaction: the script (version 1, routing, audit `create`, `created` event), its template_id,
    // the template's `instantiate` audit event and, with `status: active`, the script switched on.
    return this.scripts.create(principal, create, {
      templateId: template.id,
      status,
      alsoWrite: (tx, script) =>
        this.audit.record(tx, {
          script_id: script.id,
          entity_type: 'script_template',
          entity_id: template.id,
          action: 'instantiate',
          details: {
            template_name: template.name,
            is_system: template.is_system,
            script_name: create.name,
            values_given: Object.keys(given).sort(),
            defaults_used: template.placeholder_annotations.filter((a) => given[a.name] === undefined).map((a) => a.name),
          },
        }),
    });
  }

  /**
   * Parses the annotations, checks they describe exactly the body's placeholders, and that the body
   * compiles once filled with sample values (defaults, else a value of each type): a template that
   * cannot become a script is refused (400 `template_body`).
   */
  private async checkTemplate(body: string, rawAnnotations: unknown): Promise<PlaceholderAnnotation[]> {
    const annotations = asValidation(() => {
      const parsed = parseAnnotations(rawAnnotations);
      checkAnnotationsMatchBody(body, parsed);
      return parsed;
    });
    const result = await this.validation.validate(fillTemplate(body, sampleValues(annotations)));
    if (!result.valid) {
      const [first] = result.errors;
      throw new ValidationError(`template_body does not compile once its placeholders are filled: line ${first.line}, column ${first.column}: ${first.message}`, 'template_body', {
        errors: result.errors,
      });
    }
    return annotations;
  }

  /** The template locked for a change; 404 outside the tenant, 409 for a system template. */
  private async writable(tx: CallerTransaction, id: string, what: 'changed' | 'deleted'): Promise<TemplateRow> {
    const current = await this.templates.get(tx, id, { forUpdate: true });
    if (!current) throw new NotFoundError('template', id);
    if (current.is_system) throw systemTemplateConflict(what);
    return current;
  }

  private record(tx: CallerTransaction, id: string, action: string, details: Record<string, unknown>): Promise<void> {
    return this.audit.record(tx, { script_id: null, entity_type: 'script_template', entity_id: id, action, details });
  }

  private async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      translateUniqueViolation(error, TEMPLATE_UNIQUES);
    }
  }
}
