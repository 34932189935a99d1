import { Injectable, Logger } from '@nestjs/common';
import type { ReconciliationRequested } from '@provisio/contracts';
import type { TenantTransaction } from '@provisio/persistence';
import { RunRow, RunsRepository } from '../runs/runs.repository';
import { SchedulesRepository } from './schedules.repository';

/** What a fired occurrence became. */
export type OccurrenceOutcome =
  | { kind: 'started'; run: RunRow }
  | { kind: 'skipped'; reason: SkipReason; active_run_id: string | null }
  | { kind: 'ignored'; reason: 'schedule_gone' | 'already_started' };

/**
 * Why an occurrence started no run: the connector had one in progress, the schedule was disabled after it
 * fired, or a later occurrence has fired since (this request waited in Kafka, the reconciler was down):
 * only the latest one runs, as after the scheduler's own downtime.
 */
export type SkipReason = 'connector_busy' | 'disabled' | 'superseded';

/** The action_type of the ReconciliationAction that records a skipped occurrence. */
export const SCHEDULED_RUN_SKIPPED = 'scheduled_run_skipped';

const SKIP_MESSAGES: Record<SkipReason, string> = {
  connector_busy: 'the connector has a run in progress',
  disabled: 'the schedule was disabled after it fired',
  superseded: 'a later occurrence has fired since',
};

/**
 * Turns a fired occurrence (`provisio.reconciliation.requested`) into a run with `schedule_id` and
 * `scheduled_for`, in the consumer's transaction (with the event's id recorded: a redelivery does
 * nothing). One run per occurrence: `uq_reconciliation_runs_schedule_occurrence`. Two runs of a connector
 * never overlap (`uq_reconciliation_runs_active`): an occurrence that finds one in progress is skipped,
 * not failed and not queued, and recorded as a ReconciliationAction (`scheduled_run_skipped`, result
 * `skipped`, with the run in progress) and in the schedule's `last_outcome`.
 */
@Injectable()
export class ScheduledRunsService {
  private readonly logger = new Logger(ScheduledRunsService.name);

  constructor(
    private readonly schedules: SchedulesRepository,
    private readonly runs: RunsRepository,
  ) {}

  async start(tx: TenantTransaction, request: ReconciliationRequested): Promise<OccurrenceOutcome> {
    const scheduledFor = new Date(request.scheduled_for);
    const schedule = await this.schedules.forRequest(tx, request.schedule_id);
    const where = { tenant_id: tx.tenantId, schedule_id: request.schedule_id, scheduled_for: request.scheduled_for };
    if (!schedule) {
      this.logger.warn({ message: 'reconciliation requested for a schedule that no longer exists; ignored', ...where });
      return { kind: 'ignored', reason: 'schedule_gone' };
    }
    if (!schedule.enabled) return this.skip(tx, request, schedule.connector_id, scheduledFor, 'disabled', null);
    if (schedule.last_run_at && new Date(schedule.last_run_at).getTime() > scheduledFor.getTime()) return this.skip(tx, request, schedule.connector_id, scheduledFor, 'superseded', null);

    const run = await this.runs.insertScheduled(tx, { connector_id: schedule.connector_id, mode: request.mode, dry_run: request.dry_run, schedule_id: schedule.id, scheduled_for: scheduledFor });
    if (run) {
      await this.schedules.recordOutcome(tx, schedule.id, scheduledFor, 'started', run.id);
      this.logger.log({ message: 'scheduled reconciliation run created', ...where, run_id: run.id, catch_up: request.catch_up });
      return { kind: 'started', run };
    }
    const existing = await tx.one<{ id: string }>('SELECT id FROM reconciliation_runs WHERE tenant_id = $1 AND schedule_id = $2 AND scheduled_for = $3', [schedule.id, scheduledFor]);
    if (existing) return { kind: 'ignored', reason: 'already_started' };
    const active = await tx.one<{ id: string }>(`SELECT id FROM reconciliation_runs WHERE tenant_id = $1 AND connector_id = $2 AND status IN ('pending', 'running', 'paused')`, [schedule.connector_id]);
    return this.skip(tx, request, schedule.connector_id, scheduledFor, 'connector_busy', active?.id ?? null);
  }

  private async skip(tx: TenantTransaction, request: ReconciliationRequested, connectorId: string, scheduledFor: Date, reason: SkipReason, activeRunId: string | null): Promise<OccurrenceOutcome> {
    const details = { schedule_id: request.schedule_id, scheduled_for: request.scheduled_for, reason, active_run_id: activeRunId, catch_up: request.catch_up };
    await tx.execute(
      `INSERT INTO reconciliation_actions (tenant_id, connector_id, run_id, action_type, result, dry_run, performed_by, details)
       VALUES ($1, $2, $3, $4, 'skipped', $5, NULL, $6::jsonb)`,
      [connectorId, activeRunId, SCHEDULED_RUN_SKIPPED, request.dry_run, JSON.stringify(details)],
    );
    await this.schedules.recordOutcome(tx, request.schedule_id, scheduledFor, 'skipped', null);
    this.logger.warn({ message: `scheduled reconciliation skipped: ${SKIP_MESSAGES[reason]}`, tenant_id: tx.tenantId, connector_id: connectorId, ...details });
    return { kind: 'skipped', reason, active_run_id: activeRunId };
  }
}
