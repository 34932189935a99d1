import { Injectable } from '@nestjs/common';
import type { TenantScoped } from '@provisio/persistence';

export interface ConnectorSettingsRow {
  connector_id: string;
  correlation_rules: unknown[];
  delete_threshold_percent: number;
  updated_at: Date;
}

/** reconciliation_connector_settings: a connector's correlation rules and guard threshold. */
@Injectable()
export class ConnectorSettingsRepository {
  find(db: TenantScoped, connectorId: string): Promise<ConnectorSettingsRow | undefined> {
    return db.one<ConnectorSettingsRow>('SELECT connector_id, correlation_rules, delete_threshold_percent, updated_at FROM reconciliation_connector_settings WHERE tenant_id = $1 AND connector_id = $2', [connectorId]);
  }

  async upsert(db: TenantScoped, connectorId: string, rules: unknown[], threshold: number): Promise<ConnectorSettingsRow> {
    const [row] = await db.query<ConnectorSettingsRow>(
      `INSERT INTO reconciliation_connector_settings (tenant_id, connector_id, correlation_rules, delete_threshold_percent)
       VALUES ($1, $2, $3::jsonb, $4)
       ON CONFLICT (connector_id) DO UPDATE SET correlation_rules = EXCLUDED.correlation_rules, delete_threshold_percent = EXCLUDED.delete_threshold_percent, updated_at = now()
       WHERE reconciliation_connector_settings.tenant_id = $1
       RETURNING connector_id, correlation_rules, delete_threshold_percent, updated_at`,
      [connectorId, JSON.stringify(rules), threshold],
    );
    return row;
  }
}
