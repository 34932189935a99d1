import { Injectable } from '@nestjs/common';
import { TERMINAL_EXECUTION_STATUSES } from '@provisio/contracts';
import { EXECUTION_STATUSES_BY_LOG_STATUS, ExecutionLogStatus, ExecutionStatus, TenantDatabase, toExecutionLogStatus } from '@provisio/persistence';
import { NotFoundError, Page, page, Principal, ValidationError, SqlFilters } from '@provisio/platform';
import type { ExecutionLogDetailDto, ExecutionLogDto, ExecutionLogLineDto, ListExecutionLogsQueryDto } from './dtos/execution-log.dto';

interface ExecutionRow extends Omit<ExecutionLogDto, 'status' | 'input_context' | 'output'> {
  execution_status: ExecutionStatus;
  input: unknown;
  output: unknown;
  logs?: ExecutionLogLineDto[];
}

const COLUMNS = `e.id, e.tenant_id, e.script_id, e.binding_id, e.connector_id, e.script_version, e.status AS execution_status, e.dry_run,
  e.input, e.output, e.error,
  COALESCE((e.metrics->>'duration_ms')::double precision, round(EXTRACT(EPOCH FROM (e.completed_at - e.started_at)) * 1000)::double precision) AS duration_ms,
  e.executed_by, e.started_at AS executed_at, e.trigger_type`;

const json = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));

function toLog(row: ExecutionRow): ExecutionLogDto {
  const { execution_status, input, output, logs: _logs, ...rest } = row;
  return { ...rest, status: toExecutionLogStatus(execution_status)!, input_context: json(input), output: json(output) };
}

/**
 * Execution logs (seed 000 ExecutionLog): a read-only view over the tenant's FINISHED executions
 * (`completed`, `failed`, `timeout`, `skipped`, `cancelled`); pending, queued and running ones are not log
 * entries yet. Newest first by `started_at` (`idx_executions_tenant_started`).
 */
@Injectable()
export class ExecutionLogsService {
  constructor(private readonly db: TenantDatabase) {}

  async list(principal: Principal, query: ListExecutionLogsQueryDto): Promise<Page<ExecutionLogDto>> {
    if (query.from && query.to && Date.parse(query.to) <= Date.parse(query.from)) throw new ValidationError('to must be later than from', 'to');
    const statuses = query.status?.length ? [...new Set(query.status.flatMap((s) => EXECUTION_STATUSES_BY_LOG_STATUS[s as ExecutionLogStatus]))] : [...TERMINAL_EXECUTION_STATUSES];
    const filters = new SqlFilters('e.tenant_id').add('e.status = ANY(?::text[])', statuses);
    if (query.script_id) filters.add('e.script_id = ?::uuid', query.script_id);
    if (query.binding_id) filters.add('e.binding_id = ?::uuid', query.binding_id);
    if (query.connector_id) filters.add('e.connector_id = ?::uuid', query.connector_id);
    if (query.dry_run !== undefined) filters.add('e.dry_run = ?', query.dry_run === 'true');
    if (query.from) filters.add('e.started_at >= ?::timestamptz', query.from);
    if (query.to) filters.add('e.started_at < ?::timestamptz', query.to);
    const db = this.db.read(principal);
    const paged = filters.page(query);
    const [rows, [{ total }]] = await Promise.all([
      db.query<ExecutionRow>(`SELECT ${COLUMNS} FROM script_executions e WHERE ${filters.where} ORDER BY e.started_at DESC, e.id DESC ${paged.sql}`, paged.params),
      db.query<{ total: number }>(`SELECT count(*)::int AS total FROM script_executions e WHERE ${filters.where}`, filters.params),
    ]);
    return page(rows.map(toLog), total, query);
  }

  async get(principal: Principal, id: string): Promise<ExecutionLogDetailDto> {
    const row = await this.db
      .read(principal)
      .one<ExecutionRow>(`SELECT ${COLUMNS}, e.logs FROM script_executions e WHERE e.tenant_id = $1 AND e.id = $2 AND e.status = ANY($3::text[])`, [id, [...TERMINAL_EXECUTION_STATUSES]]);
    if (!row) throw new NotFoundError('execution log', id);
    return { ...toLog(row), logs: row.logs ?? [] };
  }
}
