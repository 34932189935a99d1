import { Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  checkScriptInput,
  createCloudEvent,
  EventType,
  inputErrorMessage,
  maskSecretInput,
  messageKey,
  missingPermission,
  ScriptExecutionCancelled,
  ScriptExecutionFinished,
  ScriptExecutionRequested,
  sealSecretInput,
  TERMINAL_EXECUTION_STATUSES,
  Topic,
} from '@provisio/contracts';
import { CallerTransaction, TenantDatabase } from '@provisio/persistence';
import { ConflictError, ForbiddenError, NotFoundError, Page, page, Principal, ScriptSecrets, SqlFilters, toStorableJson, ValidationError } from '@provisio/platform';
import { AuditService } from '../audit/audit.service';
import { REGISTRY_EVENT_SOURCE } from '../common/script-events';
import { ScriptParametersService } from '../parameters/script-parameters.service';
import type { ExecutionDetailDto, ExecutionDto, ListExecutionsQueryDto } from './dtos/execution.dto';

/** What a run needs of its script. */
export interface ScriptToStart {
  id: string;
  type: string;
  status: string;
  required_permissions: string[];
}

/** How a run was asked for: `manual` by a person (console, CLI), `api` by a program. */
export type RunTrigger = 'manual' | 'api' | 'oneoff';

interface ExecutionRow extends Omit<ExecutionDto, 'finished'> {
  logs?: unknown[];
  scheduled_job_id: string | null;
  scheduled_for: Date | null;
}

const COLUMNS = `e.id, e.tenant_id, e.script_id, e.status, e.trigger_type, e.input, e.output, e.error, e.metrics, e.script_version, e.executed_by,
  e.cancelled_by, e.cancelled_at, e.started_at, e.completed_at, e.retry_count, e.parent_execution_id, e.dry_run, e.scheduled_job_id, e.scheduled_for`;

const TERMINAL: readonly string[] = TERMINAL_EXECUTION_STATUSES;
/** Script types a person may run now; the others run by their trigger (an HTTP call, an event, a hook). */
const RUNNABLE_TYPES: Record<string, string | null> = {
  oneoff: null,
  scheduled: null,
  http: 'an http script runs when its path is called',
  event: 'an event script runs on its events; try it with POST /scripts/{id}/dry-run',
  embedded: 'a provisioning script runs as a hook of its connector; try it with POST /scripts/{id}/dry-run',
};
const WAIT_POLL_MS = 250;

function toDto({ scheduled_job_id: _job, scheduled_for: _for, ...row }: ExecutionRow): ExecutionDto & { logs?: unknown[] } {
  // Secret values are stored sealed; masking every sealed value needs no parameter list (and stays true
  // after a parameter is renamed or deleted).
  return { ...row, input: maskSecretInput([], row.input) as Record<string, unknown> | null, finished: TERMINAL.includes(row.status) };
}

/**
 * Runs a person or a program asks for (`POST /scripts/{id}/executions`), their progress and their
 * cancellation. A run is recorded here as a `pending` execution, its input checked against the script's
 * parameters and its secrets sealed, and is then run by the execution worker: the request on
 * `provisio.script-execution-requests` names the execution. Cancelling a running one asks the worker
 * holding it (`provisio.script-execution-cancellations`) to interrupt the sandbox.
 */
