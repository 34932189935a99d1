import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { Counter } from 'prom-client';
import { createCloudEvent, EventType, messageKey, ReconciliationRequested, Topic } from '@provisio/contracts';
import type { CrossTenant, ReconciliationSchedule } from '@provisio/persistence';
import { TenantDatabase } from '@provisio/persistence';
import { APP_CONFIG, compileReconciliationSchedule, FiringPlan, Metrics, OutboxEntry, OutboxRelay, planDueOccurrence, ScheduleDefinitionError } from '@provisio/platform';
import { CLOCK, Clock } from '../clock';
import type { AppConfig } from '../config';
import { SCHEDULER_SOURCE } from '../firing/firing.service';

/** The columns of `reconciliation_schedules` the firing reads: a `Pick` of the table's entity. */
type DueSchedule = Pick<ReconciliationSchedule, 'id' | 'tenant_id' | 'connector_id' | 'mode' | 'dry_run' | 'frequency' | 'hour_of_day' | 'day_of_week' | 'day_of_month' | 'cron_expression'> & {
  next_run_at: Date;
};

const COLUMNS = 's.id, s.tenant_id, s.connector_id, s.mode, s.dry_run, s.frequency, s.hour_of_day, s.day_of_week, s.day_of_month, s.cron_expression, s.next_run_at';

/**
 * Due reconciliation schedules, claimed the way script schedules are (firing/firing.service.ts):
 * `FOR NO KEY UPDATE SKIP LOCKED`, so each replica gets rows no other holds, and a row is only claimed
 * while due. The request (outbox) and the advance of `next_run_at` / `last_run_at` commit together;
 * after the commit the row is no longer due, so no replica fires that occurrence again.
 */
const CLAIM_DUE = `
  SELECT ${COLUMNS}
    FROM reconciliation_schedules s
   WHERE s.enabled AND s.next_run_at <= $1
   ORDER BY s.next_run_at
   LIMIT $2
     FOR NO KEY UPDATE OF s SKIP LOCKED`;

/** One statement for the batch: each claimed schedule's next occurrence, and the occurrence it fired. */
const APPLY = `
  UPDATE reconciliation_schedules s SET
         next_run_at = u.next_run_at,
         last_run_at = COALESCE(u.fired_for, s.last_run_at),
         last_outcome = CASE WHEN u.fired_for IS NULL THEN s.last_outcome ELSE 'requested' END,
         enabled = s.enabled AND NOT u.disable
    FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::boolean[]) AS u(id, next_run_at, fired_for, disable)
   WHERE s.id = u.id`;

/** Why the statements span tenants: every replica fires the due reconciliation schedules of all of them. */
const FIRING_LOOP = 'reconciliation firing loop: due reconciliation schedules of every tenant';

/**
 * Missed occurrences are folded into one: a schedule that comes due after downtime (every replica down,
 * longer than SCHEDULER_MISFIRE_THRESHOLD_MS) fires once, for its latest missed occurrence, and moves on
 * to the first occurrence after now. A reconciliation reads the whole target: running it once per missed
 * hour would only queue identical runs behind each other (and the reconciler skips overlapping ones).
 */
const MISFIRE_POLICY = 'run_once' as const;

@Injectable()
export class ReconciliationFiringService {
  private readonly logger = new Logger(ReconciliationFiringService.name);
  private readonly fired: Counter<'kind'>;
  private readonly missed: Counter<'reason'>;

  constructor(
    private readonly db: TenantDatabase,
    metrics: Metrics,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Optional() private readonly relay?: OutboxRelay,
  ) {
    const registers = [metrics.registry];
    this.fired = new Counter({ name: 'provisio_scheduler_reconciliations_fired_total', help: 'Reconciliation requests emitted: kind = scheduled or catch_up (after missed occurrences)', labelNames: ['kind'], registers });
    this.missed = new Counter({ name: 'provisio_scheduler_reconciliations_skipped_total', help: 'Reconciliation occurrences not fired: reason = misfire (folded into a catch-up) or invalid_schedule', labelNames: ['reason'], registers });
  }

