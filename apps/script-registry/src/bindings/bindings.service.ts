import { Injectable } from '@nestjs/common';
import { CallerTransaction, HookFailurePolicy, TenantDatabase, TenantScoped } from '@provisio/persistence';
import { ConflictError, NotFoundError, Page, page, Principal, ValidationError, translateUniqueViolation, UniqueConstraints, SqlFilters } from '@provisio/platform';
import { AuditService } from '../audit/audit.service';
import {
  BindingDto,
  CreateBindingDto,
  DEFAULT_MAX_RETRIES,
  DEFAULT_TIMEOUT_SECONDS,
  HookBindingsDto,
  ListBindingsQueryDto,
  MAX_BINDINGS_PER_HOOK,
  ReorderBindingsDto,
  UpdateBindingDto,
} from './dtos/binding.dto';
import { ReferencedNotFoundError } from './referenced-not-found.error';

const BINDING_UNIQUES: UniqueConstraints = {
  uq_hook_bindings_script_hook: { field: 'script_id', message: 'this script is already bound to this connector, operation and phase' },
};

const COLUMNS = `b.id, b.tenant_id, b.script_id, b.connector_id, b.hook_phase, b.operation_type, b.execution_order, b.failure_policy,
  b.max_retries, b.timeout_seconds, b.enabled, (SELECT u.subject FROM users u WHERE u.id = b.created_by) AS created_by, b.created_at, b.updated_at`;

/** A hook: the bindings of one connector operation and phase, which `execution_order` orders. */
interface Hook {
  connector_id: string;
  operation_type: string;
  hook_phase: string;
}

const SETTINGS = ['hook_phase', 'operation_type', 'failure_policy', 'max_retries', 'timeout_seconds', 'enabled'] as const;

/**
 * `max_retries` belongs to the `retry` policy: given (non-zero) with another policy it is refused; a
 * `retry` binding has 1 … 10 (default 3, or what it had); leaving `retry` resets it to 0.
 */
export function resolveRetries(policy: HookFailurePolicy, given: number | undefined, current = 0): number {
  if (policy !== 'retry') {
    if (given !== undefined && given !== 0) throw new ValidationError(`max_retries applies only to failure_policy retry (this binding's policy is ${policy})`, 'max_retries');
    return 0;
  }
  if (given === 0) throw new ValidationError('a retry binding needs max_retries of at least 1', 'max_retries');
  return given ?? (current > 0 ? current : DEFAULT_MAX_RETRIES);
}

/**
 * Hook bindings (seed 000 HookBinding): which provisioning script runs before or after which operation
 * of which connector, in which order, and what a failure does.
 *
 * Order: `execution_order` is 0, 1, 2 … within a hook after every change the API makes. A new binding
 * goes last; deleting or moving one away renumbers the rest; `reorder` sets the whole order. Changes to
 * the bindings of a connector are serialised by a transaction-scoped advisory lock per connector (taken
 * while checking that the connector exists), so two concurrent creates never get the same position.
 * (Bindings deleted by a CASCADE — their script or connector deleted — leave gaps until the hook next
 * changes; the hook runner orders by `execution_order`, so gaps never change what runs first.)
 */
