import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import type { ExecutionResult, ResourceLimits } from '@provisio/sandbox';

/** An execution row as the worker needs it. */
export interface ExecutionRow {
  id: string;
  script_id: string;
  tenant_id: string;
  status: string;
  trigger_type: string;
  trigger_data: Record<string, unknown>;
  input: Record<string, unknown>;
  retry_count: number;
  max_retries: number;
  parent_execution_id: string | null;
  scheduled_job_id: string | null;
  scheduled_for: Date | null;
  executed_by: string | null;
  error: string | null;
}

export interface ScriptToRun {
  id: string;
  tenant_id: string;
  status: string;
  source: string;
  resource_limits: ResourceLimits;
  current_version: number;
  /** Hosts the tenant lets `fetch` reach although they resolve to private addresses (tenants.settings). */
  allowed_hosts: string[];
}

export interface NewExecution {
  script_id: string;
  tenant_id: string;
  trigger_type: string;
  trigger_data: Record<string, unknown>;
  input: Record<string, unknown>;
  max_retries?: number;
  executed_by?: string | null;
  scheduled_job_id?: string | null;
  scheduled_for?: string | null;
}

const TERMINAL = ['completed', 'failed', 'timeout', 'cancelled', 'skipped'];
const COLUMNS = 'id, script_id, tenant_id, status, trigger_type, trigger_data, input, retry_count, max_retries, parent_execution_id, scheduled_job_id, scheduled_for, executed_by, error';

/** SQL of `script_executions` for the worker; every method takes the transaction to run in. */
@Injectable()
export class ExecutionsRepository {
  isTerminal(status: string): boolean {
    return TERMINAL.includes(status);
  }

  /** Inserts pending executions; a scheduled slot that already has its execution is skipped (returns fewer rows). */
  async create(manager: EntityManager, rows: NewExecution[]): Promise<ExecutionRow[]> {
    if (rows.length === 0) return [];
    const values: unknown[] = [];
    const tuples = rows.map((r, i) => {
      values.push(r.script_id, r.tenant_id, r.trigger_type, JSON.stringify(r.trigger_data), JSON.stringify(r.input), r.max_retries ?? 0, r.executed_by ?? null, r.scheduled_job_id ?? null, r.scheduled_for ?? null);
      const p = i * 9;
      return `($${p + 1}::uuid, $${p + 2}::uuid, 'pending', $${p + 3}, $${p + 4}::jsonb, $${p + 5}::jsonb, $${p + 6}::int, $${p + 7}, $${p + 8}::uuid, $${p + 9}::timestamptz)`;
    });
    return manager.query(
      `INSERT INTO script_executions (script_id, tenant_id, status, trigger_type, trigger_data, input, max_retries, executed_by, scheduled_job_id, scheduled_for)
       VALUES ${tuples.join(', ')}
       ON CONFLICT DO NOTHING
       RETURNING ${COLUMNS}`,
      values,
    );
  }

  /** Locks the row for the run: a concurrent run of the same execution waits, then sees it terminal. */
  async lock(manager: EntityManager, id: string): Promise<ExecutionRow | undefined> {
    const rows: ExecutionRow[] = await manager.query(`SELECT ${COLUMNS} FROM script_executions WHERE id = $1 FOR UPDATE`, [id]);
    return rows[0];
  }

  /** The retry attempt `retryCount` of a root execution, if it was already recorded. */
  async findAttempt(manager: EntityManager, rootId: string, retryCount: number): Promise<ExecutionRow | undefined> {
    const rows: ExecutionRow[] = await manager.query(
      `SELECT ${COLUMNS} FROM script_executions WHERE parent_execution_id = $1 AND retry_count = $2 FOR UPDATE`,
      [rootId, retryCount],
    );
    return rows[0];
  }

  async createAttempt(manager: EntityManager, root: ExecutionRow, retryCount: number): Promise<ExecutionRow> {
    const [row]: ExecutionRow[] = await manager.query(
      `INSERT INTO script_executions (script_id, tenant_id, status, trigger_type, trigger_data, input, retry_count, max_retries, parent_execution_id, executed_by)
       VALUES ($1, $2, 'pending', $3, $4::jsonb, $5::jsonb, $6, $7, $8, $9)
       RETURNING ${COLUMNS}`,
      [root.script_id, root.tenant_id, root.trigger_type, JSON.stringify(root.trigger_data), JSON.stringify(root.input), retryCount, root.max_retries, root.id, root.executed_by],
    );
    return row;
  }

  async loadScript(manager: EntityManager, scriptId: string): Promise<ScriptToRun | undefined> {
    const rows: ScriptToRun[] = await manager.query(
      `SELECT s.id, s.tenant_id, s.status, s.source, s.resource_limits, s.current_version,
              COALESCE(ARRAY(SELECT jsonb_array_elements_text(t.settings->'allowed_fetch_hosts')), ARRAY[]::text[]) AS allowed_hosts
         FROM scripts s JOIN tenants t ON t.id = s.tenant_id
        WHERE s.id = $1`,
      [scriptId],
    );
    return rows[0];
  }

  async record(manager: EntityManager, id: string, at: { startedAt: Date; completedAt: Date }, scriptVersion: number, result: ExecutionResult): Promise<void> {
    await manager.query(
      `UPDATE script_executions
          SET status = $2, output = $3::jsonb, error = $4, metrics = $5::jsonb, logs = $6::jsonb,
              started_at = $7, completed_at = $9, script_version = $8
        WHERE id = $1`,
      [
        id,
        result.status,
        result.status === 'completed' ? JSON.stringify(result.output ?? null) : null,
        result.error,
        JSON.stringify(result.metrics),
        JSON.stringify(result.logs.map((l) => ({ level: l.level, message: l.message, timestamp: l.at }))),
        at.startedAt,
        scriptVersion,
        at.completedAt,
      ],
    );
  }

  /** A run that could not start (script gone or no longer active). */
  async skip(manager: EntityManager, id: string, reason: string): Promise<void> {
    await manager.query(`UPDATE script_executions SET status = 'skipped', error = $2, completed_at = clock_timestamp() WHERE id = $1`, [id, reason]);
  }

  /** Pending executions older than `olderThanMs` (their job may never have been enqueued). */
  async stalePending(manager: EntityManager, olderThanMs: number, limit: number): Promise<{ id: string; trigger_type: string }[]> {
    return manager.query(
      `SELECT id, trigger_type FROM script_executions
        WHERE status = 'pending' AND parent_execution_id IS NULL AND dry_run = false
          AND started_at < now() - make_interval(secs => $1::double precision / 1000)
        ORDER BY started_at LIMIT $2`,
      [olderThanMs, limit],
    );
  }
}
