import { Injectable } from '@nestjs/common';
import { TenantDatabase } from '@provisio/persistence';
import { ConflictError, guardUniques, InvalidTransitionError, NotFoundError, Page, page, Principal, SqlFilters } from '@provisio/platform';
import { CreateRunDto, ListRunsQueryDto, RunDto } from './dtos/run.dto';
import { RunEngine } from './run-engine.service';
import { announceRunFinished } from './run-finished';
import { progressOf } from './run-progress';
import { RunRow, RunStatus, RunsRepository } from './runs.repository';

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

export function toRunDto(run: RunRow): RunDto {
  return {
    id: run.id,
    tenant_id: run.tenant_id,
    connector_id: run.connector_id,
    schedule_id: run.schedule_id,
    scheduled_for: iso(run.scheduled_for),
    mode: run.mode,
    dry_run: run.dry_run,
    status: run.status,
    started_at: iso(run.started_at)!,
    completed_at: iso(run.completed_at),
    accounts_processed: run.accounts_processed,
    discrepancies_found: run.discrepancies_found,
    api_calls_made: run.api_calls_made,
    duration_seconds: run.duration_seconds,
    error_message: run.error_message,
    pause_reason: run.pause_reason,
    delete_threshold_percent: run.delete_threshold_percent,
    guard: run.guard,
    watermark: run.watermark,
    created_by: run.created_by_subject ?? null,
    progress: progressOf(run),
  };
}

/** The run lifecycle through the API; the RunEngine works what is running. */
@Injectable()
export class RunsService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly runs: RunsRepository,
    private readonly engine: RunEngine,
  ) {}

  async create(principal: Principal, body: CreateRunDto): Promise<RunDto> {
    // uq_reconciliation_runs_active (a partial unique index): one pending, running or paused run per connector.
    const run = await guardUniques({ uq_reconciliation_runs_active: { field: 'connector_id', message: `connector ${body.connector_id} has a reconciliation run in progress` } }, () =>
      this.db.write(principal, async (tx) => {
        const connector = await tx.one('SELECT id FROM connectors WHERE tenant_id = $1 AND id = $2', [body.connector_id]);
        if (!connector) throw new NotFoundError('connector', body.connector_id);
        return this.runs.insert(tx, { connector_id: body.connector_id, mode: body.mode, dry_run: body.dry_run, delete_threshold_percent: body.delete_threshold_percent ?? null, created_by: tx.actorId });
      }),
    );
    await this.engine.enqueue(run);
    return toRunDto(run);
  }

  async list(principal: Principal, query: ListRunsQueryDto): Promise<Page<RunDto>> {
    const filters = new SqlFilters('r.tenant_id');
    if (query.connector_id) filters.add('r.connector_id = ?', query.connector_id);
    if (query.status) filters.add('r.status = ?', query.status);
    if (query.mode) filters.add('r.mode = ?', query.mode);
    const { rows, total } = await this.runs.list(this.db.read(principal), filters, query);
    return page(rows.map(toRunDto), total, query);
  }

  async get(principal: Principal, id: string): Promise<RunDto> {
    return toRunDto(await this.found(principal, id));
  }

  async cancel(principal: Principal, id: string): Promise<RunDto> {
    const moved = await this.db.write(principal, async (tx) => {
      const row = await this.runs.transition(tx, id, ['pending', 'running', 'paused'], `status = 'cancelled', completed_at = now(), duration_seconds = extract(epoch FROM now() - started_at), lease_token = NULL`);
      if (row) await announceRunFinished(tx, this.runs, id);
      return row;
    });
    if (moved) return toRunDto(moved);
    const current = await this.found(principal, id);
    throw new InvalidTransitionError('reconciliation run', current.status, 'cancelled', []);
  }

  async pause(principal: Principal, id: string): Promise<RunDto> {
    return this.move(principal, id, 'paused', ['running'], `status = 'paused', pause_reason = 'paused by ' || $4, lease_token = NULL`, [principal.subject]);
  }

  async resume(principal: Principal, id: string): Promise<RunDto> {
    const current = await this.found(principal, id);
    if (current.phase === 'awaiting_approval') throw new ConflictError('the run waits for approve or reject (the guard rail paused it)', 'status');
    const run = await this.move(principal, id, 'running', ['paused'], `status = 'running', pause_reason = NULL, heartbeat_at = now()`);
    await this.engine.enqueue(run);
    return run;
  }

  async approve(principal: Principal, id: string): Promise<RunDto> {
    const run = await this.decide(principal, id, 'approved');
    await this.engine.enqueue(run);
    return run;
  }

  reject(principal: Principal, id: string): Promise<RunDto> {
    return this.decide(principal, id, 'rejected');
  }

  /** The guard rail's answer: approved runs go on, rejected ones are cancelled. */
  private async decide(principal: Principal, id: string, decision: 'approved' | 'rejected'): Promise<RunDto> {
    const row = await this.db.write(principal, async (tx) => {
      const current = await this.runs.find(tx, id);
      if (!current) throw new NotFoundError('reconciliation run', id);
      if (current.status !== 'paused' || current.phase !== 'awaiting_approval') {
        throw new InvalidTransitionError('reconciliation run', current.status, decision === 'approved' ? 'running' : 'cancelled', []);
      }
      const set =
        decision === 'approved'
          ? `status = 'running', heartbeat_at = now(), pause_reason = NULL, guard = COALESCE(guard, '{}'::jsonb) || jsonb_build_object('decision', 'approved', 'decided_by', $4::text, 'decided_at', now())`
          : `status = 'cancelled', completed_at = now(), duration_seconds = extract(epoch FROM now() - started_at), guard = COALESCE(guard, '{}'::jsonb) || jsonb_build_object('decision', 'rejected', 'decided_by', $4::text, 'decided_at', now())`;
      const moved = await this.runs.transition(tx, id, ['paused'], set, [principal.subject]);
      if (!moved) throw new ConflictError('the run changed meanwhile', 'status');
      await tx.execute(
        `INSERT INTO reconciliation_actions (tenant_id, connector_id, run_id, action_type, result, dry_run, performed_by, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)`,
        [current.connector_id, id, decision === 'approved' ? 'guard_approve' : 'guard_reject', decision, current.dry_run, tx.actorId, JSON.stringify({ guard: current.guard, pause_reason: current.pause_reason })],
      );
      if (decision === 'rejected') await announceRunFinished(tx, this.runs, id);
      return moved;
    });
    if (decision === 'rejected') await this.db.transaction(principal.tenantId, (tx) => tx.execute('DELETE FROM reconciliation_staged_accounts WHERE tenant_id = $1 AND run_id = $2', [id]));
    return toRunDto(row);
  }

  private async move(principal: Principal, id: string, to: RunStatus, from: RunStatus[], set: string, params: unknown[] = []): Promise<RunDto> {
    const moved = await this.runs.transition(this.db.statements(principal), id, from, set, params);
    if (moved) return toRunDto(moved);
    const current = await this.found(principal, id);
    throw new InvalidTransitionError('reconciliation run', current.status, to, []);
  }

  private async found(principal: Principal, id: string): Promise<RunRow> {
    const run = await this.runs.find(this.db.read(principal), id);
    if (!run) throw new NotFoundError('reconciliation run', id);
    return run;
  }
}
