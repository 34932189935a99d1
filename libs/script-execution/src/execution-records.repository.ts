import { Injectable } from '@nestjs/common';
import { TERMINAL_EXECUTION_STATUSES } from '@provisio/contracts';
import { TenantDatabase, TenantScoped } from '@provisio/persistence';
import { OutboxEntry, OutboxService, toStorableJson, toStorableText, toStorableTextOrNull } from '@provisio/platform';
import type { ExecutionResult, ResourceLimits } from '@provisio/sandbox';

/** An execution row as a run needs it. */
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

/** A script as a run needs it, with what its tenant's settings say about running it. */
export interface ScriptToRun {
  id: string;
  tenant_id: string;
  status: string;
  source: string;
  resource_limits: Partial<ResourceLimits>;
  current_version: number;
  /** Hosts the tenant lets `fetch` reach although they resolve to private addresses (`allowed_fetch_hosts`). */
  allowed_hosts: string[];
  /** Ports besides 80 and 443 the tenant lets `fetch` reach (`allowed_fetch_ports`). */
  allowed_ports: number[];
  /** `tenants.settings.limits`: the caps applied at run time (tenantLimitCaps). */
  limit_caps: unknown;
}

/**
 * How long past its time limit a run's row may say `running` before the recovery sweep takes its
 * worker for dead (also the margin of its max_concurrent_runs lease).
 */
export const RUNNING_GRACE_MS = 5_000;
/** The columns of an ExecutionRow. */
export const EXECUTION_COLUMNS = 'id, script_id, tenant_id, status, trigger_type, trigger_data, input, retry_count, max_retries, parent_execution_id, scheduled_job_id, scheduled_for, executed_by, error';
export const TERMINAL_LIST = TERMINAL_EXECUTION_STATUSES.map((t) => `'${t}'`).join(', ');

/**
 * The tenant columns of a ScriptToRun for a statement that joins `tenants t` (a malformed setting is
 * read as none rather than failing the statement).
 */
export const TENANT_RUN_SETTINGS = `COALESCE(ARRAY(SELECT jsonb_array_elements_text(t.settings->'allowed_fetch_hosts')), ARRAY[]::text[]) AS allowed_hosts,
              COALESCE(ARRAY(SELECT p::int FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(t.settings->'allowed_fetch_ports') = 'array' THEN t.settings->'allowed_fetch_ports' END) p
                              WHERE p ~ '^[0-9]{1,5}$'), ARRAY[]::int[]) AS allowed_ports,
              t.settings->'limits' AS limit_caps`;

/**
 * The script columns of a ClaimedRow, for a statement whose executions are `c` (joins `scripts s` and
 * `tenants t`): `SELECT c.*, ${SCRIPT_TO_RUN_COLUMNS} FROM <executions> c ${SCRIPT_TO_RUN_JOINS}`.
 */
export const SCRIPT_TO_RUN_COLUMNS = `s.status AS script_status, s.source, s.resource_limits, s.current_version, ${TENANT_RUN_SETTINGS}`;
export const SCRIPT_TO_RUN_JOINS = 'JOIN scripts s ON s.id = c.script_id JOIN tenants t ON t.id = s.tenant_id';

/** An execution row joined with its script's columns (as the claim and create statements return it). */
export type ClaimedRow = ExecutionRow & Pick<ScriptToRun, 'source' | 'resource_limits' | 'current_version' | 'allowed_hosts' | 'allowed_ports' | 'limit_caps'> & { script_status: string };

/** Splits a ClaimedRow into the execution and the script it runs. */
export function splitClaimedRow({ script_status, source, resource_limits, current_version, allowed_hosts, allowed_ports, limit_caps, ...execution }: ClaimedRow): { execution: ExecutionRow; script: ScriptToRun } {
  return {
    execution,
    script: { id: execution.script_id, tenant_id: execution.tenant_id, status: script_status, source, resource_limits, current_version, allowed_hosts, allowed_ports, limit_caps },
  };
}

/** A run to record: what the sandbox answered, and when the next attempt is due if it failed (event-triggered first attempts). */
export interface RunToRecord {
  id: string;
  startedAt: Date;
  completedAt: Date;
  scriptVersion: number;
  result: ExecutionResult;
  nextRetryAt?: Date | null;
}

/** A run recorded as a new row (hooks, dry runs): nothing existed before it ended. */
export interface FinishedRun {
  id: string;
  scriptId: string;
  scriptVersion: number | null;
  trigger: string;
  triggerData: Record<string, unknown>;
  input: unknown;
  result: ExecutionResult;
  startedAt: Date;
  completedAt: Date;
  executedBy: string | null;
  bindingId: string | null;
  connectorId: string | null;
  operationId: string | null;
  dryRun: boolean;
}

/** A run that never happened, recorded `skipped` with why. */
export interface SkippedRun {
  id: string;
  scriptId: string;
  scriptVersion: number | null;
  trigger: string;
  triggerData: Record<string, unknown>;
  input?: unknown;
  reason: string;
  bindingId: string | null;
  connectorId: string | null;
  operationId: string | null;
}

