import { createCloudEvent, EventType, messageKey, Topic } from '@provisio/contracts';
import type { TenantTransaction } from '@provisio/persistence';
import type { RunRow, RunsRepository } from './runs.repository';

export const RECONCILER_SOURCE = 'provisio/reconciler';

/**
 * Announces that a run ended (`completed`, `failed` or `cancelled`) in the transaction that ended it, so
 * the event is published if and only if the end is committed. Keyed by connector: the runs of one
 * connector stay in order on one partition.
 */
export async function announceRunFinished(tx: TenantTransaction, runs: RunsRepository, runId: string): Promise<void> {
  const run = await runs.find(tx, runId);
  if (!run) return;
  await tx.publish({
    topic: Topic.ReconciliationRuns,
    key: messageKey.tenantConnector(tx.tenantId, run.connector_id),
    event: createCloudEvent({ source: RECONCILER_SOURCE, type: EventType.ReconciliationFinished, tenantid: tx.tenantId, subject: run.id, data: runFinishedData(run) }),
  });
}

/** The finished event's data: what a subscriber needs without calling back (the report has the rest). */
export function runFinishedData(run: RunRow) {
  return {
    run_id: run.id,
    connector_id: run.connector_id,
    schedule_id: run.schedule_id,
    mode: run.mode,
    dry_run: run.dry_run,
    status: run.status,
    accounts_processed: Number(run.accounts_processed),
    discrepancies_found: Number(run.discrepancies_found),
    duration_seconds: run.duration_seconds === null ? null : Number(run.duration_seconds),
    error_message: run.error_message,
  };
}
