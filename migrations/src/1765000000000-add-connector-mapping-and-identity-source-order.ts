import { MigrationInterface, QueryRunner } from 'typeorm';
import { execute } from './support/sql';

/**
 * What the connector API stores beside a connector's config, and what the identity store's consumer
 * needs to keep the upstream's order:
 *
 *  - `connectors.attribute_mapping`: the declarative mapping (identity attribute → target attribute, a
 *    JSON array of rules, validated by libs/connectors' `attributeMappingSchema`);
 *  - `connectors.provisioning_policy`: which identities the connector gets (`provisioningPolicySchema`;
 *    `{}` is the default policy, every identity but a deleted one);
 *  - `connectors.mapping_script_id`: an optional embedded script that maps after the declarative rules;
 *    cleared if the script is deleted;
 *  - `identities.source_version` / `source_event_time`: the upstream version and CloudEvent time of the
 *    last event applied to the identity, so an older event never overwrites a newer one.
 */
export class AddConnectorMappingAndIdentitySourceOrder1765000000000 implements MigrationInterface {
  name = 'AddConnectorMappingAndIdentitySourceOrder1765000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      `ALTER TABLE connectors
         ADD COLUMN attribute_mapping JSONB NOT NULL DEFAULT '[]'::jsonb,
         ADD COLUMN provisioning_policy JSONB NOT NULL DEFAULT '{}'::jsonb,
         ADD COLUMN mapping_script_id UUID REFERENCES scripts(id) ON DELETE SET NULL,
         ADD CONSTRAINT ck_connectors_attribute_mapping CHECK (jsonb_typeof(attribute_mapping) = 'array'),
         ADD CONSTRAINT ck_connectors_provisioning_policy CHECK (jsonb_typeof(provisioning_policy) = 'object')`,
      `CREATE INDEX idx_connectors_mapping_script ON connectors(mapping_script_id) WHERE mapping_script_id IS NOT NULL`,
      `ALTER TABLE identities
         ADD COLUMN source_version BIGINT,
         ADD COLUMN source_event_time TIMESTAMP WITH TIME ZONE`,
      // The identities API lists by `updated_since`.
      `CREATE INDEX idx_identities_tenant_updated ON identities(tenant_id, updated_at)`,
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      'DROP INDEX idx_identities_tenant_updated',
      'ALTER TABLE identities DROP COLUMN source_event_time, DROP COLUMN source_version',
      'DROP INDEX idx_connectors_mapping_script',
      `ALTER TABLE connectors
         DROP CONSTRAINT ck_connectors_provisioning_policy,
         DROP CONSTRAINT ck_connectors_attribute_mapping,
         DROP COLUMN mapping_script_id,
         DROP COLUMN provisioning_policy,
         DROP COLUMN attribute_mapping`,
    ]);
  }
}