const logsOf = (result: ExecutionResult) => result.logs.map((l) => ({ level: l.level, message: l.message, timestamp: l.at }));

/**
 * The `script_executions` statements of running and recording (the execution worker's queue keeps its own).
 * Whatever came from outside (event data, script output, errors and logs) is written through
 * toStorableJson / toStorableText: NUL and unpaired surrogates become U+FFFD (docs/events.md). A record
 * and its `finished` event are one statement (the outbox's CTE part).
 */
@Injectable()
export class ExecutionRecords {
  constructor(
    private readonly db: TenantDatabase,
    private readonly outbox: OutboxService,
  ) {}

  async loadScript(db: TenantScoped, scriptId: string): Promise<ScriptToRun | undefined> {
    return db.one<ScriptToRun>(
      `SELECT s.id, s.tenant_id, s.status, s.source, s.resource_limits, s.current_version, ${TENANT_RUN_SETTINGS}
         FROM scripts s JOIN tenants t ON t.id = s.tenant_id
        WHERE s.tenant_id = $1 AND s.id = $2`,
      [scriptId],
    );
  }

  /** What the tenant's settings say about running its scripts (none set, or no tenant row yet: nothing allowed beyond the defaults). */
  async tenantRunSettings(db: TenantScoped): Promise<Pick<ScriptToRun, 'allowed_hosts' | 'allowed_ports' | 'limit_caps'>> {
    const row = await db.one<Pick<ScriptToRun, 'allowed_hosts' | 'allowed_ports' | 'limit_caps'>>(
      `SELECT ${TENANT_RUN_SETTINGS} FROM organizations o JOIN tenants t ON t.id = o.tenant_id WHERE o.tenant_id = $1 AND o.is_default`,
    );
    return row ?? { allowed_hosts: [], allowed_ports: [], limit_caps: null };
  }

  async find(db: TenantScoped, id: string): Promise<ExecutionRow | undefined> {
    return db.one<ExecutionRow>(`SELECT ${EXECUTION_COLUMNS} FROM script_executions WHERE tenant_id = $1 AND id = $2`, [id]);
  }