@Injectable()
export class BindingsService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly audit: AuditService,
  ) {}

  async list(principal: Principal, query: ListBindingsQueryDto): Promise<Page<BindingDto>> {
    const filters = new SqlFilters('b.tenant_id');
    if (query.script_id) filters.add('b.script_id = ?::uuid', query.script_id);
    if (query.connector_id) filters.add('b.connector_id = ?::uuid', query.connector_id);
    if (query.operation_type) filters.add('b.operation_type = ?', query.operation_type);
    if (query.hook_phase) filters.add('b.hook_phase = ?', query.hook_phase);
    if (query.enabled !== undefined) filters.add('b.enabled = ?', query.enabled === 'true');
    const db = this.db.read(principal);
    const paged = filters.page(query);
    const [rows, [{ total }]] = await Promise.all([
      db.query<BindingDto>(
        `SELECT ${COLUMNS} FROM hook_bindings b WHERE ${filters.where}
          ORDER BY b.connector_id, b.operation_type, b.hook_phase, b.execution_order, b.id ${paged.sql}`,
        paged.params,
      ),
      db.query<{ total: number }>(`SELECT count(*)::int AS total FROM hook_bindings b WHERE ${filters.where}`, filters.params),
    ]);
    return page(rows, total, query);
  }

  async get(principal: Principal, id: string): Promise<BindingDto> {
    const binding = await this.find(this.db.read(principal), id);
    if (!binding) throw new NotFoundError('binding', id);
    return binding;
  }

  async create(principal: Principal, dto: CreateBindingDto): Promise<BindingDto> {
    const failurePolicy = dto.failure_policy ?? 'abort';
    const maxRetries = resolveRetries(failurePolicy, dto.max_retries);
    const hook: Hook = { connector_id: dto.connector_id, operation_type: dto.operation_type, hook_phase: dto.hook_phase };
    const id = await this.db.write(principal, async (tx) => {
      await this.checkScript(tx, dto.script_id);
      await this.lockConnector(tx, dto.connector_id, 'connector_id');
      const [{ n, last }] = await tx.query<{ n: number; last: number }>(
        `SELECT count(*)::int AS n, COALESCE(max(execution_order) + 1, 0)::int AS last
           FROM hook_bindings WHERE tenant_id = $1 AND connector_id = $2 AND operation_type = $3 AND hook_phase = $4`,
        [hook.connector_id, hook.operation_type, hook.hook_phase],
      );
      if (n >= MAX_BINDINGS_PER_HOOK) throw new ConflictError(`this hook already has ${MAX_BINDINGS_PER_HOOK} bindings`, 'connector_id');
      const row = await this.guard(() =>
        tx.one<{ id: string }>(
          `INSERT INTO hook_bindings (tenant_id, script_id, connector_id, hook_phase, operation_type, execution_order, failure_policy, max_retries,
                                      timeout_seconds, enabled, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
          [dto.script_id, hook.connector_id, hook.hook_phase, hook.operation_type, last, failurePolicy, maxRetries, dto.timeout_seconds ?? DEFAULT_TIMEOUT_SECONDS, dto.enabled ?? true, tx.actorId],
        ),
      );
      await this.renumber(tx, hook); // closes gaps a CASCADE may have left: the new binding is then at n
      const created = (await this.find(tx, row!.id))!;
      await this.record(tx, created, 'create', { after: settingsOf(created), execution_order: created.execution_order });
      return created.id;
    });
    return this.get(principal, id);
  }

  async update(principal: Principal, id: string, dto: UpdateBindingDto): Promise<BindingDto> {
    if (SETTINGS.every((field) => dto[field] === undefined)) throw new ValidationError('the request changes nothing: give at least one field', undefined);
    await this.db.write(principal, async (tx) => {
      const current = await this.lockBinding(tx, id);
      const failurePolicy = dto.failure_policy ?? (current.failure_policy as HookFailurePolicy);
      const next = {
        hook_phase: dto.hook_phase ?? current.hook_phase,
        operation_type: dto.operation_type ?? current.operation_type,
        failure_policy: failurePolicy,
        max_retries: resolveRetries(failurePolicy, dto.max_retries, current.max_retries),
        timeout_seconds: dto.timeout_seconds ?? current.timeout_seconds,
        enabled: dto.enabled ?? current.enabled,
      };
      const changed = SETTINGS.filter((field) => next[field] !== current[field]);
      if (!changed.length) return;
      const moved = next.hook_phase !== current.hook_phase || next.operation_type !== current.operation_type;
      await this.guard(() =>
        tx.execute(
          `UPDATE hook_bindings SET hook_phase = $3::text, operation_type = $4::text, failure_policy = $5, max_retries = $6, timeout_seconds = $7, enabled = $8,
                  execution_order = CASE WHEN $9::boolean
                    THEN (SELECT COALESCE(max(o.execution_order) + 1, 0) FROM hook_bindings o
                           WHERE o.tenant_id = $1 AND o.connector_id = hook_bindings.connector_id AND o.operation_type = $4::text AND o.hook_phase = $3::text)
                    ELSE execution_order END,
                  updated_at = now()
            WHERE tenant_id = $1 AND id = $2`,
          [id, next.hook_phase, next.operation_type, next.failure_policy, next.max_retries, next.timeout_seconds, next.enabled, moved],
        ),
      );
      if (moved) {
        await this.renumber(tx, current);
        await this.renumber(tx, { connector_id: current.connector_id, operation_type: next.operation_type, hook_phase: next.hook_phase });
      }
      const pick = (row: object) => Object.fromEntries(changed.map((f) => [f, (row as Record<string, unknown>)[f]]));
      await this.record(tx, current, 'update', { changed, before: pick(current), after: pick(next) });
    });
    return this.get(principal, id);
  }

  async delete(principal: Principal, id: string): Promise<void> {
    await this.db.write(principal, async (tx) => {
      const current = await this.lockBinding(tx, id);
      await this.record(tx, current, 'delete', { before: settingsOf(current), execution_order: current.execution_order });
      await tx.execute('DELETE FROM hook_bindings WHERE tenant_id = $1 AND id = $2', [id]);
      await this.renumber(tx, current);
    });
  }

  /** Sets the order of a hook's bindings: `binding_ids` must list exactly its bindings, once each. */
  async reorder(principal: Principal, dto: ReorderBindingsDto): Promise<HookBindingsDto> {
    const hook: Hook = { connector_id: dto.connector_id, operation_type: dto.operation_type, hook_phase: dto.hook_phase };
    await this.db.write(principal, async (tx) => {
      await this.lockConnector(tx, hook.connector_id, 'connector_id');
      const current = await this.hookBindings(tx, hook);
      const currentIds = new Set(current.map((b) => b.id));
      const given = new Set(dto.binding_ids);
      const missing = current.filter((b) => !given.has(b.id)).map((b) => b.id);
      const foreign = dto.binding_ids.filter((bid) => !currentIds.has(bid));
      if (missing.length || foreign.length) {
        const problems = [...(missing.length ? [`missing ${missing.join(', ')}`] : []), ...(foreign.length ? [`not bindings of this hook: ${foreign.join(', ')}`] : [])];
        throw new ValidationError(`binding_ids must list exactly the ${current.length} bindings of this hook, in the new order (${problems.join('; ')})`, 'binding_ids', {
          missing,
          not_in_hook: foreign,
        });
      }
      const moved = await tx.query<{ id: string; script_id: string; execution_order: number }>(
        `UPDATE hook_bindings b SET execution_order = o.n - 1, updated_at = now()
           FROM unnest($2::uuid[]) WITH ORDINALITY AS o(id, n)
          WHERE b.tenant_id = $1 AND b.id = o.id AND b.execution_order <> o.n - 1
          RETURNING b.id, b.script_id, b.execution_order`,
        [dto.binding_ids],
      );
      const before = new Map(current.map((b) => [b.id, b.execution_order]));
      for (const row of moved) {
        await this.audit.record(tx, {
          script_id: row.script_id,
          entity_type: 'hook_binding',
          entity_id: row.id,
          action: 'reorder',
          details: { ...hook, from: before.get(row.id), to: row.execution_order },
        });
      }
    });
    return { ...hook, items: await this.hookBindings(this.db.read(principal), hook) };
  }

  private find(db: TenantScoped, id: string): Promise<BindingDto | undefined> {
    return db.one<BindingDto>(`SELECT ${COLUMNS} FROM hook_bindings b WHERE b.tenant_id = $1 AND b.id = $2`, [id]);
  }

  private hookBindings(db: TenantScoped, hook: Hook): Promise<BindingDto[]> {
    return db.query<BindingDto>(
      `SELECT ${COLUMNS} FROM hook_bindings b
        WHERE b.tenant_id = $1 AND b.connector_id = $2 AND b.operation_type = $3 AND b.hook_phase = $4
        ORDER BY b.execution_order, b.created_at, b.id`,
      [hook.connector_id, hook.operation_type, hook.hook_phase],
    );
  }

  /** Only an embedded (provisioning) script of the tenant that is not archived can be bound. */
  private async checkScript(tx: CallerTransaction, scriptId: string): Promise<void> {
    const script = await tx.one<{ type: string; status: string }>('SELECT type, status FROM scripts WHERE tenant_id = $1 AND id = $2', [scriptId]);
    if (!script) throw new ReferencedNotFoundError('script', scriptId, 'script_id');
    if (script.type !== 'embedded') throw new ValidationError(`script ${scriptId} is a ${script.type} script; only embedded (provisioning) scripts run as hooks`, 'script_id');
    if (script.status === 'archived') throw new ConflictError(`script ${scriptId} is archived`, 'script_id');
  }

  /**
   * Checks the connector is the tenant's and takes the per-connector advisory lock (released at commit or
   * rollback) that serialises changes to its bindings' order.
   */
  private async lockConnector(tx: CallerTransaction, connectorId: string, field: string): Promise<void> {
    const found = await tx.one<{ id: string }>(
      `SELECT c.id, pg_advisory_xact_lock(hashtextextended('provisio:hook_bindings:' || c.tenant_id::text || ':' || c.id::text, 0))::text AS locked
         FROM connectors c WHERE c.tenant_id = $1 AND c.id = $2`,
      [connectorId],
    );
    if (!found) throw new ReferencedNotFoundError('connector', connectorId, field);
  }

  /** The binding, under its connector's lock and its own row lock; 404 when it is not in the tenant. */
  private async lockBinding(tx: CallerTransaction, id: string): Promise<BindingDto> {
    const seen = await tx.one<{ connector_id: string }>('SELECT connector_id FROM hook_bindings WHERE tenant_id = $1 AND id = $2', [id]);
    if (!seen) throw new NotFoundError('binding', id);
    await this.lockConnector(tx, seen.connector_id, 'connector_id');
    const current = await tx.one<BindingDto>(`SELECT ${COLUMNS} FROM hook_bindings b WHERE b.tenant_id = $1 AND b.id = $2 FOR UPDATE OF b`, [id]);
    if (!current) throw new NotFoundError('binding', id); // deleted while we waited for the lock
    return current;
  }

  /** Positions 0, 1, 2 … in the current order (after a binding left the hook). */
  private async renumber(tx: CallerTransaction, hook: Hook): Promise<void> {
    await tx.execute(
      `UPDATE hook_bindings b SET execution_order = r.n - 1, updated_at = now()
         FROM (SELECT id, row_number() OVER (ORDER BY execution_order, created_at, id) AS n
                 FROM hook_bindings WHERE tenant_id = $1 AND connector_id = $2 AND operation_type = $3 AND hook_phase = $4) r
        WHERE b.tenant_id = $1 AND b.id = r.id AND b.execution_order <> r.n - 1`,
      [hook.connector_id, hook.operation_type, hook.hook_phase],
    );
  }

  private record(tx: CallerTransaction, binding: BindingDto, action: string, details: Record<string, unknown>): Promise<void> {
    return this.audit.record(tx, { script_id: binding.script_id, entity_type: 'hook_binding', entity_id: binding.id, action, details: { connector_id: binding.connector_id, ...details } });
  }

  private async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      translateUniqueViolation(error, BINDING_UNIQUES);
    }
  }
}

function settingsOf(binding: BindingDto): Record<string, unknown> {
  return Object.fromEntries(SETTINGS.map((field) => [field, binding[field]]));
}
