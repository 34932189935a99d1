import { Injectable } from '@nestjs/common';
import type { CrossTenant, TenantScoped } from '@provisio/persistence';
import { SqlFilters } from '@provisio/platform';

export type RunStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' | 'paused';
export type RunPhase = 'queued' | 'reading' | 'expecting' | 'classifying' | 'guarding' | 'awaiting_approval' | 'remediating' | 'done';

/** Where a run resumes: the cursor of the page after the last one staged (null: from the start). */
export interface RunCheckpoint {
  cursor?: string | null;
  pages?: number;
  reading_done?: boolean;
  /** The newest watermark a delta page carried. */
  watermark?: string | null;
  /** The watermark the run started from (delta). */
  since?: string | null;
  skipped_accounts?: number;
  /** How many segments the run was cut into. */
  segments?: number;
}

export interface RunRow {
  id: string;
  tenant_id: string;
  connector_id: string;
  schedule_id: string | null;
  /** The schedule occurrence this run was started for (null: started through the API). */
  scheduled_for: Date | null;
  mode: 'full' | 'delta';
  dry_run: boolean;
  status: RunStatus;
  phase: RunPhase;
  started_at: Date;
  completed_at: Date | null;
  phase_started_at: Date | null;
  /** Moments of its progress (a trigger keeps them): `first_page_at`, `first_page_accounts`, `<phase>_ended_at`. */
  progress_marks: { first_page_at?: string; first_page_accounts?: number } & Record<string, string | number | undefined>;
  /** The connector's last completed run of the same mode and dry_run: its accounts and the seconds it took after reading (the ETA's tail). */
  previous_run: { accounts: number; after_reading_seconds: number | null } | null;
  accounts_processed: number;
  accounts_total: number | null;
  discrepancies_found: number;
  api_calls_made: number;
  duration_seconds: number | null;
  error_message: string | null;
  checkpoint: RunCheckpoint;
  watermark: string | null;
  delete_threshold_percent: number | null;
  guard: Record<string, unknown> | null;
  pause_reason: string | null;
  lease_token: string | null;
  heartbeat_at: Date | null;
  created_by: number | null;
  created_by_subject?: string | null;
  updated_at: Date;
}

const COLUMNS = `r.id, r.tenant_id, r.connector_id, r.schedule_id, r.scheduled_for, r.mode, r.dry_run, r.status, r.phase, r.started_at, r.completed_at, r.phase_started_at,
  r.accounts_processed, r.accounts_total, r.discrepancies_found, r.api_calls_made, r.duration_seconds, r.error_message, r.checkpoint, r.watermark,
  r.delete_threshold_percent, r.guard, r.pause_reason, r.lease_token, r.heartbeat_at, r.created_by, r.updated_at,
  (SELECT u.subject FROM users u WHERE u.id = r.created_by) AS created_by_subject, r.progress_marks,
  (SELECT jsonb_build_object('accounts', p.accounts_processed, 'after_reading_seconds', extract(epoch FROM p.completed_at - (p.progress_marks ->> 'reading_ended_at')::timestamptz))
     FROM reconciliation_runs p
    WHERE p.connector_id = r.connector_id AND p.status = 'completed' AND p.tenant_id = r.tenant_id AND p.mode = r.mode AND p.dry_run = r.dry_run AND p.id <> r.id
    ORDER BY p.completed_at DESC LIMIT 1) AS previous_run`;