  /** Records a run and its `finished` event in one statement, only if the execution is not recorded yet; answers whether it recorded. */
  async record(db: TenantScoped, id: string, at: { startedAt: Date; completedAt: Date }, scriptVersion: number, result: ExecutionResult, finished: OutboxEntry): Promise<boolean> {
    const announced = this.outbox.announceIfAny('recorded', finished, 11);
    const rows = await db.query(
      `WITH recorded AS (
         UPDATE script_executions
            SET status = $3, output = $4::jsonb, error = $5, metrics = $6::jsonb, logs = $7::jsonb,
                started_at = $8, completed_at = $10, script_version = $9
          WHERE tenant_id = $1 AND id = $2 AND status NOT IN (${TERMINAL_LIST})
          RETURNING id),
       ${announced.cte}
       SELECT id FROM recorded`,
      [
        id,
        result.status,
        result.status === 'completed' ? toStorableJson(result.output ?? null) : null,
        toStorableTextOrNull(result.error),
        toStorableJson(result.metrics),
        toStorableJson(logsOf(result)),
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
  async recordUnrecordable(db: TenantScoped, id: string, at: { startedAt: Date; completedAt: Date }, scriptVersion: number, error: string, finished: OutboxEntry): Promise<boolean> {
    const announced = this.outbox.announceIfAny('recorded', finished, 7);
    const rows = await db.query(
      `WITH recorded AS (
         UPDATE script_executions
            SET status = 'failed', output = NULL, error = $3, logs = '[]'::jsonb, started_at = $4, completed_at = $5, script_version = $6, next_retry_at = NULL
          WHERE tenant_id = $1 AND id = $2 AND status NOT IN (${TERMINAL_LIST})
          RETURNING id),
       ${announced.cte}
       SELECT id FROM recorded`,
      [id, toStorableText(error), at.startedAt, at.completedAt, scriptVersion, ...announced.params],
    );
    return rows.length > 0;
  }

  /**
   * Records many runs in one statement, each only if not recorded yet, with the `finished` event of each
   * run recorded (keyed by execution id); answers the ids recorded. The runs of a consumer's batch are of
   * many tenants, and one statement for them all is the hot path: named cross-tenant.
   */
  async recordMany(runs: RunToRecord[], finished: Map<string, OutboxEntry>): Promise<Set<string>> {
    const data = runs.map((r) => ({
      id: r.id,
      status: r.result.status,
      output: r.result.status === 'completed' ? (r.result.output ?? null) : null,
      error: r.result.error,
      metrics: r.result.metrics,
      logs: logsOf(r.result),
      started_at: r.startedAt.toISOString(),
      completed_at: r.completedAt.toISOString(),
      script_version: r.scriptVersion,
      next_retry_at: r.nextRetryAt?.toISOString() ?? null,
    }));
    const announced = this.outbox.announceEach('recorded', finished, 2);
    const rows = await this.db.allTenants('recording a batch of runs: one statement for the runs of every tenant in it').query<{ id: string }>(
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

  /**
   * Inserts the rows of runs that had none (hooks, dry runs) once they ended, of one tenant in one
   * statement, each with its `finished` event when `finished` has one for its id (dry runs have none).
   * Answers the ids recorded (a run whose script was deleted meanwhile gets no row). One statement, not
   * one per run: every insert into
   * `script_executions` also updates its script's day in `script_execution_daily_stats` (a statement
   * trigger), and hooks of one script recorded one at a time queue up on that row.
   */
  async recordFinishedMany(db: TenantScoped, runs: FinishedRun[], finished: Map<string, OutboxEntry>): Promise<Set<string>> {
    if (runs.length === 0) return new Set();
    const data = runs.map((run, n) => ({
      n,
      id: run.id,
      script_id: run.scriptId,
      status: run.result.status,
      trigger_type: run.trigger,
      trigger_data: run.triggerData,
      input: run.input ?? {},
      output: run.result.status === 'completed' ? (run.result.output ?? null) : null,
      error: run.result.error,
      metrics: run.result.metrics,
      logs: logsOf(run.result),
      started_at: run.startedAt.toISOString(),
      completed_at: run.completedAt.toISOString(),
      script_version: run.scriptVersion,
      dry_run: run.dryRun,
      executed_by: run.executedBy,
      binding_id: run.bindingId,
      connector_id: run.connectorId,
      operation_id: run.operationId,
    }));
    const announced = finished.size ? this.outbox.announceEach('recorded', finished, 3) : undefined;
    const rows = await db.query<{ id: string }>(
      `WITH recorded AS (
         INSERT INTO script_executions (tenant_id, id, script_id, status, trigger_type, trigger_data, input, output, error, metrics, logs,
                                        started_at, completed_at, script_version, dry_run, executed_by, binding_id, connector_id, operation_id)
         SELECT $1, d.id, s.id, d.status, d.trigger_type, d.trigger_data, d.input, d.output, d.error, d.metrics, d.logs,
                d.started_at, d.completed_at, d.script_version, d.dry_run, d.executed_by, d.binding_id, d.connector_id, d.operation_id
           FROM jsonb_to_recordset($2::jsonb) AS d(n int, id uuid, script_id uuid, status text, trigger_type text, trigger_data jsonb, input jsonb, output jsonb,
                                                   error text, metrics jsonb, logs jsonb, started_at timestamptz, completed_at timestamptz, script_version int,
                                                   dry_run boolean, executed_by text, binding_id uuid, connector_id uuid, operation_id uuid)
           JOIN scripts s ON s.tenant_id = $1 AND s.id = d.script_id
          ORDER BY d.n
         RETURNING id)${announced ? `,\n       ${announced.cte}` : ''}
       SELECT id FROM recorded`,
      [toStorableJson(data), ...(announced?.params ?? [])],
    );
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Inserts the rows of runs that never happened (`skipped`: a hook left out because an earlier step
   * ended the chain), each with its `finished` event (keyed by id), in one statement. A script deleted
   * meanwhile gets no row.
   */
  async recordSkipped(db: TenantScoped, runs: SkippedRun[], finished: Map<string, OutboxEntry>): Promise<number> {
    if (runs.length === 0) return 0;
    const data = runs.map((r, n) => ({
      n,
      id: r.id,
      script_id: r.scriptId,
      script_version: r.scriptVersion,
      trigger_type: r.trigger,
      trigger_data: r.triggerData,
      input: r.input ?? {},
      error: r.reason,
      binding_id: r.bindingId,
      connector_id: r.connectorId,
      operation_id: r.operationId,
    }));
    const announced = this.outbox.announceEach('recorded', finished, 3);
    const rows = await db.query(
      `WITH recorded AS (
         INSERT INTO script_executions (tenant_id, id, script_id, status, trigger_type, trigger_data, input, error, metrics, logs,
                                        started_at, completed_at, script_version, dry_run, binding_id, connector_id, operation_id)
         SELECT $1, d.id, s.id, 'skipped', d.trigger_type, d.trigger_data, d.input, d.error,
                '{"duration_ms": 0, "memory_used_bytes": 0, "api_call_count": 0}'::jsonb, '[]'::jsonb,
                clock_timestamp(), clock_timestamp(), d.script_version, false, d.binding_id, d.connector_id, d.operation_id
           FROM jsonb_to_recordset($2::jsonb) AS d(n int, id uuid, script_id uuid, script_version int, trigger_type text, trigger_data jsonb, input jsonb, error text,
                                                   binding_id uuid, connector_id uuid, operation_id uuid)
           JOIN scripts s ON s.tenant_id = $1 AND s.id = d.script_id
          ORDER BY d.n
         RETURNING id),
       ${announced.cte}
       SELECT id FROM recorded`,
      [toStorableJson(data), ...announced.params],
    );
    return rows.length;
  }

  /** Moves `started_at` of running executions forward: their runs are still held by this process (of any tenant). */
  async touchRunning(ids: string[]): Promise<void> {
    await this.db.allTenants('the heartbeat of the runs this process holds, whatever their tenant').execute(`UPDATE script_executions SET started_at = clock_timestamp() WHERE id = ANY($1::uuid[]) AND status = 'running'`, [ids]);
  }
}
