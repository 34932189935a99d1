import { Inject, Injectable } from '@nestjs/common';
import { createCloudEvent, EventType, messageKey, missingPermission, ScriptExecutionRequested, Topic } from '@provisio/contracts';
import { ScheduleStatus, ScriptScheduledJob, subjectsOf, TenantDatabase, TenantScoped } from '@provisio/persistence';
import { compileSchedule, ConflictError, ForbiddenError, formatLocal, InvalidTransitionError, NotFoundError, page, Page, Principal, ScheduleDefinitionError } from '@provisio/platform';
import { CLOCK, Clock } from '../clock';
import { SCHEDULER_SOURCE } from '../firing/firing.service';
import { definitionOf } from '../scheduled-jobs';
import { SchedulerMetrics } from '../scheduler.metrics';
import type { ListSchedulesQueryDto } from './dto/schedule-queries.dto';
import type { OccurrencesDto, ScheduleDto, TriggerAcceptedDto } from './dto/schedule-responses.dto';

/** A schedule as `SELECT_SCHEDULE` reads it: the table's row (its entity) and two columns of its script. */
type ScheduleRow = Omit<ScriptScheduledJob, 'script' | 'tenant' | 'creator' | 'updater'> & {
  script_name: string;
  script_status: ScheduleDto['script_status'];
};

const SELECT_SCHEDULE = `
  SELECT j.*, s.name AS script_name, s.status AS script_status
    FROM script_scheduled_jobs j
    JOIN scripts s ON s.id = j.script_id`;

/** What pause and resume may do: `disabled` (by a failure action, or a finished or invalid schedule) resumes too. */
const STATUS_CHANGES: Readonly<Record<ScheduleStatus, readonly ScheduleStatus[]>> = {
  active: ['paused'],
  paused: ['active'],
  disabled: ['active'],
};

const iso = (d: Date | null) => d?.toISOString() ?? null;

/**
 * The schedules API's work. Every query is scoped by the caller's tenant: another tenant's schedule is
 * indistinguishable from one that does not exist (404).
 */