/** Every statement of reconciliation_runs. */
@Injectable()
export class RunsRepository {
  async insert(db: TenantScoped, run: { connector_id: string; mode: string; dry_run: boolean; delete_threshold_percent: number | null; created_by: number | null; schedule_id?: string | null }): Promise<RunRow> {
    const [row] = await db.query<{ id: string }>(
      `INSERT INTO reconciliation_runs (tenant_id, connector_id, mode, dry_run, delete_threshold_percent, created_by, schedule_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
      [run.connector_id, run.mode, run.dry_run, run.delete_threshold_percent, run.created_by, run.schedule_id ?? null],
    );
    return (await this.find(db, row.id))!;
  }

  /**
   * The run of a schedule's occurrence; undefined, inserting nothing, when the connector has a run in
   * progress (uq_reconciliation_runs_active) or the occurrence already has its run
   * (uq_reconciliation_runs_schedule_occurrence). No error: the caller's transaction goes on.
   */
  async insertScheduled(db: TenantScoped, run: { connector_id: string; mode: string; dry_run: boolean; schedule_id: string; scheduled_for: Date }): Promise<RunRow | undefined> {
    const [row] = await db.query<{ id: string }>(
      `INSERT INTO reconciliation_runs (tenant_id, connector_id, mode, dry_run, schedule_id, scheduled_for)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id`,
      [run.connector_id, run.mode, run.dry_run, run.schedule_id, run.scheduled_for],
    );
    return row ? this.find(db, row.id) : undefined;
  }

  find(db: TenantScoped, id: string): Promise<RunRow | undefined> {
    return db.one<RunRow>(`SELECT ${COLUMNS} FROM reconciliation_runs r WHERE r.tenant_id = $1 AND r.id = $2`, [id]);
  }

  async list(db: TenantScoped, filters: SqlFilters, query: { limit: number; offset: number }): Promise<{ rows: RunRow[]; total: number }> {
    const page = filters.page(query);
    const rows = await db.query<RunRow>(`SELECT ${COLUMNS} FROM reconciliation_runs r WHERE ${filters.where} ORDER BY r.started_at DESC, r.id ${page.sql}`, page.params);
    const [count] = await db.query<{ total: number }>(`SELECT count(*)::int AS total FROM reconciliation_runs r WHERE ${filters.where}`, filters.params);
    return { rows, total: count.total };
  }

  /** The watermark of the connector's last completed run: where a delta starts. */
  async lastWatermark(db: TenantScoped, connectorId: string): Promise<string | null> {
    const row = await db.one<{ watermark: string | null }>(
      `SELECT watermark FROM reconciliation_runs WHERE tenant_id = $1 AND connector_id = $2 AND status = 'completed' ORDER BY completed_at DESC LIMIT 1`,
      [connectorId],
    );
    return row?.watermark ?? null;
  }

  /** Takes the run for a worker (pending → running, or a running run back from a dead worker); undefined when it is not runnable. */
  async claim(db: TenantScoped, id: string, token: string): Promise<RunRow | undefined> {
    const [row] = await db.query<{ id: string }>(
      `UPDATE reconciliation_runs
          SET status = 'running', lease_token = $3, heartbeat_at = now(), updated_at = now(),
              started_at = CASE WHEN status = 'pending' THEN now() ELSE started_at END,
              phase = CASE WHEN phase = 'queued' THEN 'reading' ELSE phase END,
              phase_started_at = CASE WHEN phase = 'queued' THEN now() ELSE phase_started_at END
        WHERE tenant_id = $1 AND id = $2 AND status IN ('pending', 'running') RETURNING id`,
      [id, token],
    );
    return row ? this.find(db, id) : undefined;
  }

  /**
   * A change of the holder's run, fenced on its lease: 0 rows when the run was paused, cancelled or
   * taken by another worker meanwhile (the caller then rolls back what it did in the same transaction).
   */
  async advance(db: TenantScoped, id: string, token: string, set: string, params: unknown[] = []): Promise<number> {
    return db.execute(`UPDATE reconciliation_runs SET ${set}, heartbeat_at = now(), updated_at = now() WHERE tenant_id = $1 AND id = $2 AND lease_token = $3 AND status = 'running'`, [id, token, ...params]);
  }

  /**
   * A change of a running run by any holder of one of its segments (not fenced on the run's lease: a
   * segment's worker does not hold it). `set` numbers its parameters from $4, as `advance`'s do.
   */
  async advanceRunning(db: TenantScoped, id: string, set: string, params: unknown[] = []): Promise<number> {
    return db.execute(`UPDATE reconciliation_runs SET ${set}, heartbeat_at = now(), updated_at = now() WHERE tenant_id = $1 AND id = $2 AND status = 'running' AND $3::int = 0`, [id, 0, ...params]);
  }

  /** Status changes by the API: from one of `from` to `to`; undefined when the run was in none of them. */
  async transition(db: TenantScoped, id: string, from: RunStatus[], set: string, params: unknown[] = []): Promise<RunRow | undefined> {
    const [row] = await db.query<{ id: string }>(
      `UPDATE reconciliation_runs SET ${set}, updated_at = now() WHERE tenant_id = $1 AND id = $2 AND status = ANY($3::text[]) RETURNING id`,
      [id, from, ...params],
    );
    return row ? this.find(db, id) : undefined;
  }

  /** Runs without a live worker: pending ones (their job may be lost) and running ones whose heartbeat stopped. */
  stale(db: CrossTenant, pendingAfterMs: number, abandonedAfterMs: number, limit: number): Promise<{ id: string; tenant_id: string }[]> {
    return db.query(
      `SELECT id, tenant_id FROM reconciliation_runs
        WHERE (status = 'pending' AND updated_at < now() - make_interval(secs => $1 / 1000.0))
           OR (status = 'running' AND heartbeat_at < now() - make_interval(secs => $2 / 1000.0))
        ORDER BY updated_at LIMIT $3`,
      [pendingAfterMs, abandonedAfterMs, limit],
    );
  }

  /** Progress of running runs of every tenant (metrics). */
  running(db: CrossTenant): Promise<RunRow[]> {
    return db.query<RunRow>(`SELECT ${COLUMNS} FROM reconciliation_runs r WHERE r.status IN ('running', 'paused')`);
  }
}
