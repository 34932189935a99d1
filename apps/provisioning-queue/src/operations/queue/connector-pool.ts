import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Connector, ConnectorError, ConnectorErrorCode, createConnector, isConnectorError } from '@provisio/connectors';
import { TenantDatabase } from '@provisio/persistence';
import { ConnectorsRepository } from '../../connectors/connectors.repository';
import { ConnectorCredentialsService } from '../../connectors/credentials/connector-credentials.service';

interface Pooled {
  tenantId: string;
  updatedAt: number;
  checkedAt: number;
  connector: Connector;
}

/** How long a built connector is used before its row is looked at again (an edit takes effect within this). */
const RECHECK_MS = 2_000;
/** How long a replaced connector stays open for the calls still using it. */
const RETIRE_AFTER_MS = 60_000;

/**
 * One live connector per connector row, shared by every operation of that connector in this process:
 * its governor is what keeps the connector within its target's concurrency and rate limits
 * (`config.limits`), whatever the queue's own concurrency. Rebuilt when the row changes (config,
 * credentials); credentials are decrypted in memory only, when building.
 */
@Injectable()
export class ConnectorPool implements OnModuleDestroy {
  private readonly logger = new Logger(ConnectorPool.name);
  private readonly pooled = new Map<string, Pooled>();
  private readonly building = new Map<string, Promise<Connector>>();

  constructor(
    private readonly db: TenantDatabase,
    private readonly connectors: ConnectorsRepository,
    private readonly credentials: ConnectorCredentialsService,
  ) {}

  async get(tenantId: string, connectorId: string): Promise<Connector> {
    const pooled = this.pooled.get(connectorId);
    if (pooled && pooled.tenantId === tenantId && Date.now() - pooled.checkedAt < RECHECK_MS) return pooled.connector;
    let pending = this.building.get(connectorId);
    if (!pending) {
      pending = this.refresh(tenantId, connectorId).finally(() => this.building.delete(connectorId));
      this.building.set(connectorId, pending);
    }
    return pending;
  }

  private async refresh(tenantId: string, connectorId: string): Promise<Connector> {
    const row = await this.connectors.findWithSecret(this.db.read(tenantId), connectorId);
    if (!row) throw new Error(`connector ${connectorId} is gone`);
    const updatedAt = new Date(row.updated_at).getTime();
    const pooled = this.pooled.get(connectorId);
    if (pooled && pooled.tenantId === tenantId && pooled.updatedAt === updatedAt) {
      pooled.checkedAt = Date.now();
      return pooled.connector;
    }
    let connector: Connector;
    try {
      const credentials = row.credentials_encrypted ? this.credentials.decrypt(row.credentials_encrypted, { tenantId, connectorId }) : {};
      connector = createConnector(row.type, row.config, credentials);
    } catch (error) {
      // A config or credentials that cannot work (or a key not configured): no retry can fix it.
      throw isConnectorError(error) ? error : new ConnectorError(ConnectorErrorCode.InvalidConfig, `the connector cannot be built: ${(error as Error).message}`);
    }
    this.pooled.set(connectorId, { tenantId, updatedAt, checkedAt: Date.now(), connector });
    if (pooled) this.retire(pooled.connector);
    return connector;
  }

  private retire(connector: Connector): void {
    setTimeout(() => void connector.close().catch((error: Error) => this.logger.warn({ message: 'closing a replaced connector failed', error: error.message })), RETIRE_AFTER_MS).unref();
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.pooled.values()].map((p) => p.connector.close().catch(() => undefined)));
    this.pooled.clear();
  }
}
