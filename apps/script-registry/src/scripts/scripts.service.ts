import { Injectable } from '@nestjs/common';
import { isDeepStrictEqual } from 'node:util';
import { hasPermission, missingPermission, Permission } from '@provisio/contracts';
import { CallerTransaction, ResourceLimits, Script, TenantDatabase } from '@provisio/persistence';
import { ConflictError, ForbiddenError, NotFoundError, Page, Principal, ValidationError, translateUniqueViolation, UniqueConstraints } from '@provisio/platform';
import { AuditService } from '../audit/audit.service';
import { ExecutionsService } from '../executions/executions.service';
import { lockScript } from '../common/script-lock';
import { scriptChanged } from '../common/script-events';
import { TenantLimitsService } from '../tenant-limits/tenant-limits.service';
import { pickSource, ScriptVersionsService, VERSION_UNIQUES } from '../versions/script-versions.service';
import type { ChangeStatusDto } from './dtos/change-status.dto';
import type { CreateScriptDto } from './dtos/create-script.dto';
import type { ListScriptsQueryDto } from './dtos/list-scripts.query';
import type { ScriptDto, ScriptSummaryDto } from './dtos/script.dto';
import type { UpdateScriptDto } from './dtos/update-script.dto';
import { ScriptRoutingService } from './script-routing.service';
import { checkTransition, checkTriggers, mergeTriggers, resolveResourceLimits, resolveStatus, STATUS_ACTIONS, Triggers } from './script-rules';
import { ScriptsRepository } from './scripts.repository';

/** Unique constraints a script write can hit, and the field each one guards. */
const SCRIPT_UNIQUES: UniqueConstraints = {
  uq_scripts_tenant_name: { field: 'name', message: 'a script with this name already exists in the tenant' },
  uq_scripts_tenant_http_path: { field: 'http_path', message: 'another script of the tenant already serves this http_path' },
  uq_endpoints_tenant_path: { field: 'http_path', message: 'another script of the tenant already serves this http_path' },
  ...VERSION_UNIQUES,
};

/** A script row as locked for a change (`CURRENT_COLUMNS`): the `Script` entity's columns, with its job's time zone. */
type CurrentScript = Triggers &
  Pick<Script, 'id' | 'name' | 'description' | 'source' | 'status' | 'resource_limits' | 'metadata' | 'tags' | 'required_permissions' | 'is_system' | 'current_version'>;

const CURRENT_COLUMNS = `s.id, s.name, s.description, s.source, s.type, s.status, s.resource_limits, s.cron_expression, j.timezone,
  s.http_path, s.http_methods, s.event_types, s.metadata, s.tags, s.required_permissions, s.is_system, s.current_version`;

/** Fields PATCH can change besides the source, with the SQL cast of each. */
const UPDATABLE = {
  name: '',
  description: '',
  type: '',
  resource_limits: '::jsonb',
  cron_expression: '',
  http_path: '',
  http_methods: '::text[]',
  event_types: '::text[]',
  metadata: '::jsonb',
  tags: '::text[]',
  required_permissions: '::text[]',
} as const;
type Updatable = keyof typeof UPDATABLE;
const TRIGGER_FIELDS = ['type', 'cron_expression', 'timezone', 'http_path', 'http_methods', 'event_types'] as const;
/** Fields whose change re-stamps a schedule with the caller's permissions. */
const SCHEDULE_FIELDS = [...TRIGGER_FIELDS, 'required_permissions'] as const;

/**
 * A scheduled script runs with no caller, as whoever last wrote its schedule (docs/scheduler.md): that
 * caller must hold what the script requires, or the write is refused (403 naming the permission).
 */
function checkScheduleOwner(principal: Principal, required: readonly string[] | null | undefined): void {
  const missing = missingPermission(principal.permissions, required);
  if (missing) {
    throw new ForbiddenError(`a scheduled script runs with its schedule owner's permissions: you need ${missing} (required_permissions)`, 'required_permissions', { missing_permission: missing });
  }
}

const toColumn = (field: Updatable, value: unknown) => (UPDATABLE[field] === '::jsonb' ? JSON.stringify(value) : value);
const pick = (row: object, fields: readonly string[]) => Object.fromEntries(fields.map((f) => [f, (row as Record<string, unknown>)[f] ?? null]));

/** What an instantiation from a template adds to a plain create, all inside the create's transaction. */
export interface CreateScriptOptions {
  /** The template the source was filled from (`scripts.template_id`); NULL if it was deleted meanwhile. */
  templateId?: string;
  /** `active` switches the script on at birth; the caller has checked `script:manage`. */
  status?: 'draft' | 'active';
  /** More writes once the script row exists (the template's `instantiate` audit event). */
  alsoWrite?: (tx: CallerTransaction, script: { id: string }) => Promise<void>;
}

/**
 * Scripts (seed 001 `scripts`, seed 000 ProvisioningScript): create, change, change status, delete. Each
 * is one transaction that also writes the version, the routing rows, the audit event and the
 * `provisio.script.changed` event, so either all of it happens or none. Writes answer with the script
 * as read after the commit: the row lock is held no longer than the change needs.
 */
