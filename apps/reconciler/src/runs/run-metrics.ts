import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { TenantDatabase } from '@provisio/persistence';
import { Metrics } from '@provisio/platform';
import { progressOf } from './run-progress';
import { RunsRepository } from './runs.repository';

/**
 * Progress of every running or paused run as Prometheus gauges, read from PostgreSQL (the truth, whichever
 * replica works a run) at each scrape: processed, total, accounts per second and ETA, labelled by run,
 * connector and phase.
 */
@Injectable()
export class RunMetrics {
  constructor(db: TenantDatabase, runs: RunsRepository, metrics: Metrics) {
    let last: ReturnType<RunsRepository['running']> | null = null;
    const read = () => (last ??= runs.running(db.allTenants('reconciliation metrics: progress of the runs of every tenant')).finally(() => setTimeout(() => (last = null), 1_000).unref()));
    const labelNames = ['run_id', 'connector_id', 'phase', 'status'] as const;
    const gauge = (name: string, help: string, value: (p: ReturnType<typeof progressOf>) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [metrics.registry],
        async collect() {
          this.reset();
          for (const run of await read()) {
            const v = value(progressOf(run));
            if (v !== null) this.set({ run_id: run.id, connector_id: run.connector_id, phase: run.phase, status: run.status }, v);
          }
        },
      });
    gauge('provisio_reconciliation_run_accounts_processed', 'Accounts a running or paused run has read', (p) => p.processed);
    gauge('provisio_reconciliation_run_accounts_total', 'Accounts the target holds, when it tells', (p) => p.total);
    gauge('provisio_reconciliation_run_accounts_per_second', 'Accounts per second of the run', (p) => p.accounts_per_second);
    gauge('provisio_reconciliation_run_eta_seconds', 'Seconds until the run has read every account (when the total is known)', (p) => p.eta_seconds);
  }
}
