import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropColumnChecks, execute } from './support/sql';

/**
 * Seed 000 folded into seed 001's tables: provisioning scripts are `scripts` rows (type `embedded`)
 * with a current version and a system flag; they run as before/after hooks of connector operations
 * through `hook_bindings`; `script_templates` (NULL tenant = system template for every tenant);
 * ExecutionLog fields on `script_executions`; `audit_events`, which outlive what they describe.
 *
 * The two unnamed CHECKs of `script_executions` are replaced by named, wider ones: trigger types add
 * `hook` and `oneoff` (seed 000), statuses add `queued` (seed 004) and `skipped` (seed 000).
 */
export class AddProvisioningScripts1763900003000 implements MigrationInterface {
  name = 'AddProvisioningScripts1763900003000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      `ALTER TABLE scripts
         ADD COLUMN current_version INTEGER NOT NULL DEFAULT 0,
         ADD COLUMN is_system BOOLEAN NOT NULL DEFAULT false,
         ADD CONSTRAINT ck_scripts_current_version CHECK (current_version >= 0)`,

      `CREATE TABLE hook_bindings (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id UUID NOT NULL REFERENCES tenants(id),
        script_id UUID NOT NULL REFERENCES scripts(id) ON DELETE CASCADE,
        connector_id UUID NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
        hook_phase VARCHAR(10) NOT NULL,
        operation_type VARCHAR(20) NOT NULL,
        execution_order INTEGER NOT NULL DEFAULT 0,
        failure_policy VARCHAR(20) NOT NULL DEFAULT 'abort',
        max_retries INTEGER NOT NULL DEFAULT 0,
        timeout_seconds INTEGER NOT NULL DEFAULT 30,
        enabled BOOLEAN NOT NULL DEFAULT true,
        created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
        created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        CONSTRAINT uq_hook_bindings_script_hook UNIQUE (script_id, connector_id, operation_type, hook_phase),
        CONSTRAINT ck_hook_bindings_hook_phase CHECK (hook_phase IN ('before', 'after')),
        CONSTRAINT ck_hook_bindings_operation_type CHECK (operation_type IN ('create', 'update', 'delete', 'enable', 'disable')),
        CONSTRAINT ck_hook_bindings_failure_policy CHECK (failure_policy IN ('abort', 'continue', 'retry')),
        CONSTRAINT ck_hook_bindings_execution_order CHECK (execution_order >= 0),
        CONSTRAINT ck_hook_bindings_max_retries CHECK (max_retries BETWEEN 0 AND 10 AND (failure_policy = 'retry' OR max_retries = 0)),
        CONSTRAINT ck_hook_bindings_timeout_seconds CHECK (timeout_seconds BETWEEN 1 AND 300)
      )`,
      // The hook runner's query: the enabled bindings of one connector operation and phase, in order.
      `CREATE INDEX idx_hook_bindings_lookup ON hook_bindings(tenant_id, connector_id, operation_type, hook_phase, execution_order)`,
      `CREATE INDEX idx_hook_bindings_script ON hook_bindings(script_id)`,

      `CREATE TABLE script_templates (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id UUID REFERENCES tenants(id) ON DELETE CASCADE,
        name VARCHAR(255) NOT NULL,
        description TEXT,
        category VARCHAR(50) NOT NULL,
        template_body TEXT NOT NULL,
        placeholder_annotations JSONB NOT NULL DEFAULT '[]'::jsonb,
        is_system BOOLEAN NOT NULL DEFAULT false,
        created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
        created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        CONSTRAINT uq_script_templates_tenant_name UNIQUE NULLS NOT DISTINCT (tenant_id, name),
        CONSTRAINT ck_script_templates_category CHECK (category IN ('attribute_mapping', 'value_generation', 'conditional_logic', 'data_formatting', 'custom')),
        CONSTRAINT ck_script_templates_system_scope CHECK (tenant_id IS NOT NULL OR is_system)
      )`,
      `CREATE INDEX idx_script_templates_category ON script_templates(tenant_id, category)`,
    ]);

    // Seed 001 leaves these CHECKs unnamed; find them by column rather than trusting the default name.
    await dropColumnChecks(queryRunner, 'script_executions', 'status');
    await dropColumnChecks(queryRunner, 'script_executions', 'trigger_type');
    await execute(queryRunner, [
      `ALTER TABLE script_executions
         ADD COLUMN binding_id UUID REFERENCES hook_bindings(id) ON DELETE SET NULL,
         ADD COLUMN connector_id UUID REFERENCES connectors(id) ON DELETE SET NULL,
         ADD COLUMN script_version INTEGER,
         ADD COLUMN dry_run BOOLEAN NOT NULL DEFAULT false,
         ADD COLUMN executed_by VARCHAR(255),
         ADD CONSTRAINT ck_script_executions_status
           CHECK (status IN ('pending', 'queued', 'running', 'completed', 'failed', 'timeout', 'cancelled', 'skipped')),
         ADD CONSTRAINT ck_script_executions_trigger_type
           CHECK (trigger_type IN ('cron', 'http', 'event', 'manual', 'api', 'hook', 'oneoff'))`,
      `CREATE INDEX idx_executions_binding ON script_executions(binding_id) WHERE binding_id IS NOT NULL`,
      // Execution logs and analytics of one script (daily trends, p95) read it newest first.
      `CREATE INDEX idx_executions_script_started ON script_executions(script_id, started_at DESC)`,

      `CREATE TABLE audit_events (
        event_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id UUID NOT NULL REFERENCES tenants(id),
        script_id UUID REFERENCES scripts(id) ON DELETE SET NULL,
        entity_type VARCHAR(50) NOT NULL DEFAULT 'script',
        entity_id UUID,
        action VARCHAR(100) NOT NULL,
        actor_id VARCHAR(255) NOT NULL,
        details JSONB NOT NULL DEFAULT '{}'::jsonb,
        created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
      )`,
      `CREATE INDEX idx_audit_events_tenant_created ON audit_events(tenant_id, created_at DESC)`,
      `CREATE INDEX idx_audit_events_script ON audit_events(script_id, created_at DESC) WHERE script_id IS NOT NULL`,
      `CREATE INDEX idx_audit_events_entity ON audit_events(tenant_id, entity_type, entity_id, created_at DESC)`,
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      'DROP TABLE audit_events',
      'DROP INDEX idx_executions_script_started',
      'DROP INDEX idx_executions_binding',
      `ALTER TABLE script_executions
         DROP CONSTRAINT ck_script_executions_trigger_type,
         DROP CONSTRAINT ck_script_executions_status,
         DROP COLUMN executed_by,
         DROP COLUMN dry_run,
         DROP COLUMN script_version,
         DROP COLUMN connector_id,
         DROP COLUMN binding_id`,
      // Back to seed 001's checks under their default names. Fails (as it should) while rows use the
      // wider values: reverting would otherwise silently rewrite execution history.
      `ALTER TABLE script_executions
         ADD CONSTRAINT script_executions_status_check
           CHECK (status IN ('pending', 'running', 'completed', 'failed', 'timeout', 'cancelled')),
         ADD CONSTRAINT script_executions_trigger_type_check
           CHECK (trigger_type IN ('cron', 'http', 'event', 'manual', 'api'))`,
      'DROP TABLE script_templates',
      'DROP TABLE hook_bindings',
      `ALTER TABLE scripts
         DROP CONSTRAINT ck_scripts_current_version,
         DROP COLUMN is_system,
         DROP COLUMN current_version`,
    ]);
  }
}