@Injectable()
export class ScriptsService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly scripts: ScriptsRepository,
    private readonly versions: ScriptVersionsService,
    private readonly routing: ScriptRoutingService,
    private readonly audit: AuditService,
    private readonly tenantLimits: TenantLimitsService,
    private readonly executions: ExecutionsService,
  ) {}

  async get(principal: Principal, id: string): Promise<ScriptDto> {
    const script = await this.scripts.get(this.db.read(principal), id);
    if (!script) throw new NotFoundError('script', id);
    return script;
  }

  list(principal: Principal, query: ListScriptsQueryDto): Promise<Page<ScriptSummaryDto>> {
    const tags = [...new Set([...(query.tag ?? []), ...(query.tags ?? [])])];
    return this.scripts.list(this.db.read(principal), { ...query, tags });
  }

  async create(principal: Principal, dto: CreateScriptDto, options: CreateScriptOptions = {}): Promise<ScriptDto> {
    if (dto.is_system && !hasPermission(principal.permissions, Permission.ScriptManage)) {
      throw new ForbiddenError(`creating a system script needs ${Permission.ScriptManage}`);
    }
    const source = pickSource(dto)!;
    const status = options.status ?? 'draft';
    const triggers = mergeTriggers(
      { type: dto.type, cron_expression: null, timezone: null, http_path: null, http_methods: null, event_types: null },
      { cron_expression: dto.cron_expression, timezone: dto.timezone, http_path: dto.http_path, http_methods: dto.http_methods, event_types: dto.event_types },
    );
    checkTriggers(triggers);
    if (triggers.type === 'scheduled') checkScheduleOwner(principal, dto.required_permissions);
    const resolvedLimits = resolveResourceLimits(dto.resource_limits);

    const id = await this.db.write(principal, (tx) =>
      this.guard(async () => {
        // The template (if any) is share-locked so it cannot be deleted before this commits; a template
        // deleted in between leaves template_id NULL rather than failing the create.
        const resourceLimits = await this.tenantLimits.fit(tx, resolvedLimits, dto.resource_limits as Record<string, unknown> | undefined);
        const created = await this.scripts.insert(tx, {
          name: dto.name,
          description: dto.description ?? null,
          source,
          status,
          resource_limits: resourceLimits,
          ...triggers,
          metadata: dto.metadata ?? {},
          tags: dto.tags ?? [],
          required_permissions: dto.required_permissions ?? [],
          is_system: dto.is_system ?? false,
          template_id: options.templateId ?? null,
        });
        // The row was inserted by this transaction: nobody else can see it, let alone lock it.
        const script = created;
        const version = await this.versions.append(tx, script, {
          source,
          change_description: dto.change_description ?? 'Initial version',
          semantic_version: dto.semantic_version,
        });
        await this.routing.sync(tx, { id: script.id, status, ...triggers }, principal.permissions);
        await this.audit.recordAndAnnounce(tx, {
          script_id: script.id,
          entity_id: script.id,
          action: 'create',
          details: {
            after: { name: dto.name, description: dto.description ?? null, status, ...triggers, resource_limits: resourceLimits, tags: dto.tags ?? [], metadata: dto.metadata ?? {}, is_system: dto.is_system ?? false },
            version_number: version.version_number,
          },
        }, scriptChanged(tx.tenantId, { id: script.id, status, current_version: version.version_number }, 'created'));
        await options.alsoWrite?.(tx, script);
        return script.id;
      }),
    );
    return this.get(principal, id);
  }

  async update(principal: Principal, id: string, dto: UpdateScriptDto): Promise<ScriptDto> {
    const given = Object.entries(dto).filter(([, value]) => value !== undefined);
    if (given.length === 0) throw new ValidationError('the request changes nothing: give at least one field', undefined);
    const source = pickSource(dto);

    await this.db.write(principal, (tx) =>
      this.guard(async () => {
        const current = await lockScript<CurrentScript>(tx, id, CURRENT_COLUMNS);
        if (current.status === 'archived') throw new ConflictError('an archived script cannot change', 'status');

        const triggers = mergeTriggers(current, {
          type: dto.type,
          cron_expression: dto.cron_expression,
          timezone: dto.timezone,
          http_path: dto.http_path,
          http_methods: dto.http_methods,
          event_types: dto.event_types,
        });
        checkTriggers(triggers);
        const next: Record<Updatable, unknown> = {
          name: dto.name ?? current.name,
          description: dto.description === undefined ? current.description : dto.description,
          type: triggers.type,
          resource_limits: dto.resource_limits ? resolveResourceLimits(dto.resource_limits, current.resource_limits) : current.resource_limits,
          cron_expression: triggers.cron_expression,
          http_path: triggers.http_path,
          http_methods: triggers.http_methods,
          event_types: triggers.event_types,
          metadata: dto.metadata ?? current.metadata,
          tags: dto.tags ?? current.tags,
          required_permissions: dto.required_permissions ?? current.required_permissions,
        };
        if (dto.resource_limits) next.resource_limits = await this.tenantLimits.fit(tx, next.resource_limits as ResourceLimits, dto.resource_limits as Record<string, unknown>);
        const changed = (Object.keys(UPDATABLE) as Updatable[]).filter((f) => !isDeepStrictEqual(normalise(current[f]), normalise(next[f])));
        const timezoneChanged = (current.timezone ?? null) !== (triggers.timezone ?? null);
        const sourceChanged = source !== undefined && source !== current.source;
        if (!changed.length && !timezoneChanged && !sourceChanged) return; // nothing to do: no version, no event

        const sets = changed.map((f) => ({ column: f, cast: UPDATABLE[f], value: toColumn(f, next[f]) }));
        // A new source: the version and the field changes in one statement.
        const version = sourceChanged
          ? await this.versions.append(tx, current, { source, change_description: dto.change_description, semantic_version: dto.semantic_version }, sets)
          : undefined;
        if (!version && sets.length) await this.scripts.updateColumns(tx, id, sets);
        // A schedule runs as whoever last wrote it: a change of it, or of what it needs, is theirs now.
        const scheduleChanged = timezoneChanged || changed.some((f) => (SCHEDULE_FIELDS as readonly string[]).includes(f));
        if (triggers.type === 'scheduled' && scheduleChanged) checkScheduleOwner(principal, next.required_permissions as string[]);
        if (timezoneChanged || changed.some((f) => (TRIGGER_FIELDS as readonly string[]).includes(f)) || (triggers.type === 'scheduled' && scheduleChanged)) {
          await this.routing.sync(tx, { id, status: current.status, ...triggers }, principal.permissions);
        }

        const currentVersion = version?.version_number ?? current.current_version;
        const fields = [...changed, ...(timezoneChanged ? ['timezone'] : [])];
        const before = { ...pick(current, fields) };
        const after = { ...pick(next, changed), ...(timezoneChanged ? { timezone: triggers.timezone } : {}) };
        await this.audit.recordAndAnnounce(tx, {
          script_id: id,
          entity_id: id,
          action: 'update',
          details: {
            changed: [...fields, ...(sourceChanged ? ['source'] : [])],
            before,
            after,
            ...(version ? { version_number: version.version_number, previous_version: current.current_version } : {}),
          },
        }, scriptChanged(tx.tenantId, { id, status: current.status, current_version: currentVersion }, 'updated'));
      }),
    );
    return this.get(principal, id);
  }

  /** A step of the lifecycle (`POST /scripts/{id}/status`); routing follows in the same transaction. */
  async changeStatus(principal: Principal, id: string, dto: ChangeStatusDto): Promise<ScriptDto> {
    const to = resolveStatus(dto.status);
    await this.db.write(principal, async (tx) => {
      const current = await lockScript<CurrentScript>(tx, id, CURRENT_COLUMNS);
      checkTransition(current.status, to);
      if (current.type === 'scheduled' && to === 'active') checkScheduleOwner(principal, current.required_permissions);
      await this.scripts.setStatus(tx, id, to);
      await this.routing.sync(tx, { ...current, status: to }, principal.permissions);
      await this.audit.recordAndAnnounce(tx, {
        script_id: id,
        entity_id: id,
        action: STATUS_ACTIONS[to],
        details: { from: current.status, to, ...(dto.status !== to ? { requested: dto.status } : {}), ...(dto.reason ? { reason: dto.reason } : {}) },
      }, scriptChanged(tx.tenantId, { id, status: to, current_version: current.current_version }, 'status_changed'));
      // A oneoff script runs once when it is activated, with its parameters' defaults (docs/registry.md).
      if (current.type === 'oneoff' && to === 'active' && current.status !== 'active') await this.executions.record(tx, current, {}, 'oneoff');
    });
    return this.get(principal, id);
  }

  /**
   * Seed 001's hard delete: versions, routing rows and executions go with the script (CASCADE); the audit
   * trail stays (`script_id` becomes NULL, `entity_id` keeps the id). System scripts cannot be deleted.
   */
  async delete(principal: Principal, id: string): Promise<void> {
    await this.db.write(principal, async (tx) => {
      const current = await lockScript<CurrentScript>(tx, id, CURRENT_COLUMNS);
      if (current.is_system) throw new ConflictError('a system script cannot be deleted', 'is_system');
      await this.audit.recordAndAnnounce(tx, {
        script_id: id,
        entity_id: id,
        action: 'delete',
        details: { before: { name: current.name, type: current.type, status: current.status, current_version: current.current_version } },
      }, scriptChanged(tx.tenantId, { id, status: current.status, current_version: current.current_version }, 'deleted'));
      await this.scripts.delete(tx, id);
    });
  }

  /** Runs a write, turning unique violations into 409s naming the field (the transaction still rolls back). */
  private async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      translateUniqueViolation(error, SCRIPT_UNIQUES);
    }
  }
}

/** A field that is absent and one that is NULL are the same for change detection. */
function normalise(value: unknown): unknown {
  return value === undefined ? null : value;
}
