import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { OutboxEntry, OutboxService, toStorableJson, toStorableText, toStorableTextOrNull } from '@provisio/platform';
import { DEFAULT_RESOURCE_LIMITS, type ExecutionResult, type ResourceLimits } from '@provisio/sandbox';

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
/**
 * How long past its time limit a run's row may say `running` before the recovery sweep takes its
 * worker for dead (also the margin of its max_concurrent_runs lease).
 */
export const RUNNING_GRACE_MS = 5_000;
/** The columns of an ExecutionRow. */
export const EXECUTION_COLUMNS = 'id, script_id, tenant_id, status, trigger_type, trigger_data, input, retry_count, max_retries, parent_execution_id, scheduled_job_id, scheduled_for, executed_by, error';
const TERMINAL_LIST = TERMINAL.map((t) => `'${t}'`).join(', ');

/** A run to record: what the sandbox answered, and when the next attempt is due if it failed (event-triggered first attempts). */
export interface RunToRecord {
  id: string;
  startedAt: Date;
  completedAt: Date;
  scriptVersion: number;
  result: ExecutionResult;
  nextRetryAt?: Date | null;
}

/**
 * The script columns of a ClaimedRow, for a statement whose executions are `c` (joins `scripts s` and
 * `tenants t`): `SELECT c.*, ${SCRIPT_TO_RUN_COLUMNS} FROM <executions> c ${SCRIPT_TO_RUN_JOINS}`.
 */
export const SCRIPT_TO_RUN_COLUMNS = `s.status AS script_status, s.source, s.resource_limits, s.current_version,
              COALESCE(ARRAY(SELECT jsonb_array_elements_text(t.settings->'allowed_fetch_hosts')), ARRAY[]::text[]) AS allowed_hosts`;
export const SCRIPT_TO_RUN_JOINS = 'JOIN scripts s ON s.id = c.script_id JOIN tenants t ON t.id = s.tenant_id';

/** An execution row joined with its script's columns (as the claim and create statements return it). */
export type ClaimedRow = ExecutionRow & { script_status: string; source: string; resource_limits: ScriptToRun['resource_limits']; current_version: number; allowed_hosts: string[] };

/** Splits a ClaimedRow into the execution and the script it runs. */
export function splitClaimedRow({ script_status, source, resource_limits, current_version, allowed_hosts, ...execution }: ClaimedRow): { execution: ExecutionRow; script: ScriptToRun } {
  return {
    execution,
    script: { id: execution.script_id, tenant_id: execution.tenant_id, status: script_status, source, resource_limits, current_version, allowed_hosts },
  };
}

/**
 * SQL of `script_executions` for the worker; every method takes the transaction to run in. Whatever came
 * from outside (event data, HTTP requests, script output, errors and logs) is written through
 * toStorableJson / toStorableText: NUL and unpaired surrogates become U+FFFD (docs/events.md).
 */
@Injectable()
export class ExecutionsRepository {
  constructor(private readonly outbox: OutboxService) {}

  isTerminal(status: string): boolean {
    return TERMINAL.includes(status);
  }

  /** Inserts pending executions; a scheduled slot that already has its execution is skipped (returns fewer rows). */
  async create(manager: EntityManager, rows: NewExecution[]): Promise<ExecutionRow[]> {
    if (rows.length === 0) return [];
    const values: unknown[] = [];
    const tuples = rows.map((r, i) => {
      values.push(r.script_id, r.tenant_id, r.trigger_type, toStorableJson(r.trigger_data), toStorableJson(r.input), r.max_retries ?? 0, toStorableTextOrNull(r.executed_by), r.scheduled_job_id ?? null, r.scheduled_for ?? null);
      const p = i * 9;
      return `($${p + 1}::uuid, $${p + 2}::uuid, 'pending', $${p + 3}, $${p + 4}::jsonb, $${p + 5}::jsonb, $${p + 6}::int, $${p + 7}, $${p + 8}::uuid, $${p + 9}::timestamptz)`;
    });
    return manager.query(
      `INSERT INTO script_executions (script_id, tenant_id, status, trigger_type, trigger_data, input, max_retries, executed_by, scheduled_job_id, scheduled_for)
       VALUES ${tuples.join(', ')}
       ON CONFLICT DO NOTHING
       RETURNING ${EXECUTION_COLUMNS}`,
      values,
    );
  }

