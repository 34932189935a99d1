import { MigrationInterface, QueryRunner } from 'typeorm';
import { execute } from './support/sql';

/**
 * Seed 002, reconciliation: runs, the discrepancies they find, remediation (one result per
 * discrepancy), schedules (one per connector) and the audit log of actions. ReconciliationReport and
 * DiscrepancyTrendPoint are computed from these tables, not stored.
 */
export class CreateReconciliation1763900006000 implements MigrationInterface {
  name = 'CreateReconciliation1763900006000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      `CREATE TABLE reconciliation_schedules (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id UUID NOT NULL REFERENCES tenants(id),
        connector_id UUID NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
        connector_name VARCHAR(255),
        mode VARCHAR(10) NOT NULL DEFAULT 'full',
        frequency VARCHAR(20) NOT NULL,
        day_of_week SMALLINT,
        day_of_month SMALLINT,
        hour_of_day SMALLINT NOT NULL DEFAULT 0,
        cron_expression VARCHAR(255),
        enabled BOOLEAN NOT NULL DEFAULT true,
        last_run_at TIMESTAMP WITH TIME ZONE,
        next_run_at TIMESTAMP WITH TIME ZONE,
        created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        CONSTRAINT reconciliation_schedules_connector_id_key UNIQUE (connector_id),
        CONSTRAINT ck_reconciliation_schedules_mode CHECK (mode IN ('full', 'delta')),
        CONSTRAINT ck_reconciliation_schedules_frequency CHECK (frequency IN ('hourly', 'daily', 'weekly', 'monthly', 'cron')),
        CONSTRAINT ck_reconciliation_schedules_day_of_week CHECK (day_of_week BETWEEN 0 AND 6),
        CONSTRAINT ck_reconciliation_schedules_day_of_month CHECK (day_of_month BETWEEN 1 AND 31),
        CONSTRAINT ck_reconciliation_schedules_hour_of_day CHECK (hour_of_day BETWEEN 0 AND 23),
        CONSTRAINT ck_reconciliation_schedules_cron CHECK (frequency <> 'cron' OR cron_expression IS NOT NULL),
        CONSTRAINT ck_reconciliation_schedules_weekly CHECK (frequency <> 'weekly' OR day_of_week IS NOT NULL),
        CONSTRAINT ck_reconciliation_schedules_monthly CHECK (frequency <> 'monthly' OR day_of_month IS NOT NULL)
      )`,
      `CREATE INDEX idx_reconciliation_schedules_due ON reconciliation_schedules(next_run_at) WHERE enabled`,
      `CREATE INDEX idx_reconciliation_schedules_tenant ON reconciliation_schedules(tenant_id)`,

      `CREATE TABLE reconciliation_runs (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id UUID NOT NULL REFERENCES tenants(id),
        connector_id UUID NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
        schedule_id UUID REFERENCES reconciliation_schedules(id) ON DELETE SET NULL,
        mode VARCHAR(10) NOT NULL,
        dry_run BOOLEAN NOT NULL DEFAULT false,
        status VARCHAR(20) NOT NULL DEFAULT 'pending',
        started_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        completed_at TIMESTAMP WITH TIME ZONE,
        accounts_processed INTEGER NOT NULL DEFAULT 0,
        discrepancies_found INTEGER NOT NULL DEFAULT 0,
        api_calls_made INTEGER NOT NULL DEFAULT 0,
        duration_seconds DOUBLE PRECISION,
        error_message TEXT,
        checkpoint JSONB NOT NULL DEFAULT '{}'::jsonb,
        created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
        updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        CONSTRAINT ck_reconciliation_runs_mode CHECK (mode IN ('full', 'delta')),
        CONSTRAINT ck_reconciliation_runs_status CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'paused')),
        CONSTRAINT ck_reconciliation_runs_counters CHECK (accounts_processed >= 0 AND discrepancies_found >= 0 AND api_calls_made >= 0)
      )`,
      `CREATE INDEX idx_reconciliation_runs_tenant_connector ON reconciliation_runs(tenant_id, connector_id, started_at DESC)`,
      `CREATE INDEX idx_reconciliation_runs_tenant_status ON reconciliation_runs(tenant_id, status)`,
      // At most one run in flight per connector.
      `CREATE UNIQUE INDEX uq_reconciliation_runs_active ON reconciliation_runs(connector_id) WHERE status IN ('pending', 'running', 'paused')`,

      `CREATE TABLE discrepancies (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id UUID NOT NULL REFERENCES tenants(id),
        connector_id UUID NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
        run_id UUID NOT NULL REFERENCES reconciliation_runs(id) ON DELETE CASCADE,
        discrepancy_type VARCHAR(20) NOT NULL,
        identity_id UUID REFERENCES identities(id) ON DELETE SET NULL,
        external_uid VARCHAR(500),
        attribute_name VARCHAR(255),
        expected_value TEXT,
        actual_value TEXT,
        resolution_status VARCHAR(20) NOT NULL DEFAULT 'pending',
        resolved_at TIMESTAMP WITH TIME ZONE,
        resolved_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
        created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        CONSTRAINT ck_discrepancies_type CHECK (discrepancy_type IN ('missing', 'orphan', 'mismatch', 'collision', 'unlinked', 'deleted')),
        CONSTRAINT ck_discrepancies_resolution_status CHECK (resolution_status IN ('pending', 'resolved', 'ignored')),
        CONSTRAINT ck_discrepancies_mismatch_attribute CHECK (discrepancy_type <> 'mismatch' OR attribute_name IS NOT NULL)
      )`,
      `CREATE INDEX idx_discrepancies_run_type ON discrepancies(run_id, discrepancy_type)`,
      `CREATE INDEX idx_discrepancies_tenant_connector_status ON discrepancies(tenant_id, connector_id, resolution_status)`,
      // Trends: discrepancies per day of a tenant (and connector).
      `CREATE INDEX idx_discrepancies_tenant_created ON discrepancies(tenant_id, created_at)`,
      `CREATE INDEX idx_discrepancies_identity ON discrepancies(identity_id) WHERE identity_id IS NOT NULL`,

      `CREATE TABLE remediation_results (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id UUID NOT NULL REFERENCES tenants(id),
        discrepancy_id UUID NOT NULL REFERENCES discrepancies(id) ON DELETE CASCADE,
        action VARCHAR(30) NOT NULL,
        direction VARCHAR(20) NOT NULL,
        success BOOLEAN NOT NULL,
        error TEXT,
        changes JSONB,
        created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        CONSTRAINT remediation_results_discrepancy_id_key UNIQUE (discrepancy_id),
        CONSTRAINT ck_remediation_results_action CHECK (action IN ('create', 'update', 'delete', 'link', 'unlink', 'inactivate_identity')),
        CONSTRAINT ck_remediation_results_direction CHECK (direction IN ('xavyo_to_target', 'target_to_xavyo'))
      )`,
      `CREATE INDEX idx_remediation_results_tenant ON remediation_results(tenant_id, created_at DESC)`,

      `CREATE TABLE reconciliation_actions (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id UUID NOT NULL REFERENCES tenants(id),
        connector_id UUID NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
        run_id UUID REFERENCES reconciliation_runs(id) ON DELETE SET NULL,
        discrepancy_id UUID REFERENCES discrepancies(id) ON DELETE SET NULL,
        action_type VARCHAR(50) NOT NULL,
        result VARCHAR(50) NOT NULL,
        dry_run BOOLEAN NOT NULL DEFAULT false,
        performed_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
        performed_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        details JSONB
      )`,
      `CREATE INDEX idx_reconciliation_actions_tenant_connector ON reconciliation_actions(tenant_id, connector_id, performed_at DESC)`,
      `CREATE INDEX idx_reconciliation_actions_run ON reconciliation_actions(run_id) WHERE run_id IS NOT NULL`,
      `CREATE INDEX idx_reconciliation_actions_discrepancy ON reconciliation_actions(discrepancy_id) WHERE discrepancy_id IS NOT NULL`,
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      'DROP TABLE reconciliation_actions',
      'DROP TABLE remediation_results',
      'DROP TABLE discrepancies',
      'DROP TABLE reconciliation_runs',
      'DROP TABLE reconciliation_schedules',
    ]);
  }
}
