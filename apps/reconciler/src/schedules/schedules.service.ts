import { Injectable } from '@nestjs/common';
import { TenantDatabase } from '@provisio/persistence';
import {
  compileReconciliationSchedule,
  guardUniques,
  normalizeReconciliationSchedule,
  NotFoundError,
  Page,
  page,
  Principal,
  reconciliationCronOf,
  ReconciliationScheduleDefinition,
  ScheduleDefinitionError,
  SqlFilters,
  ValidationError,
} from '@provisio/platform';
import type { CreateScheduleDto, ListSchedulesQueryDto, OccurrencesDto, ScheduleDto, UpdateScheduleDto } from './dtos/schedule.dto';
import { ScheduleRow, SchedulesRepository, ScheduleWrite } from './schedules.repository';

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

/** A connector the caller's tenant does not have: 404, naming the field. */
class ConnectorNotFound extends NotFoundError {
  override readonly field = 'connector_id';
}

/** The fields each frequency uses besides `hour_of_day` (which daily, weekly and monthly use). */
const OWN_FIELDS = { hourly: [], daily: [], weekly: ['day_of_week'], monthly: ['day_of_month'], cron: ['cron_expression'] } as const;
type OptionalField = 'day_of_week' | 'day_of_month' | 'cron_expression';

export function toScheduleDto(row: ScheduleRow): ScheduleDto {
  let effective: string | null = null;
  try {
    effective = reconciliationCronOf({ ...row, seed: row.id });
  } catch {
    // A row written past the API; the scheduler disables it.
  }
  return {
    id: row.id,
    tenant_id: row.tenant_id,
    connector_id: row.connector_id,
    connector_name: row.connector_name,
    mode: row.mode,
    frequency: row.frequency,
    day_of_week: row.day_of_week,
    day_of_month: row.day_of_month,
    hour_of_day: row.hour_of_day,
    cron_expression: row.cron_expression,
    effective_cron: effective,
    timezone: 'UTC',
    enabled: row.enabled,
    dry_run: row.dry_run,
    last_run_at: iso(row.last_run_at),
    next_run_at: iso(row.next_run_at),
    last_outcome: row.last_outcome,
    last_run_id: row.last_run_id,
    created_at: iso(row.created_at)!,
    updated_at: iso(row.updated_at)!,
  };
}

/**
 * Reconciliation schedules through the API (seed 002's ReconciliationSchedule, one per connector). The
 * definition is checked and `next_run_at` computed here, with the timing the scheduler fires them with
 * (libs/platform `reconciliation-timing`): the first occurrence strictly after the write, so a change
 * never fires what it passed over. Disabled schedules have no `next_run_at`.
 */
