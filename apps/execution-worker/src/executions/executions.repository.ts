import { Injectable } from '@nestjs/common';
import { TERMINAL_EXECUTION_STATUSES } from '@provisio/contracts';
import { CrossTenant, TenantDatabase, TenantScoped } from '@provisio/persistence';
import { toStorableJson, toStorableText, toStorableTextOrNull } from '@provisio/platform';
import { DEFAULT_RESOURCE_LIMITS } from '@provisio/sandbox';
import { EXECUTION_COLUMNS, ExecutionRow, RUNNING_GRACE_MS, SCRIPT_TO_RUN_COLUMNS, SCRIPT_TO_RUN_JOINS, splitClaimedRow, TERMINAL_LIST, type ClaimedRow, type ScriptToRun } from '@provisio/script-execution';
import type { EntityManager } from 'typeorm';

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

/** Why the queue's statements that name executions by id alone span tenants (a job carries only the id). */
export const BY_EXECUTION_ID = 'a queued job, a claim or a sweep names executions by id alone; each row says its tenant';

/**
 * The execution queue's statements of `script_executions` (creating executions, claiming them, attempts
 * and retries, the recovery sweep); running and recording are `@provisio/script-execution`'s. Statements
 * of one tenant take its handle (TenantScoped); those that name executions by id alone or sweep every
 * tenant take a CrossTenant handle that says so. Whatever came from outside is written through
 * toStorableJson / toStorableText: NUL and unpaired surrogates become U+FFFD (docs/events.md).
 */
@Injectable()
export class ExecutionsRepository {
  constructor(private readonly db: TenantDatabase) {}

  isTerminal(status: string): boolean {
    return (TERMINAL_EXECUTION_STATUSES as readonly string[]).includes(status);
  }

  /**
   * Inserts pending executions of one tenant, in the caller's transaction; a scheduled slot that already
   * has its execution is skipped (returns fewer rows).
   */
  async create(manager: EntityManager, rows: NewExecution[]): Promise<ExecutionRow[]> {
    if (rows.length === 0) return [];
    const tenantId = rows[0].tenant_id;
    if (rows.some((r) => r.tenant_id !== tenantId)) throw new Error('create: executions of one tenant at a time');
    const values: unknown[] = [];
    const tuples = rows.map((r, i) => {
      values.push(r.script_id, r.trigger_type, toStorableJson(r.trigger_data), toStorableJson(r.input), r.max_retries ?? 0, toStorableTextOrNull(r.executed_by), r.scheduled_job_id ?? null, r.scheduled_for ?? null);
      const p = i * 8 + 1;
      return `($1, $${p + 1}::uuid, 'pending', $${p + 2}, $${p + 3}::jsonb, $${p + 4}::jsonb, $${p + 5}::int, $${p + 6}, $${p + 7}::uuid, $${p + 8}::timestamptz)`;
    });
    return this.db.join(manager, tenantId).query<ExecutionRow>(
      `INSERT INTO script_executions (tenant_id, script_id, status, trigger_type, trigger_data, input, max_retries, executed_by, scheduled_job_id, scheduled_for)
       VALUES ${tuples.join(', ')}
       ON CONFLICT DO NOTHING
       RETURNING ${EXECUTION_COLUMNS}`,
      values,
    );
  }

  /** Locks the row for the run: a concurrent run of the same execution waits, then sees it terminal. */
  async lock(tx: CrossTenant, id: string): Promise<ExecutionRow | undefined> {
    return tx.one<ExecutionRow>(`SELECT ${EXECUTION_COLUMNS} FROM script_executions WHERE id = $1 FOR UPDATE`, [id]);
  }

  /** The retry attempt `retryCount` of a root execution, if it was already recorded. */
  async findAttempt(tx: TenantScoped, rootId: string, retryCount: number): Promise<ExecutionRow | undefined> {
    return tx.one<ExecutionRow>(`SELECT ${EXECUTION_COLUMNS} FROM script_executions WHERE tenant_id = $1 AND parent_execution_id = $2 AND retry_count = $3 FOR UPDATE`, [rootId, retryCount]);
  }