  /** Claims up to `limit` due schedules and fires them in one transaction. Returns how many were claimed. */
  async fireDue(limit: number = this.config.SCHEDULER_BATCH_SIZE): Promise<number> {
    const result = await this.db.allTenantsTransaction(FIRING_LOOP, async (tx) => {
      await this.boundTransaction(tx);
      const now = this.clock.now();
      const due = await tx.query<DueSchedule>(CLAIM_DUE, [now, limit]);
      if (due.length === 0) return { claimed: 0, fired: 0, catchUps: 0 };
      const ids: string[] = [];
      const next: (Date | null)[] = [];
      const firedFor: (Date | null)[] = [];
      const disable: boolean[] = [];
      const entries: OutboxEntry[] = [];
      const push = (id: string, nextRunAt: Date | null, fired: Date | null, off: boolean) => {
        ids.push(id);
        next.push(nextRunAt);
        firedFor.push(fired);
        disable.push(off);
      };
      for (const schedule of due) {
        let plan: FiringPlan;
        try {
          plan = planDueOccurrence({ next_run_at: schedule.next_run_at, misfire_policy: MISFIRE_POLICY }, compileReconciliationSchedule({ ...schedule, seed: schedule.id }), now, this.config.SCHEDULER_MISFIRE_THRESHOLD_MS);
        } catch (error) {
          if (!(error instanceof ScheduleDefinitionError)) throw error;
          // Written past the reconciler's API (which refuses it): disabled, loudly, rather than retried forever.
          push(schedule.id, null, null, true);
          this.missed.inc({ reason: 'invalid_schedule' });
          this.logger.error({ message: 'reconciliation schedule cannot be evaluated; disabled', schedule_id: schedule.id, tenant_id: schedule.tenant_id, field: error.field, error: error.message });
          continue;
        }
        if (plan.kind !== 'fire') throw new Error(`misfire policy ${MISFIRE_POLICY} always fires`);
        if (plan.skipped > 0) {
          this.missed.inc({ reason: 'misfire' }, plan.skipped);
          this.logger.warn({ message: 'missed reconciliation occurrences folded into one catch-up', schedule_id: schedule.id, tenant_id: schedule.tenant_id, due: schedule.next_run_at.toISOString(), fired_for: plan.scheduled_for.toISOString(), skipped: plan.skipped });
        }
        // A cron with no further occurrence has fired its last one: disabled rather than looked at again.
        push(schedule.id, plan.next_run_at, plan.scheduled_for, plan.next_run_at === null);
        entries.push(this.requestFor(schedule, plan, now));
      }
      await tx.publish(entries);
      await tx.execute(APPLY, [ids, next, firedFor, disable]);
      return { claimed: due.length, fired: entries.length, catchUps: entries.filter((e) => (e.event.data as ReconciliationRequested).catch_up).length };
    });
    if (result.fired > 0) {
      this.relay?.nudge();
      if (result.fired > result.catchUps) this.fired.inc({ kind: 'scheduled' }, result.fired - result.catchUps);
      if (result.catchUps) this.fired.inc({ kind: 'catch_up' }, result.catchUps);
    }
    return result.claimed;
  }

  /**
   * Gives `next_run_at` to enabled schedules that have none (rows written past the reconciler's API,
   * which always computes it): the first occurrence strictly after now.
   */
  async scheduleNew(limit: number = this.config.SCHEDULER_BATCH_SIZE): Promise<number> {
    return this.db.allTenantsTransaction(FIRING_LOOP, async (tx) => {
      await this.boundTransaction(tx);
      const rows = await tx.query<DueSchedule>(`SELECT ${COLUMNS} FROM reconciliation_schedules s WHERE s.enabled AND s.next_run_at IS NULL LIMIT $1 FOR NO KEY UPDATE OF s SKIP LOCKED`, [limit]);
      if (rows.length === 0) return 0;
      const now = this.clock.now();
      const next: (Date | null)[] = [];
      const disable: boolean[] = [];
      for (const row of rows) {
        try {
          const at = compileReconciliationSchedule({ ...row, seed: row.id }).next(now);
          next.push(at);
          disable.push(at === null);
        } catch (error) {
          if (!(error instanceof ScheduleDefinitionError)) throw error;
          next.push(null);
          disable.push(true);
          this.missed.inc({ reason: 'invalid_schedule' });
          this.logger.error({ message: 'reconciliation schedule cannot be evaluated; disabled', schedule_id: row.id, tenant_id: row.tenant_id, field: error.field, error: error.message });
        }
      }
      await tx.execute(APPLY, [rows.map((r) => r.id), next, rows.map(() => null), disable]);
      return rows.length;
    });
  }

  /** The earliest future occurrence of any enabled schedule: the loop sleeps until then (or its poll). */
  async nextDueAt(): Promise<Date | null> {
    const [{ at }] = await this.db.allTenants(FIRING_LOOP).query<{ at: Date | null }>(`SELECT min(next_run_at) AS at FROM reconciliation_schedules WHERE enabled AND next_run_at > $1`, [this.clock.now()]);
    return at;
  }

  /** PostgreSQL ends a claim that outlives this (a hung replica), releasing its rows: the claim's lease. */
  private async boundTransaction(tx: CrossTenant): Promise<void> {
    const timeout = `${this.config.SCHEDULER_CLAIM_TIMEOUT_MS}ms`;
    await tx.query(`SELECT set_config('statement_timeout', $1, true), set_config('idle_in_transaction_session_timeout', $1, true)`, [timeout]);
  }

  private requestFor(schedule: DueSchedule, plan: Extract<FiringPlan, { kind: 'fire' }>, now: Date): OutboxEntry {
    const data: ReconciliationRequested = {
      schedule_id: schedule.id,
      connector_id: schedule.connector_id,
      mode: schedule.mode,
      dry_run: schedule.dry_run,
      scheduled_for: plan.scheduled_for.toISOString(),
      frequency: schedule.frequency,
      catch_up: plan.catch_up,
      ...(plan.catch_up ? { missed_occurrences: plan.skipped + 1 } : {}),
    };
    const event = createCloudEvent({ source: SCHEDULER_SOURCE, type: EventType.ReconciliationRequested, tenantid: schedule.tenant_id, subject: schedule.id, time: now, data });
    return { topic: Topic.ReconciliationRuns, key: messageKey.tenantConnector(schedule.tenant_id, schedule.connector_id), event };
  }
}