  /** Locks the row for the run: a concurrent run of the same execution waits, then sees it terminal. */
  async lock(manager: EntityManager, id: string): Promise<ExecutionRow | undefined> {
    const rows: ExecutionRow[] = await manager.query(`SELECT ${EXECUTION_COLUMNS} FROM script_executions WHERE id = $1 FOR UPDATE`, [id]);
    return rows[0];
  }

  /** The retry attempt `retryCount` of a root execution, if it was already recorded. */
  async findAttempt(manager: EntityManager, rootId: string, retryCount: number): Promise<ExecutionRow | undefined> {
    const rows: ExecutionRow[] = await manager.query(
      `SELECT ${EXECUTION_COLUMNS} FROM script_executions WHERE parent_execution_id = $1 AND retry_count = $2 FOR UPDATE`,
      [rootId, retryCount],
    );
    return rows[0];
  }

  async createAttempt(manager: EntityManager, root: ExecutionRow, retryCount: number): Promise<ExecutionRow> {
    const [row]: ExecutionRow[] = await manager.query(
      `INSERT INTO script_executions (script_id, tenant_id, status, trigger_type, trigger_data, input, retry_count, max_retries, parent_execution_id, executed_by)
       VALUES ($1, $2, 'pending', $3, $4::jsonb, $5::jsonb, $6, $7, $8, $9)
       RETURNING ${EXECUTION_COLUMNS}`,
      [root.script_id, root.tenant_id, root.trigger_type, toStorableJson(root.trigger_data), toStorableJson(root.input), retryCount, root.max_retries, root.id, root.executed_by],
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

  /**
   * Marks a first attempt running and returns it with its script, in one statement (no transaction: the
   * hot path). Undefined when the execution is missing or already recorded.
   */
  async claimForRun(manager: EntityManager, id: string): Promise<{ execution: ExecutionRow; script: ScriptToRun } | undefined> {
    return (await this.claimManyForRun(manager, [id]))[0];
  }

  /** `claimForRun` for many executions at once (one statement, one commit). */
  async claimManyForRun(manager: EntityManager, ids: string[]): Promise<{ execution: ExecutionRow; script: ScriptToRun }[]> {
    if (ids.length === 0) return [];
    const rows: ClaimedRow[] = await manager.query(
      `WITH claimed AS (
         UPDATE script_executions SET status = 'running', started_at = clock_timestamp()
          WHERE id = ANY($1::uuid[]) AND status IN ('pending', 'queued', 'running')
          RETURNING ${EXECUTION_COLUMNS})
       SELECT c.*, ${SCRIPT_TO_RUN_COLUMNS} FROM claimed c ${SCRIPT_TO_RUN_JOINS}`,
      [ids],
    );
    return rows.map(splitClaimedRow);
  }

  /**
   * Records many runs in one statement, each only if not recorded yet, with the `finished` event of each
   * run recorded (keyed by execution id); answers the ids recorded.
   */
  async recordMany(manager: EntityManager, runs: RunToRecord[], finished: Map<string, OutboxEntry>): Promise<Set<string>> {
    const data = runs.map((r) => ({
      id: r.id,
      status: r.result.status,
      output: r.result.status === 'completed' ? (r.result.output ?? null) : null,
      error: r.result.error,
      metrics: r.result.metrics,
      logs: r.result.logs.map((l) => ({ level: l.level, message: l.message, timestamp: l.at })),
      started_at: r.startedAt.toISOString(),
      completed_at: r.completedAt.toISOString(),
      script_version: r.scriptVersion,
      next_retry_at: r.nextRetryAt?.toISOString() ?? null,
    }));
    const announced = this.outbox.announceEach('recorded', finished, 2);
    const rows: { id: string }[] = await manager.query(
      `WITH recorded AS (
         UPDATE script_executions e
            SET status = d.status, output = d.output, error = d.error, metrics = d.metrics, logs = d.logs,
                started_at = d.started_at, completed_at = d.completed_at, script_version = d.script_version, next_retry_at = d.next_retry_at
           FROM jsonb_to_recordset($1::jsonb) AS d(id uuid, status text, output jsonb, error text, metrics jsonb, logs jsonb, started_at timestamptz, completed_at timestamptz, script_version int, next_retry_at timestamptz)
          WHERE e.id = d.id AND e.status NOT IN (${TERMINAL_LIST})
          RETURNING e.id),
       ${announced.cte}
       SELECT id FROM recorded`,
      [toStorableJson(data), ...announced.params],
    );
    return new Set(rows.map((r) => r.id));
  }

  async find(manager: EntityManager, id: string): Promise<ExecutionRow | undefined> {
    const rows: ExecutionRow[] = await manager.query(`SELECT ${EXECUTION_COLUMNS} FROM script_executions WHERE id = $1`, [id]);
    return rows[0];
  }

  /** Records a run and its `finished` event in one statement, only if the execution is not recorded yet; answers whether it recorded. */
  async record(manager: EntityManager, id: string, at: { startedAt: Date; completedAt: Date }, scriptVersion: number, result: ExecutionResult, finished: OutboxEntry): Promise<boolean> {
    const announced = this.outbox.announceIfAny('recorded', finished, 10);
    const rows: unknown[] = await manager.query(
      `WITH recorded AS (
         UPDATE script_executions
            SET status = $2, output = $3::jsonb, error = $4, metrics = $5::jsonb, logs = $6::jsonb,
                started_at = $7, completed_at = $9, script_version = $8
          WHERE id = $1 AND status NOT IN (${TERMINAL_LIST})
          RETURNING id),
       ${announced.cte}
       SELECT id FROM recorded`,
      [
        id,
        result.status,
        result.status === 'completed' ? toStorableJson(result.output ?? null) : null,
        toStorableTextOrNull(result.error),
        toStorableJson(result.metrics),
        toStorableJson(result.logs.map((l) => ({ level: l.level, message: l.message, timestamp: l.at }))),
        at.startedAt,
        scriptVersion,
        at.completedAt,
        ...announced.params,
      ],
    );
    return rows.length > 0;
  }

  /**
   * The fallback when a run's own record was refused (a data error): the execution is recorded `failed`
   * with why, without its output and logs, so it is never left running nor run again for it.
   */
  async recordUnrecordable(manager: EntityManager, id: string, at: { startedAt: Date; completedAt: Date }, scriptVersion: number, error: string, finished: OutboxEntry): Promise<boolean> {
    const announced = this.outbox.announceIfAny('recorded', finished, 6);
    const rows: unknown[] = await manager.query(
      `WITH recorded AS (
         UPDATE script_executions
            SET status = 'failed', output = NULL, error = $2, logs = '[]'::jsonb, started_at = $3, completed_at = $4, script_version = $5, next_retry_at = NULL
          WHERE id = $1 AND status NOT IN (${TERMINAL_LIST})
          RETURNING id),
       ${announced.cte}
       SELECT id FROM recorded`,
      [id, toStorableText(error), at.startedAt, at.completedAt, scriptVersion, ...announced.params],
    );
    return rows.length > 0;
  }

  /** A run that could not start (script gone or no longer active). */
  async skip(manager: EntityManager, id: string, reason: string): Promise<void> {
    await manager.query(`UPDATE script_executions SET status = 'skipped', error = $2, completed_at = clock_timestamp(), next_retry_at = NULL WHERE id = $1`, [id, toStorableText(reason)]);
  }

  /**
   * First attempts a crash left behind: pending for longer than `olderThanMs`, or running for longer than
   * their script's max_execution_time_ms plus RUNNING_GRACE_MS (a live worker keeps the rows it holds
   * younger than that: ExecutionHeartbeat).
   */
  async stalePending(manager: EntityManager, olderThanMs: number, limit: number): Promise<{ id: string; trigger_type: string; recovery_count: number }[]> {
    return manager.query(
      `SELECT e.id, e.trigger_type, e.recovery_count FROM script_executions e JOIN scripts s ON s.id = e.script_id
        WHERE e.parent_execution_id IS NULL AND e.dry_run = false
          AND ((e.status = 'pending' AND e.started_at < now() - make_interval(secs => $1::double precision / 1000))
            OR (e.status = 'running' AND e.started_at < now() - make_interval(secs => (COALESCE((s.resource_limits->>'max_execution_time_ms')::double precision, $4) + $3) / 1000)))
        ORDER BY e.started_at LIMIT $2`,
      [olderThanMs, limit, RUNNING_GRACE_MS, DEFAULT_RESOURCE_LIMITS.max_execution_time_ms],
    );
  }

  /** Counts one more recovery of each execution (the sweep re-queues them); answers those still unrecorded. */
  async countRecovery(manager: EntityManager, ids: string[]): Promise<{ id: string; trigger_type: string }[]> {
    if (ids.length === 0) return [];
    return manager.query(
      `WITH counted AS (
         UPDATE script_executions SET recovery_count = recovery_count + 1
          WHERE id = ANY($1::uuid[]) AND status NOT IN (${TERMINAL_LIST}) RETURNING id, trigger_type)
       SELECT * FROM counted`,
      [ids],
    );
  }

  /** Fails the retry attempts of `rootId` that are not recorded (their runs were abandoned). */
  async failAbandonedAttempts(manager: EntityManager, rootId: string, error: string): Promise<void> {
    await manager.query(
      `UPDATE script_executions SET status = 'failed', error = $2, completed_at = clock_timestamp()
        WHERE parent_execution_id = $1 AND status NOT IN (${TERMINAL_LIST})`,
      [rootId, error],
    );
  }

  /** Counts one more recovery of a failed run's retries (the sweep re-enqueues them). */
  async countRetryRecovery(manager: EntityManager, rootId: string): Promise<void> {
    await manager.query('UPDATE script_executions SET recovery_count = recovery_count + 1 WHERE id = $1', [rootId]);
  }

  /** Ends an execution that was abandoned too often: `failed` with why. Answers it if it was not recorded yet. */
  async failAbandoned(manager: EntityManager, id: string, error: string): Promise<ExecutionRow | undefined> {
    const rows: ExecutionRow[] = await manager.query(
      `WITH failed AS (
         UPDATE script_executions SET status = 'failed', error = $2, output = NULL, completed_at = clock_timestamp(), next_retry_at = NULL
          WHERE id = $1 AND status NOT IN (${TERMINAL_LIST}) RETURNING ${EXECUTION_COLUMNS})
       SELECT * FROM failed`,
      [id, error],
    );
    return rows[0];
  }

  /** When the next attempt of a failed event-triggered run is due (on its first attempt's row); null: none. */
  async scheduleRetry(manager: EntityManager, rootId: string, at: Date | null): Promise<void> {
    await manager.query('UPDATE script_executions SET next_retry_at = $2 WHERE id = $1 AND next_retry_at IS DISTINCT FROM $2', [rootId, at]);
  }

  /**
   * First attempts whose next retry was due more than `graceMs` ago (its job should have run it: Redis may
   * have lost it), with the retries recorded so far.
   */
  async dueRetries(manager: EntityManager, graceMs: number, limit: number): Promise<{ id: string; recovery_count: number; retries_recorded: number }[]> {
    return manager.query(
      `SELECT e.id, e.recovery_count,
              (SELECT count(*)::int FROM script_executions a WHERE a.parent_execution_id = e.id AND a.status IN (${TERMINAL_LIST})) AS retries_recorded
         FROM script_executions e
        WHERE e.next_retry_at < now() - make_interval(secs => $1::double precision / 1000) AND e.parent_execution_id IS NULL
        ORDER BY e.next_retry_at LIMIT $2`,
      [graceMs, limit],
    );
  }

  /** Moves `started_at` of running executions forward: their runs are still held by a live worker. */
  async touchRunning(manager: EntityManager, ids: string[]): Promise<void> {
    await manager.query(`UPDATE script_executions SET started_at = clock_timestamp() WHERE id = ANY($1::uuid[]) AND status = 'running'`, [ids]);
  }
}