@Injectable()
export class SchedulesService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly metrics: SchedulerMetrics,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async list(tenantId: string, query: ListSchedulesQueryDto): Promise<Page<ScheduleDto>> {
    const db = this.db.read(tenantId);
    // The tenant is $1; the filters' values follow it.
    const where = ['j.tenant_id = $1'];
    const params: unknown[] = [];
    if (query.status) where.push(`j.status = $${params.push(query.status) + 1}`);
    if (query.script_id) where.push(`j.script_id = $${params.push(query.script_id) + 1}`);
    const filter = where.join(' AND ');
    const [{ total }] = await db.query<{ total: number }>(`SELECT count(*)::int AS total FROM script_scheduled_jobs j WHERE ${filter}`, params);
    const rows = await db.query<ScheduleRow>(
      `${SELECT_SCHEDULE} WHERE ${filter} ORDER BY j.created_at DESC, j.id LIMIT $${params.length + 2} OFFSET $${params.length + 3}`,
      [...params, query.limit, query.offset],
    );
    return page(await this.render(db, rows), total, query);
  }

  async get(tenantId: string, id: string): Promise<ScheduleDto> {
    const db = this.db.read(tenantId);
    const [view] = await this.render(db, [await this.find(db, id)]);
    return view;
  }

  /** The next `count` occurrences after now, in UTC and on the schedule's wall clock. */
  async upcoming(tenantId: string, id: string, count: number): Promise<OccurrencesDto> {
    const row = await this.find(this.db.read(tenantId), id);
    let items: Date[];
    let timezone: string;
    try {
      const schedule = compileSchedule(definitionOf(row));
      timezone = schedule.timezone;
      items = schedule.upcoming(this.clock.now(), count);
    } catch (error) {
      if (error instanceof ScheduleDefinitionError) throw new ConflictError(`the schedule cannot be evaluated: ${error.message}`, error.field);
      throw error;
    }
    return {
      schedule_id: row.id,
      timezone,
      status: row.status,
      script_status: row.script_status,
      next_run_at: iso(row.next_run_at),
      items: items.map((at) => ({ at: at.toISOString(), local: formatLocal(at, timezone) })),
    };
  }

  /**
   * Runs the schedule's script now: an execution request (`trigger_type` manual, `trigger_data.schedule_id`)
   * through the outbox. It is not an occurrence: it neither moves `next_run_at` nor touches `is_running`
   * or the schedule's counters, and it is allowed while the schedule is paused, as long as the script is active.
   */
  async trigger(principal: Principal, id: string): Promise<TriggerAcceptedDto> {
    const accepted = await this.db.transaction(principal, async (tx) => {
      // FOR SHARE: a concurrent status change of the script waits for this request, or this one sees it.
      const row = await tx.one<{ id: string; script_id: string; script_status: string; required_permissions: string[] }>(
        `SELECT j.id, j.script_id, s.status AS script_status, s.required_permissions
           FROM script_scheduled_jobs j JOIN scripts s ON s.id = j.script_id
          WHERE j.tenant_id = $1 AND j.id = $2
            FOR SHARE OF s`,
        [id],
      );
      if (!row) throw new NotFoundError('schedule', id);
      if (row.script_status !== 'active') throw new ConflictError(`script ${row.script_id} is ${row.script_status}; only active scripts run`, 'script_id');
      // Run now runs as the caller: they must hold what the script requires.
      const missing = missingPermission(principal.permissions, row.required_permissions);
      if (missing) throw new ForbiddenError(`script ${row.script_id} requires permission ${missing} to run (required_permissions)`, 'required_permissions', { missing_permission: missing });
      const now = this.clock.now();
      const data: ScriptExecutionRequested = {
        script_id: row.script_id,
        trigger_type: 'manual',
        input: {},
        trigger_data: { schedule_id: row.id },
        requested_by: principal.subject,
      };
      const event = createCloudEvent({ source: SCHEDULER_SOURCE, type: EventType.ScriptExecutionRequested, tenantid: principal.tenantId, subject: row.script_id, time: now, data });
      await tx.publish({ topic: Topic.ScriptExecutionRequests, key: messageKey.tenantScript(principal.tenantId, row.script_id), event });
      return { request_id: event.id, schedule_id: row.id, script_id: row.script_id, trigger_type: 'manual' as const, requested_at: now.toISOString() };
    });
    this.metrics.fired.inc({ kind: 'manual' });
    return accepted;
  }

  /** Stops the schedule firing (a paused schedule keeps its statistics and can be resumed). */
  async pause(principal: Principal, id: string): Promise<ScheduleDto> {
    return this.setStatus(principal, id, 'paused', false);
  }

  /**
   * Makes a paused or disabled schedule fire again, from its next occurrence after now (what was missed
   * while paused never fires). Resets the failure streak, so a schedule paused by its failure action
   * gets a fresh `failure_threshold`.
   */
  async resume(principal: Principal, id: string): Promise<ScheduleDto> {
    return this.setStatus(principal, id, 'active', true);
  }

  private async setStatus(principal: Principal, id: string, to: ScheduleStatus, reschedule: boolean): Promise<ScheduleDto> {
    return this.db.write(principal, async (tx) => {
      const current = await this.find(tx, id, true);
      const allowed = STATUS_CHANGES[current.status];
      if (!allowed.includes(to)) throw new InvalidTransitionError('schedule', current.status, to, allowed);
      await tx.execute(
        `UPDATE script_scheduled_jobs
            SET status = $3, updated_by = $4, updated_at = $5
                ${reschedule ? ', next_run_at = NULL, consecutive_failures = 0' : ''}
          WHERE tenant_id = $1 AND id = $2`,
        [id, to, tx.actorId, this.clock.now()],
      );
      const [view] = await this.render(tx, [await this.find(tx, id)]);
      return view;
    });
  }

  private async find(db: TenantScoped, id: string, lock = false): Promise<ScheduleRow> {
    const row = await db.one<ScheduleRow>(`${SELECT_SCHEDULE} WHERE j.tenant_id = $1 AND j.id = $2${lock ? ' FOR NO KEY UPDATE OF j' : ''}`, [id]);
    if (!row) throw new NotFoundError('schedule', id);
    return row;
  }

  private async render(db: TenantScoped, rows: ScheduleRow[]): Promise<ScheduleDto[]> {
    const actors = await subjectsOf(db, rows.flatMap((r) => [r.created_by, r.updated_by]).filter((v): v is number => v !== null));
    return rows.map((r) => {
      const finished = r.success_count + r.failure_count;
      const total = Number(r.total_duration_ms);
      return {
        id: r.id,
        script_id: r.script_id,
        script_name: r.script_name,
        script_status: r.script_status,
        tenant_id: r.tenant_id,
        frequency: r.frequency,
        cron_expression: r.cron_expression,
        timezone: r.timezone ?? 'UTC',
        interval_seconds: r.interval_seconds,
        run_at: iso(r.run_at),
        day_filter: r.day_filter,
        status: r.status,
        next_run_at: iso(r.next_run_at),
        last_run_at: iso(r.last_run_at),
        last_run_status: r.last_run_status,
        is_running: r.is_running === true,
        allow_concurrent: r.allow_concurrent,
        misfire_policy: r.misfire_policy,
        failure_action: r.failure_action,
        failure_threshold: r.failure_threshold,
        consecutive_failures: r.consecutive_failures,
        notify_on_success: r.notify_on_success,
        notify_on_failure: r.notify_on_failure,
        notification_emails: r.notification_emails,
        run_count: r.run_count,
        success_count: r.success_count,
        failure_count: r.failure_count,
        success_rate: finished ? r.success_count / finished : null,
        average_duration_ms: finished ? Math.round(total / finished) : null,
        last_duration_ms: r.last_duration_ms,
        total_duration_ms: total,
        last_error: r.last_error,
        locked_by: r.locked_by,
        locked_until: iso(r.locked_until),
        created_by: r.created_by === null ? null : (actors.get(r.created_by) ?? null),
        updated_by: r.updated_by === null ? null : (actors.get(r.updated_by) ?? null),
        created_at: iso(r.created_at),
        updated_at: iso(r.updated_at),
      };
    });
  }
}
