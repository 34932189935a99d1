import { Inject, Injectable } from '@nestjs/common';
import { AttributeMapping, attributeMappingSchema, Connector, ConnectorType, createConnector, DEFAULT_PROVISIONING_POLICY, ProvisioningPolicy, provisioningPolicySchema } from '@provisio/connectors';
import { TenantScoped } from '@provisio/persistence';
import { APP_CONFIG, ConflictError, NotFoundError, parseKeyRing, SealedJsonCipher } from '@provisio/platform';
import { AppConfig, CREDENTIAL_KEY_VARIABLES } from '../config';

/** A connector row as the reconciler reads it (the provisioning queue owns the table). */
export interface TargetConnectorRow {
  id: string;
  tenant_id: string;
  name: string;
  type: ConnectorType;
  config: Record<string, unknown>;
  credentials_encrypted: string | null;
  attribute_mapping: unknown[];
  provisioning_policy: Record<string, unknown>;
  mapping_script_id: string | null;
}

export interface TargetDefinition {
  row: TargetConnectorRow;
  mapping: AttributeMapping;
  policy: ProvisioningPolicy;
}

/**
 * Builds the Connector of a connector row: the credentials are decrypted with the same sealed-JSON
 * cipher and purpose as the provisioning queue (`@provisio/platform`'s SealedJsonCipher,
 * `connector-credentials`, bound to tenant and connector), in memory only.
 */
@Injectable()
export class TargetConnectors {
  private readonly cipher: SealedJsonCipher | null;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.cipher = config.CONNECTOR_CREDENTIALS_KEYS
      ? new SealedJsonCipher(parseKeyRing(config.CONNECTOR_CREDENTIALS_KEYS, config.CONNECTOR_CREDENTIALS_KEY_ID, CREDENTIAL_KEY_VARIABLES), { purpose: 'connector-credentials', what: 'credentials' })
      : null;
  }

  async definition(db: TenantScoped, connectorId: string): Promise<TargetDefinition> {
    const row = await db.one<TargetConnectorRow>(
      `SELECT id, tenant_id, name, type, config, credentials_encrypted, attribute_mapping, provisioning_policy, mapping_script_id
         FROM connectors WHERE tenant_id = $1 AND id = $2`,
      [connectorId],
    );
    if (!row) throw new NotFoundError('connector', connectorId);
    const mapping = attributeMappingSchema.safeParse(row.attribute_mapping);
    const policy = provisioningPolicySchema.safeParse(row.provisioning_policy ?? {});
    return { row, mapping: mapping.success ? mapping.data : [], policy: policy.success ? policy.data : DEFAULT_PROVISIONING_POLICY };
  }

  build(row: TargetConnectorRow): Connector {
    let credentials: unknown = {};
    if (row.credentials_encrypted) {
      if (!this.cipher) throw new ConflictError('connector credentials need CONNECTOR_CREDENTIALS_KEYS, which this deployment does not set', 'credentials');
      credentials = this.cipher.decrypt(row.credentials_encrypted, [row.tenant_id, row.id]);
    }
    return createConnector(row.type, row.config, credentials);
  }
}
