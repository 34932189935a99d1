import { MigrationInterface, QueryRunner } from 'typeorm';
import { execute } from './support/sql';

/**
 * Seed 002's connectors and the identity store they provision from: `connectors` (target systems;
 * credentials are AES-GCM ciphertext, never returned by an API), `identities` (Provisio's side of a
 * reconciliation) and `account_links` (which external account belongs to which identity).
 */
export class CreateConnectorsAndIdentities1763900002000 implements MigrationInterface {
  name = 'CreateConnectorsAndIdentities1763900002000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      `CREATE TABLE connectors (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id UUID NOT NULL REFERENCES tenants(id),
        name VARCHAR(255) NOT NULL,
        type VARCHAR(20) NOT NULL,
        config JSONB NOT NULL DEFAULT '{}'::jsonb,
        credentials_encrypted TEXT,
        status VARCHAR(20) NOT NULL DEFAULT 'active',
        last_error TEXT,
        created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        CONSTRAINT uq_connectors_tenant_name UNIQUE (tenant_id, name),
        CONSTRAINT ck_connectors_type CHECK (type IN ('scim', 'ldap', 'sql')),
        CONSTRAINT ck_connectors_status CHECK (status IN ('active', 'inactive', 'error'))
      )`,
      `CREATE INDEX idx_connectors_tenant_status ON connectors(tenant_id, status)`,

      `CREATE TABLE identities (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id UUID NOT NULL REFERENCES tenants(id),
        username VARCHAR(255) NOT NULL,
        email VARCHAR(320),
        display_name VARCHAR(255),
        status VARCHAR(20) NOT NULL DEFAULT 'active',
        attributes JSONB NOT NULL DEFAULT '{}'::jsonb,
        source_user_id VARCHAR(255),
        created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        CONSTRAINT uq_identities_tenant_username UNIQUE (tenant_id, username),
        CONSTRAINT ck_identities_status CHECK (status IN ('active', 'inactive', 'suspended', 'deleted'))
      )`,
      // Domain events name a user by the upstream system's `user_id`; this finds the identity.
      `CREATE UNIQUE INDEX uq_identities_tenant_source_user ON identities(tenant_id, source_user_id) WHERE source_user_id IS NOT NULL`,
      `CREATE INDEX idx_identities_tenant_status ON identities(tenant_id, status)`,
      `CREATE INDEX idx_identities_tenant_email ON identities(tenant_id, email) WHERE email IS NOT NULL`,

      `CREATE TABLE account_links (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id UUID NOT NULL REFERENCES tenants(id),
        identity_id UUID NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
        connector_id UUID NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
        object_class VARCHAR(100) NOT NULL DEFAULT 'account',
        external_uid VARCHAR(500) NOT NULL,
        attributes_hash VARCHAR(128),
        last_synced_at TIMESTAMP WITH TIME ZONE,
        linked_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        CONSTRAINT uq_account_links_external UNIQUE (connector_id, object_class, external_uid),
        CONSTRAINT uq_account_links_identity UNIQUE (identity_id, connector_id, object_class)
      )`,
      `CREATE INDEX idx_account_links_tenant_connector ON account_links(tenant_id, connector_id)`,
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, ['DROP TABLE account_links', 'DROP TABLE identities', 'DROP TABLE connectors']);
  }
}
