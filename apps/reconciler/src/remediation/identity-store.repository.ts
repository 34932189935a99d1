import { Injectable } from '@nestjs/common';
import type { TenantTransaction } from '@provisio/persistence';
import { toStorableJson, toStorableTextOrNull } from '@provisio/platform';

export interface StoredIdentity {
  id: string;
  username: string;
  email: string | null;
  display_name: string | null;
  status: string;
  attributes: Record<string, unknown>;
}

/**
 * The writes of remediation toward Provisio (target_to_xavyo) on the identity store's tables
 * (`identities`, `account_links`; the provisioning queue's): one statement each, in the transaction
 * that writes the remediation's result and audit row. They are not the queue's statements: the queue
 * writes links from a connector call's outcome (upsert, hash) and identities from upstream events
 * (versions, source ids); these link an existing account, set one field or the status, and create an
 * identity from an account. What they change does not plan provisioning operations (see
 * docs/reconciliation.md, "Remediation").
 */
@Injectable()
export class IdentityStoreRepository {
  lockIdentity(tx: TenantTransaction, id: string): Promise<StoredIdentity | undefined> {
    return tx.one<StoredIdentity>(`SELECT id, username, email, display_name, status, attributes FROM identities WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [id]);
  }

  identityByUsername(tx: TenantTransaction, username: string): Promise<{ id: string } | undefined> {
    return tx.one(`SELECT id FROM identities WHERE tenant_id = $1 AND username = $2`, [username]);
  }

  /** The link of an account, or of an identity, on the connector (object class `account`). */
  linkOf(tx: TenantTransaction, connectorId: string, by: { external_uid: string } | { identity_id: string }): Promise<{ identity_id: string; external_uid: string } | undefined> {
    return 'external_uid' in by
      ? tx.one(`SELECT identity_id, external_uid FROM account_links WHERE tenant_id = $1 AND connector_id = $2 AND object_class = 'account' AND external_uid = $3`, [connectorId, by.external_uid])
      : tx.one(`SELECT identity_id, external_uid FROM account_links WHERE tenant_id = $1 AND connector_id = $2 AND object_class = 'account' AND identity_id = $3`, [connectorId, by.identity_id]);
  }

  async link(tx: TenantTransaction, connectorId: string, identityId: string, externalUid: string): Promise<void> {
    await tx.execute(`INSERT INTO account_links (tenant_id, identity_id, connector_id, object_class, external_uid, last_synced_at) VALUES ($1, $2, $3, 'account', $4, now())`, [
      identityId,
      connectorId,
      externalUid,
    ]);
  }

  /** Removes the account's link; answers the identity it named, if any. */
  async unlink(tx: TenantTransaction, connectorId: string, externalUid: string): Promise<string | undefined> {
    const row = await tx.one<{ identity_id: string }>(
      `DELETE FROM account_links WHERE tenant_id = $1 AND connector_id = $2 AND object_class = 'account' AND external_uid = $3 RETURNING identity_id`,
      [connectorId, externalUid],
    );
    return row?.identity_id;
  }

  async setStatus(tx: TenantTransaction, id: string, status: 'inactive'): Promise<void> {
    await tx.execute(`UPDATE identities SET status = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2`, [id, status]);
  }

  /** One of the identity's own fields, or its whole `attributes` object. */
  async setField(tx: TenantTransaction, id: string, field: 'username' | 'email' | 'display_name' | 'attributes', value: unknown): Promise<void> {
    if (field === 'attributes') {
      await tx.execute(`UPDATE identities SET attributes = $3::jsonb, updated_at = now() WHERE tenant_id = $1 AND id = $2`, [id, toStorableJson(value)]);
    } else {
      // The column is named by code (the union above), never by request text.
      await tx.execute(`UPDATE identities SET ${field} = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2`, [id, toStorableTextOrNull(value as string | null)]);
    }
  }

  async insertIdentity(tx: TenantTransaction, identity: { username: string; email: string | null; display_name: string | null; attributes: Record<string, unknown> }): Promise<string> {
    const row = await tx.one<{ id: string }>(
      `INSERT INTO identities (tenant_id, username, email, display_name, status, attributes) VALUES ($1, $2, $3, $4, 'active', $5::jsonb) RETURNING id`,
      [toStorableTextOrNull(identity.username), toStorableTextOrNull(identity.email), toStorableTextOrNull(identity.display_name), toStorableJson(identity.attributes)],
    );
    return row!.id;
  }
}
