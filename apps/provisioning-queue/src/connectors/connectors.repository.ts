import { Injectable } from '@nestjs/common';
import type { Connector, ConnectorStatus, ConnectorType, TenantScoped, TenantTransaction } from '@provisio/persistence';
import { toStorableJson, SqlFilters } from '@provisio/platform';

/** A `connectors` row as the API shows it: the credentials are summarised, never selected. */
export type ConnectorRow = Pick<
  Connector,
  'id' | 'tenant_id' | 'name' | 'type' | 'config' | 'status' | 'last_error' | 'attribute_mapping' | 'provisioning_policy' | 'mapping_script_id' | 'created_at' | 'updated_at'
> & {
  has_credentials: boolean;
  credentials_key_id: string | null;
};

/** The row with its credentials' ciphertext: only for building a connector or re-encrypting. */
export type ConnectorWithSecret = ConnectorRow & Pick<Connector, 'credentials_encrypted'>;

export type ConnectorValues = Pick<Connector, 'name' | 'config' | 'credentials_encrypted' | 'status' | 'last_error' | 'attribute_mapping' | 'provisioning_policy' | 'mapping_script_id'>;

const COLUMNS = `id, tenant_id, name, type, config, status, last_error, credentials_encrypted IS NOT NULL AS has_credentials,
  NULLIF(split_part(credentials_encrypted, ':', 2), '') AS credentials_key_id, attribute_mapping, provisioning_policy, mapping_script_id, created_at, updated_at`;

export const CONNECTOR_UNIQUES = {
  uq_connectors_tenant_name: { field: 'name', message: 'a connector with this name exists in the tenant' },
};

/** Every statement on `connectors`; each one tenant-scoped (`tenant_id = $1`, checked by TenantScoped). */
@Injectable()
export class ConnectorsRepository {
  async find(db: TenantScoped, id: string): Promise<ConnectorRow | undefined> {
    return db.one<ConnectorRow>(`SELECT ${COLUMNS} FROM connectors WHERE tenant_id = $1 AND id = $2`, [id]);
  }

  async findWithSecret(db: TenantScoped, id: string): Promise<ConnectorWithSecret | undefined> {
    return db.one<ConnectorWithSecret>(`SELECT ${COLUMNS}, credentials_encrypted FROM connectors WHERE tenant_id = $1 AND id = $2`, [id]);
  }

  async lockWithSecret(tx: TenantTransaction, id: string): Promise<ConnectorWithSecret | undefined> {
    return tx.one<ConnectorWithSecret>(`SELECT ${COLUMNS}, credentials_encrypted FROM connectors WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [id]);
  }

  async insert(tx: TenantTransaction, id: string, type: ConnectorType, values: ConnectorValues): Promise<ConnectorRow> {
    const row = await tx.one<ConnectorRow>(
      `INSERT INTO connectors (tenant_id, id, type, name, config, credentials_encrypted, status, last_error, attribute_mapping, provisioning_policy, mapping_script_id)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9::jsonb, $10::jsonb, $11) RETURNING ${COLUMNS}`,
      [id, type, ...this.params(values)],
    );
    return row!;
  }

  async update(tx: TenantTransaction, id: string, values: ConnectorValues): Promise<ConnectorRow> {
    const row = await tx.one<ConnectorRow>(
      `UPDATE connectors SET name = $3, config = $4::jsonb, credentials_encrypted = $5, status = $6, last_error = $7, attribute_mapping = $8::jsonb,
              provisioning_policy = $9::jsonb, mapping_script_id = $10, updated_at = now()
        WHERE tenant_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
      [id, ...this.params(values)],
    );
    return row!;
  }

  async delete(tx: TenantTransaction, id: string): Promise<boolean> {
    return (await tx.execute('DELETE FROM connectors WHERE tenant_id = $1 AND id = $2', [id])) > 0;
  }

  /**
   * The outcome of a connection test: a failure puts the connector in `error` with the reason; a success
   * clears the reason and takes an `error` connector back to `active` (an `inactive` one stays inactive).
   */
  async recordTest(db: TenantScoped, id: string, ok: boolean, error: string | null): Promise<{ status: ConnectorStatus; last_error: string | null } | undefined> {
    return db.one(
      `UPDATE connectors SET status = CASE WHEN $3::boolean THEN (CASE WHEN status = 'error' THEN 'active' ELSE status END) ELSE 'error' END,
              last_error = CASE WHEN $3::boolean THEN NULL ELSE $4::text END, updated_at = now()
        WHERE tenant_id = $1 AND id = $2 RETURNING status, last_error`,
      [id, ok, error],
    );
  }

  async list(db: TenantScoped, filter: { type?: string; status?: string; name?: string }, page: { limit: number; offset: number }): Promise<{ rows: ConnectorRow[]; total: number }> {
    const filters = new SqlFilters();
    if (filter.type) filters.add('type = ?', filter.type);
    if (filter.status) filters.add('status = ?', filter.status);
    if (filter.name !== undefined) filters.add('name = ?', filter.name);
    const paged = filters.page(page);
    const [rows, [{ total }]] = await Promise.all([
      db.query<ConnectorRow>(`SELECT ${COLUMNS} FROM connectors WHERE ${filters.where} ORDER BY name, id ${paged.sql}`, paged.params),
      db.query<{ total: number }>(`SELECT count(*)::int AS total FROM connectors WHERE ${filters.where}`, filters.params),
    ]);
    return { rows, total };
  }

  /** Connectors of the tenant whose credentials are encrypted with another key than `currentKeyId`, locked. */
  async lockEncryptedWithOtherKey(tx: TenantTransaction, currentKeyId: string): Promise<{ id: string; credentials_encrypted: string }[]> {
    return tx.query(
      `SELECT id, credentials_encrypted FROM connectors
        WHERE tenant_id = $1 AND credentials_encrypted IS NOT NULL AND split_part(credentials_encrypted, ':', 2) <> $2
        ORDER BY id FOR UPDATE`,
      [currentKeyId],
    );
  }

  async setCredentials(tx: TenantTransaction, id: string, credentialsEncrypted: string): Promise<void> {
    await tx.execute('UPDATE connectors SET credentials_encrypted = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2', [id, credentialsEncrypted]);
  }

  /** An embedded script of the tenant that is not archived (what a mapping script must be). */
  async embeddedScriptExists(db: TenantScoped, scriptId: string): Promise<boolean> {
    const row = await db.one(`SELECT 1 FROM scripts WHERE tenant_id = $1 AND id = $2 AND type = 'embedded' AND status <> 'archived'`, [scriptId]);
    return row !== undefined;
  }

  private params(values: ConnectorValues): unknown[] {
    return [
      values.name,
      toStorableJson(values.config),
      values.credentials_encrypted,
      values.status,
      values.last_error,
      toStorableJson(values.attribute_mapping),
      toStorableJson(values.provisioning_policy),
      values.mapping_script_id,
    ];
  }
}
