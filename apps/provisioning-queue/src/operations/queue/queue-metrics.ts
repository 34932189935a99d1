import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { TenantDatabase } from '@provisio/persistence';
import { Metrics } from '@provisio/platform';
import { OperationsRepository } from '../operations.repository';

/**
 * Queue depth and age of the oldest open operation, read from PostgreSQL (the truth) at each scrape, across
 * tenants. Operations per second by outcome are `rate(provisio_provisioning_operations_total[1m])`
 * (OperationRunner), circuit state is `provisio_provisioning_circuit_open` (Circuits).
 */
@Injectable()
export class QueueMetrics {
  constructor(db: TenantDatabase, operations: OperationsRepository, metrics: Metrics) {
    let last: Promise<{ status: string; count: number; oldest_secs: number | null }[]> | null = null;
    const read = () => (last ??= operations.depth(db.allTenants('provisioning metrics: queue depth of every tenant')).finally(() => setTimeout(() => (last = null), 1_000).unref()));
    const statuses = ['pending', 'in_progress', 'failed', 'awaiting_system'];
    new Gauge({
      name: 'provisio_provisioning_queue_depth',
      help: 'Open provisioning operations by status (pending, in_progress, failed awaiting a retry, awaiting_system)',
      labelNames: ['status'],
      registers: [metrics.registry],
      async collect() {
        const rows = await read();
        for (const status of statuses) this.set({ status }, rows.find((r) => r.status === status)?.count ?? 0);
      },
    });
    new Gauge({
      name: 'provisio_provisioning_oldest_pending_seconds',
      help: 'Age of the oldest pending provisioning operation (0 when none)',
      registers: [metrics.registry],
      async collect() {
        const rows = await read();
        this.set(rows.find((r) => r.status === 'pending')?.oldest_secs ?? 0);
      },
    });
  }
}