@Injectable()
export class SchedulesService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly schedules: SchedulesRepository,
  ) {}

  async create(principal: Principal, body: CreateScheduleDto): Promise<ScheduleDto> {
    this.refuseForeignFields(body.frequency, body);
    const row = this.definition({
      mode: body.mode ?? 'full',
      frequency: body.frequency,
      hour_of_day: body.hour_of_day ?? 0,
      day_of_week: body.day_of_week ?? null,
      day_of_month: body.day_of_month ?? null,
      cron_expression: body.cron_expression ?? null,
      enabled: body.enabled ?? true,
      dry_run: body.dry_run ?? false,
    });
    return guardUniques({ reconciliation_schedules_connector_id_key: { field: 'connector_id', message: `connector ${body.connector_id} already has a reconciliation schedule (one per connector: update it)` } }, () =>
      this.db.write(principal, async (tx) => {
        const connector = await tx.one<{ id: string; name: string }>('SELECT id, name FROM connectors WHERE tenant_id = $1 AND id = $2', [body.connector_id]);
        if (!connector) throw new ConnectorNotFound('connector', body.connector_id);
        const id = await this.schedules.insert(tx, connector, row);
        return toScheduleDto((await this.schedules.find(tx, id))!);
      }),
    );
  }

  async list(principal: Principal, query: ListSchedulesQueryDto): Promise<Page<ScheduleDto>> {
    const filters = new SqlFilters('s.tenant_id');
    if (query.connector_id) filters.add('s.connector_id = ?', query.connector_id);
    if (query.frequency) filters.add('s.frequency = ?', query.frequency);
    if (query.enabled) filters.add('s.enabled = ?', query.enabled === 'true');
    const { rows, total } = await this.schedules.list(this.db.read(principal), filters, query);
    return page(rows.map(toScheduleDto), total, query);
  }

  async get(principal: Principal, id: string): Promise<ScheduleDto> {
    const row = await this.schedules.find(this.db.read(principal), id);
    if (!row) throw new NotFoundError('reconciliation schedule', id);
    return toScheduleDto(row);
  }

  /** The next `count` occurrences after now, as the scheduler will fire them (an operator's preview). */
  async occurrences(principal: Principal, id: string, count: number): Promise<OccurrencesDto> {
    const row = await this.schedules.find(this.db.read(principal), id);
    if (!row) throw new NotFoundError('reconciliation schedule', id);
    let items: Date[];
    try {
      items = compileReconciliationSchedule({ ...row, seed: row.id }).upcoming(new Date(), count);
    } catch (error) {
      if (error instanceof ScheduleDefinitionError) throw new ValidationError(`the stored schedule cannot be evaluated: ${error.message}`, error.field);
      throw error;
    }
    return { schedule_id: row.id, timezone: 'UTC', enabled: row.enabled, next_run_at: iso(row.next_run_at), items: items.map((d) => d.toISOString()) };
  }

  /**
   * Changes what is given; a field the (new) frequency does not use is refused when given and cleared
   * when left out (weekly → daily drops `day_of_week`).
   */
  async update(principal: Principal, id: string, body: UpdateScheduleDto): Promise<ScheduleDto> {
    return this.db.write(principal, async (tx) => {
      const current = await this.schedules.find(tx, id, true);
      if (!current) throw new NotFoundError('reconciliation schedule', id);
      const frequency = body.frequency ?? current.frequency;
      this.refuseForeignFields(frequency, body);
      const keep = <K extends OptionalField>(field: K) => (body[field] !== undefined ? body[field] : (OWN_FIELDS[frequency] as readonly string[]).includes(field) ? current[field] : null);
      const row = this.definition({
        mode: body.mode ?? current.mode,
        frequency,
        hour_of_day: body.hour_of_day ?? (frequency === 'hourly' || frequency === 'cron' ? 0 : current.hour_of_day),
        day_of_week: keep('day_of_week') ?? null,
        day_of_month: keep('day_of_month') ?? null,
        cron_expression: keep('cron_expression') ?? null,
        enabled: body.enabled ?? current.enabled,
        dry_run: body.dry_run ?? current.dry_run,
      });
      await this.schedules.update(tx, id, row);
      return toScheduleDto((await this.schedules.find(tx, id))!);
    });
  }

  setEnabled(principal: Principal, id: string, enabled: boolean): Promise<ScheduleDto> {
    return this.db.write(principal, async (tx) => {
      const current = await this.schedules.find(tx, id, true);
      if (!current) throw new NotFoundError('reconciliation schedule', id);
      // Already so: nothing moves (enabling again must not skip an occurrence that is due now).
      if (current.enabled === enabled) return toScheduleDto(current);
      await this.schedules.update(tx, id, this.definition({ ...current, enabled }));
      return toScheduleDto((await this.schedules.find(tx, id))!);
    });
  }

  async delete(principal: Principal, id: string): Promise<void> {
    const deleted = await this.db.write(principal, (tx) => this.schedules.delete(tx, id));
    if (!deleted) throw new NotFoundError('reconciliation schedule', id);
  }

  /** The normalized definition and its next occurrence after now; a 400 naming the field when it has none. */
  private definition(input: Omit<ScheduleWrite, 'next_run_at'>): ScheduleWrite {
    try {
      const definition: ReconciliationScheduleDefinition = normalizeReconciliationSchedule(input);
      const next = input.enabled ? compileReconciliationSchedule(definition).next(new Date()) : null;
      if (input.enabled && !next) throw new ScheduleDefinitionError('cron_expression', `cron_expression "${input.cron_expression}" has no future occurrence`);
      return { ...input, hour_of_day: definition.hour_of_day!, day_of_week: definition.day_of_week, day_of_month: definition.day_of_month, cron_expression: definition.cron_expression, next_run_at: next };
    } catch (error) {
      if (error instanceof ScheduleDefinitionError) throw new ValidationError(error.message, error.field);
      throw error;
    }
  }

  /** A field given (not null) that the frequency does not use is an error, not silently dropped. */
  private refuseForeignFields(frequency: keyof typeof OWN_FIELDS, body: Partial<Record<OptionalField | 'hour_of_day', number | string | null>>): void {
    for (const field of ['day_of_week', 'day_of_month', 'cron_expression'] as const) {
      if (body[field] !== undefined && body[field] !== null && !(OWN_FIELDS[frequency] as readonly string[]).includes(field)) {
        throw new ValidationError(`${field} does not apply to a ${frequency} schedule`, field);
      }
    }
    if ((frequency === 'hourly' || frequency === 'cron') && body.hour_of_day) {
      throw new ValidationError(`hour_of_day does not apply to a ${frequency} schedule (${frequency === 'hourly' ? 'it runs at minute 0 of every hour' : 'the cron expression says when'})`, 'hour_of_day');
    }
  }
}