  async createAttempt(tx: TenantScoped, root: ExecutionRow, retryCount: number): Promise<ExecutionRow> {
    const row = await tx.one<ExecutionRow>(
      `INSERT INTO script_executions (tenant_id, script_id, status, trigger_type, trigger_data, input, retry_count, max_retries, parent_execution_id, executed_by)
       VALUES ($1, $2, 'pending', $3, $4::jsonb, $5::jsonb, $6, $7, $8, $9)
       RETURNING ${EXECUTION_COLUMNS}`,
      [root.script_id, root.trigger_type, toStorableJson(root.trigger_data), toStorableJson(root.input), retryCount, root.max_retries, root.id, root.executed_by],
    );
    return row!;
  }

  /** Marks an attempt running (the careful path, in its transaction). */
  async markRunning(tx: TenantScoped, id: string): Promise<void> {
    await tx.execute(`UPDATE script_executions SET status = 'running', started_at = clock_timestamp() WHERE tenant_id = $1 AND id = $2`, [id]);
  }

  /**
   * Marks a first attempt running and returns it with its script, in one statement (no transaction: the
   * hot path). Undefined when the execution is missing or already recorded.
   */
  async claimForRun(id: string): Promise<{ execution: ExecutionRow; script: ScriptToRun } | undefined> {
    return (await this.claimManyForRun([id]))[0];
  }

  /** `claimForRun` for many executions at once (one statement, one commit), of whatever tenants. */
  async claimManyForRun(ids: string[]): Promise<{ execution: ExecutionRow; script: ScriptToRun }[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.allTenants(BY_EXECUTION_ID).query<ClaimedRow>(
      `WITH claimed AS (
         UPDATE script_executions SET status = 'running', started_at = clock_timestamp()
          WHERE id = ANY($1::uuid[]) AND status IN ('pending', 'queued', 'running')
          RETURNING ${EXECUTION_COLUMNS})
       SELECT c.*, ${SCRIPT_TO_RUN_COLUMNS} FROM claimed c ${SCRIPT_TO_RUN_JOINS}`,
      [ids],
    );
    return rows.map(splitClaimedRow);
  }

  /** A run that could not start (script gone or no longer active). */
  async skip(tx: TenantScoped, id: string, reason: string): Promise<void> {
    await tx.execute(`UPDATE script_executions SET status = 'skipped', error = $3, completed_at = clock_timestamp(), next_retry_at = NULL WHERE tenant_id = $1 AND id = $2`, [id, toStorableText(reason)]);
  }

  /**
   * First attempts a crash left behind, in every tenant: pending for longer than `olderThanMs`, or running
   * for longer than their script's max_execution_time_ms plus RUNNING_GRACE_MS (a live worker keeps the
   * rows it holds younger than that: ExecutionHeartbeat).
   */
  async stalePending(olderThanMs: number, limit: number): Promise<{ id: string; trigger_type: string; recovery_count: number }[]> {
    return this.db.allTenants('the recovery sweep: runs a crash left behind, in every tenant').query(
      `SELECT e.id, e.trigger_type, e.recovery_count FROM script_executions e JOIN scripts s ON s.id = e.script_id
        WHERE e.parent_execution_id IS NULL AND e.dry_run = false
          AND ((e.status = 'pending' AND e.started_at < now() - make_interval(secs => $1::double precision / 1000))
            OR (e.status = 'running' AND e.started_at < now() - make_interval(secs => (COALESCE((s.resource_limits->>'max_execution_time_ms')::double precision, $4) + $3) / 1000)))
        ORDER BY e.started_at LIMIT $2`,
      [olderThanMs, limit, RUNNING_GRACE_MS, DEFAULT_RESOURCE_LIMITS.max_execution_time_ms],
    );
  }