@Injectable()
export class ExecutionsService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly parameters: ScriptParametersService,
    private readonly secrets: ScriptSecrets,
    private readonly audit: AuditService,
  ) {}

  async run(principal: Principal, scriptId: string, input: Record<string, unknown>, trigger: 'manual' | 'api'): Promise<ExecutionDto> {
    const row = await this.db.write(principal, async (tx) => {
      // KEY SHARE: the script cannot be deleted under the run, while runs of it and edits do not wait for each other.
      const script = await tx.one<ScriptToStart>('SELECT s.id, s.type, s.status, s.required_permissions FROM scripts s WHERE s.tenant_id = $1 AND s.id = $2 FOR KEY SHARE', [scriptId]);
      if (!script) throw new NotFoundError('script', scriptId);
      const missing = missingPermission(principal.permissions, script.required_permissions);
      if (missing) throw new ForbiddenError(`running this script needs the permission ${missing}`, undefined, { permission: missing });
      const why = RUNNABLE_TYPES[script.type];
      if (why) throw new ConflictError(`a ${script.type} script cannot be run now: ${why}`, 'type');
      if (script.status === 'archived') throw new ConflictError('an archived script does not run', 'status');
      return this.record(tx, script, input, trigger);
    });
    return toDto(row);
  }

  /**
   * Records a pending execution of `script` (input checked, secrets sealed) and asks the worker to run
   * it, in the caller's transaction. Also what activating a `oneoff` script does.
   */
  async record(tx: CallerTransaction, script: ScriptToStart, input: Record<string, unknown>, trigger: RunTrigger): Promise<ExecutionRow> {
    const definitions = await this.parameters.definitionsOf(tx, script.id);
    const checked = checkScriptInput(definitions, input);
    if (!checked.ok) throw new ValidationError(inputErrorMessage(checked), checked.parameter ? `input.${checked.parameter}` : 'input');
    const owner = { tenantId: tx.tenantId, scriptId: script.id };
    const stored = sealSecretInput(definitions, checked.input, (value, name) => this.secrets.seal(owner, name, value));
    const triggerData = { requested_via: 'registry', requested_by: tx.subject };
    const [row] = await tx.query<ExecutionRow>(
      `INSERT INTO script_executions (tenant_id, script_id, status, trigger_type, trigger_data, input, executed_by, started_at)
       VALUES ($1, $2, 'pending', $3, $4::jsonb, $5::jsonb, $6, clock_timestamp())
       RETURNING ${COLUMNS.replace(/\be\./g, '')}`,
      [script.id, trigger, JSON.stringify(triggerData), toStorableJson(stored), tx.subject],
    );
    const data: ScriptExecutionRequested = { script_id: script.id, trigger_type: trigger, input: {}, trigger_data: triggerData, requested_by: tx.subject, execution_id: row.id };
    await tx.publish({
      topic: Topic.ScriptExecutionRequests,
      key: messageKey.tenantScript(tx.tenantId, script.id),
      event: createCloudEvent({ source: REGISTRY_EVENT_SOURCE, type: EventType.ScriptExecutionRequested, tenantid: tx.tenantId, subject: row.id, data }),
    });
    return row;
  }

  /** The execution; with `waitSeconds`, once it finished or when the wait is over, whichever is first. */
  async get(principal: Principal, id: string, waitSeconds = 0): Promise<ExecutionDetailDto> {
    const deadline = Date.now() + waitSeconds * 1000;
    for (;;) {
      const row = await this.db.read(principal).one<ExecutionRow>(`SELECT ${COLUMNS}, e.logs FROM script_executions e WHERE e.tenant_id = $1 AND e.id = $2`, [id]);
      if (!row) throw new NotFoundError('execution', id);
      if (TERMINAL.includes(row.status) || Date.now() + WAIT_POLL_MS > deadline) return { ...toDto(row), logs: row.logs ?? [] };
      await sleep(WAIT_POLL_MS);
    }
  }

  async list(principal: Principal, query: ListExecutionsQueryDto): Promise<Page<ExecutionDto>> {
    if (query.from && query.to && Date.parse(query.to) <= Date.parse(query.from)) throw new ValidationError('to must be later than from', 'to');
    const filters = new SqlFilters('e.tenant_id').add('e.dry_run = ?', query.dry_run === 'true');
    if (query.script_id) filters.add('e.script_id = ?::uuid', query.script_id);
    if (query.status?.length) filters.add('e.status = ANY(?::text[])', query.status);
    if (query.trigger_type?.length) filters.add('e.trigger_type = ANY(?::text[])', query.trigger_type);
    if (query.from) filters.add('e.started_at >= ?::timestamptz', query.from);
    if (query.to) filters.add('e.started_at < ?::timestamptz', query.to);
    const db = this.db.read(principal);
    const paged = filters.page(query);
    const [rows, [{ total }]] = await Promise.all([
      db.query<ExecutionRow>(`SELECT ${COLUMNS} FROM script_executions e WHERE ${filters.where} ORDER BY e.started_at DESC NULLS LAST, e.id DESC ${paged.sql}`, paged.params),
      db.query<{ total: number }>(`SELECT count(*)::int AS total FROM script_executions e WHERE ${filters.where}`, filters.params),
    ]);
    return page(rows.map(toDto), total, query);
  }

  /**
   * Cancels a run that has not finished: it ends `cancelled` with who cancelled it, at once (a pending
   * run is then never claimed: the worker claims pending, queued and running rows only; a running one
   * is interrupted by the worker that holds it, whose record of the run no longer applies to a finished
   * row). A finished run is 409. Pending retry attempts of the execution are cancelled with it.
   */
  async cancel(principal: Principal, id: string): Promise<ExecutionDto> {
    const row = await this.db.write(principal, async (tx) => {
      const current = await tx.one<ExecutionRow & { required_permissions: string[] }>(
        `SELECT ${COLUMNS}, s.required_permissions FROM script_executions e JOIN scripts s ON s.id = e.script_id
          WHERE e.tenant_id = $1 AND e.id = $2 FOR UPDATE OF e`,
        [id],
      );
      if (!current) throw new NotFoundError('execution', id);
      const missing = missingPermission(principal.permissions, current.required_permissions);
      if (missing) throw new ForbiddenError(`cancelling a run of this script needs the permission ${missing}`, undefined, { permission: missing });
      if (TERMINAL.includes(current.status)) throw new ConflictError(`the execution already ended ${current.status}`, 'status', { status: current.status });
      const reason = `cancelled by ${tx.subject}`;
      const cancelled = await tx.query<ExecutionRow>(
        `UPDATE script_executions e SET status = 'cancelled', cancelled_by = $3, cancelled_at = clock_timestamp(), completed_at = clock_timestamp(),
                error = $4, next_retry_at = NULL
          WHERE e.tenant_id = $1 AND (e.id = $2 OR (e.parent_execution_id = $2 AND e.status IN ('pending', 'queued', 'running')))
          RETURNING ${COLUMNS}`,
        [id, tx.subject, reason],
      );
      const self = cancelled.find((c) => c.id === id)!;
      if (current.status === 'running') {
        const data: ScriptExecutionCancelled = { execution_id: id, script_id: current.script_id, cancelled_by: tx.subject };
        await tx.publish({
          topic: Topic.ScriptExecutionCancellations,
          key: messageKey.tenantScript(tx.tenantId, current.script_id),
          event: createCloudEvent({ source: REGISTRY_EVENT_SOURCE, type: EventType.ScriptExecutionCancelled, tenantid: tx.tenantId, subject: id, data }),
        });
      }
      // The scheduler matches outcomes of its slots by this event; the worker will not announce a run it can no longer record.
      const finished: ScriptExecutionFinished = {
        execution_id: id,
        script_id: current.script_id,
        status: 'cancelled',
        trigger_type: current.trigger_type,
        duration_ms: 0,
        error: reason,
        ...(current.scheduled_job_id ? { scheduled_job_id: current.scheduled_job_id } : {}),
        ...(current.scheduled_for ? { scheduled_for: new Date(current.scheduled_for).toISOString() } : {}),
      };
      await tx.publish({
        topic: Topic.ScriptExecutions,
        key: messageKey.tenantScript(tx.tenantId, current.script_id),
        event: createCloudEvent({ source: REGISTRY_EVENT_SOURCE, type: EventType.ScriptExecutionFinished, tenantid: tx.tenantId, subject: id, data: finished }),
      });
      await this.audit.record(tx, { script_id: current.script_id, entity_type: 'script_execution', entity_id: id, action: 'cancel', details: { from: current.status } });
      return self;
    });
    return toDto(row);
  }
}
