import { Injectable } from '@nestjs/common';
import type { ReconciliationSchedule, TenantScoped } from '@provisio/persistence';
import { SqlFilters } from '@provisio/platform';

/** A schedule row as the API reads it: the table's entity, with the connector's current name. */
export type ScheduleRow = Omit<ReconciliationSchedule, 'tenant' | 'connector' | 'last_run'>;

/** What create and update write: the definition (normalized by the timing) and the computed next_run_at. */
export type ScheduleWrite = Pick<ReconciliationSchedule, 'mode' | 'frequency' | 'hour_of_day' | 'day_of_week' | 'day_of_month' | 'cron_expression' | 'enabled' | 'dry_run' | 'next_run_at'>;

const SELECT = `SELECT s.id, s.tenant_id, s.connector_id, COALESCE(c.name, s.connector_name) AS connector_name, s.mode, s.frequency, s.day_of_week, s.day_of_month,
         s.hour_of_day, s.cron_expression, s.enabled, s.dry_run, s.last_run_at, s.next_run_at, s.last_outcome, s.last_run_id, s.created_at, s.updated_at
    FROM reconciliation_schedules s LEFT JOIN connectors c ON c.id = s.connector_id AND c.tenant_id = s.tenant_id`;

/** Every statement of reconciliation_schedules the reconciler runs (the scheduler fires them: apps/scheduler). */
@Injectable()
export class SchedulesRepository {
  find(db: TenantScoped, id: string, lock = false): Promise<ScheduleRow | undefined> {
    return db.one<ScheduleRow>(`${SELECT} WHERE s.tenant_id = $1 AND s.id = $2${lock ? ' FOR NO KEY UPDATE OF s' : ''}`, [id]);
  }

  async list(db: TenantScoped, filters: SqlFilters, query: { limit: number; offset: number }): Promise<{ rows: ScheduleRow[]; total: number }> {
    const page = filters.page(query);
    const rows = await db.query<ScheduleRow>(`${SELECT} WHERE ${filters.where} ORDER BY s.created_at DESC, s.id ${page.sql}`, page.params);
    const [count] = await db.query<{ total: number }>(`SELECT count(*)::int AS total FROM reconciliation_schedules s WHERE ${filters.where}`, filters.params);
    return { rows, total: count.total };
  }

  async insert(db: TenantScoped, connector: { id: string; name: string }, row: ScheduleWrite): Promise<string> {
    const [{ id }] = await db.query<{ id: string }>(
      `INSERT INTO reconciliation_schedules (tenant_id, connector_id, connector_name, mode, frequency, hour_of_day, day_of_week, day_of_month, cron_expression, enabled, dry_run, next_run_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
      [connector.id, connector.name, row.mode, row.frequency, row.hour_of_day, row.day_of_week, row.day_of_month, row.cron_expression, row.enabled, row.dry_run, row.next_run_at],
    );
    return id;
  }

  async update(db: TenantScoped, id: string, row: ScheduleWrite): Promise<void> {
    await db.execute(
      `UPDATE reconciliation_schedules
          SET mode = $3, frequency = $4, hour_of_day = $5, day_of_week = $6, day_of_month = $7, cron_expression = $8, enabled = $9, dry_run = $10, next_run_at = $11,
              connector_name = COALESCE((SELECT c.name FROM connectors c WHERE c.id = connector_id), connector_name), updated_at = now()
        WHERE tenant_id = $1 AND id = $2`,
      [id, row.mode, row.frequency, row.hour_of_day, row.day_of_week, row.day_of_month, row.cron_expression, row.enabled, row.dry_run, row.next_run_at],
    );
  }

  delete(db: TenantScoped, id: string): Promise<number> {
    return db.execute('DELETE FROM reconciliation_schedules WHERE tenant_id = $1 AND id = $2', [id]);
  }

  /**
   * The consumer's view of the schedule a request names, locked so that an update or delete waits for the
   * run it starts (or the run waits for them).
   */
  forRequest(db: TenantScoped, id: string): Promise<Pick<ScheduleRow, 'id' | 'connector_id' | 'enabled' | 'last_run_at'> | undefined> {
    return db.one(`SELECT id, connector_id, enabled, last_run_at FROM reconciliation_schedules WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE`, [id]);
  }

  /** What became of an occurrence; only while it is still the schedule's last one (a later one may have fired since). */
  recordOutcome(db: TenantScoped, id: string, scheduledFor: Date, outcome: 'started' | 'skipped', runId: string | null): Promise<number> {
    return db.execute(
      `UPDATE reconciliation_schedules SET last_outcome = $3, last_run_id = COALESCE($4, last_run_id)
        WHERE tenant_id = $1 AND id = $2 AND last_run_at = $5`,
      [id, outcome, runId, scheduledFor],
    );
  }
}