  /** Counts one more recovery of each execution (the sweep re-queues them); answers those still unrecorded. */
  async countRecovery(ids: string[]): Promise<{ id: string; trigger_type: string }[]> {
    if (ids.length === 0) return [];
    return this.db.allTenants('the recovery sweep: runs a crash left behind, in every tenant').query(
      `WITH counted AS (
         UPDATE script_executions SET recovery_count = recovery_count + 1
          WHERE id = ANY($1::uuid[]) AND status NOT IN (${TERMINAL_LIST}) RETURNING id, trigger_type)
       SELECT * FROM counted`,
      [ids],
    );
  }

  /** Fails the retry attempts of `rootId` that are not recorded (their runs were abandoned). */
  async failAbandonedAttempts(tx: TenantScoped, rootId: string, error: string): Promise<void> {
    await tx.execute(
      `UPDATE script_executions SET status = 'failed', error = $3, completed_at = clock_timestamp()
        WHERE tenant_id = $1 AND parent_execution_id = $2 AND status NOT IN (${TERMINAL_LIST})`,
      [rootId, error],
    );
  }

  /** Counts one more recovery of a failed run's retries (the sweep re-enqueues them). */
  async countRetryRecovery(rootId: string): Promise<void> {
    await this.db.allTenants(BY_EXECUTION_ID).execute('UPDATE script_executions SET recovery_count = recovery_count + 1 WHERE id = $1', [rootId]);
  }

  /** Ends an execution that was abandoned too often: `failed` with why. Answers it if it was not recorded yet. */
  async failAbandoned(tx: CrossTenant, id: string, error: string): Promise<ExecutionRow | undefined> {
    return tx.one<ExecutionRow>(
      `WITH failed AS (
         UPDATE script_executions SET status = 'failed', error = $2, output = NULL, completed_at = clock_timestamp(), next_retry_at = NULL
          WHERE id = $1 AND status NOT IN (${TERMINAL_LIST}) RETURNING ${EXECUTION_COLUMNS})
       SELECT * FROM failed`,
      [id, error],
    );
  }

  /** When the next attempt of a failed event-triggered run is due (on its first attempt's row); null: none. */
  async scheduleRetry(tx: TenantScoped, rootId: string, at: Date | null): Promise<void> {
    await tx.execute('UPDATE script_executions SET next_retry_at = $3 WHERE tenant_id = $1 AND id = $2 AND next_retry_at IS DISTINCT FROM $3', [rootId, at]);
  }

  /**
   * First attempts of every tenant whose next retry was due more than `graceMs` ago (its job should have
   * run it: Redis may have lost it), with the retries recorded so far.
   */
  async dueRetries(graceMs: number, limit: number): Promise<{ id: string; recovery_count: number; retries_recorded: number }[]> {
    return this.db.allTenants('the recovery sweep: retries the queue lost, in every tenant').query(
      `SELECT e.id, e.recovery_count,
              (SELECT count(*)::int FROM script_executions a WHERE a.parent_execution_id = e.id AND a.status IN (${TERMINAL_LIST})) AS retries_recorded
         FROM script_executions e
        WHERE e.next_retry_at < now() - make_interval(secs => $1::double precision / 1000) AND e.parent_execution_id IS NULL
        ORDER BY e.next_retry_at LIMIT $2`,
      [graceMs, limit],
    );
  }

  /** Whether a dead letter already exists for this execution (a job re-run after its worker died). */
  async hasDeadLetter(tx: TenantScoped, executionId: string): Promise<boolean> {
    return !!(await tx.one('SELECT 1 FROM script_event_dead_letters WHERE tenant_id = $1 AND execution_id = $2', [executionId]));
  }

  /** The dead letter of an event-triggered run's final failure; answers its id. */
  async createDeadLetter(tx: TenantScoped, root: ExecutionRow, executionId: string, eventJson: string, error: string, retryCount: number): Promise<string> {
    const row = await tx.one<{ id: string }>(
      `INSERT INTO script_event_dead_letters (tenant_id, script_id, execution_id, event_type, event_data, error, retry_count)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) RETURNING id`,
      [root.script_id, executionId, toStorableText(String(root.trigger_data.event_type ?? 'unknown')), eventJson, toStorableText(error), retryCount],
    );
    return row!.id;
  }
}
