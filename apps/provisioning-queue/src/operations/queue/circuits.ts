import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { Metrics } from '@provisio/platform';

export interface CircuitState {
  tenantId: string;
  connectorId: string;
  openedAt: Date;
  lastError: string;
  lastProbeAt: Date | null;
}

/**
 * The per-connector circuit: opened when a call fails in a way that says the target as a whole is down
 * (`isTargetUnavailable`: connection refused, 503). While it is open, the connector's operations are
 * not sent: they wait as `awaiting_system` without spending retries, and the probe (OperationQueue)
 * tests the target until it answers, then closes the circuit and resumes them.
 *
 * Held in memory per process; what must survive a restart is in the database (the `awaiting_system`
 * rows, which the probe finds again and re-opens the circuit for).
 */
@Injectable()
export class Circuits {
  private readonly open = new Map<string, CircuitState>();
  private readonly gauge: Gauge<'connector_id'>;

  constructor(metrics: Metrics) {
    this.gauge = new Gauge({
      name: 'provisio_provisioning_circuit_open',
      help: "1 while a connector's circuit is open (its target is down and its operations wait as awaiting_system)",
      labelNames: ['connector_id'],
      registers: [metrics.registry],
    });
  }

  isOpen(connectorId: string): boolean {
    return this.open.has(connectorId);
  }

  state(connectorId: string): CircuitState | undefined {
    return this.open.get(connectorId);
  }

  all(): CircuitState[] {
    return [...this.open.values()];
  }

  trip(tenantId: string, connectorId: string, error: string): boolean {
    if (this.open.has(connectorId)) return false;
    this.open.set(connectorId, { tenantId, connectorId, openedAt: new Date(), lastError: error, lastProbeAt: null });
    this.gauge.set({ connector_id: connectorId }, 1);
    return true;
  }

  probed(connectorId: string, error: string | null): void {
    const state = this.open.get(connectorId);
    if (!state) return;
    state.lastProbeAt = new Date();
    if (error) state.lastError = error;
  }

  close(connectorId: string): void {
    this.open.delete(connectorId);
    this.gauge.set({ connector_id: connectorId }, 0);
  }
}
