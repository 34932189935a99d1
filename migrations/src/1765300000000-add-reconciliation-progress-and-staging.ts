import { MigrationInterface, QueryRunner } from 'typeorm';
import { execute } from './support/sql';

/**
 * What the reconciler needs beyond seed 002's tables:
 *  - on a run: its phase and progress (total when the target tells), the delta watermark it leaves for
 *    the next delta, the guard rail's threshold, verdict and pause reason, and the lease (token and
 *    heartbeat) of the worker that holds it, so a sweep can take back a run whose worker died;
 *  - per connector: the correlation rules and the guard threshold (reconciliation_connector_settings);
 *  - staging tables (UNLOGGED: scratch data of one run, rebuilt by a rerun) into which the target's
 *    pages are COPYed and each identity's expected attributes are COPYed, so classification is a few
 *    set-based statements; the correlation candidates of unlinked accounts.
 */
export class AddReconciliationProgressAndStaging1765300000000 implements MigrationInterface {
  name = 'AddReconciliationProgressAndStaging1765300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      `ALTER TABLE reconciliation_runs
         ADD COLUMN phase VARCHAR(30) NOT NULL DEFAULT 'queued',
         ADD COLUMN accounts_total INTEGER,
         ADD COLUMN phase_started_at TIMESTAMP WITH TIME ZONE,
         ADD COLUMN watermark TEXT,
         ADD COLUMN delete_threshold_percent DOUBLE PRECISION,
         ADD COLUMN guard JSONB,
         ADD COLUMN pause_reason TEXT,
         ADD COLUMN lease_token UUID,
         ADD COLUMN heartbeat_at TIMESTAMP WITH TIME ZONE,
         ADD CONSTRAINT ck_reconciliation_runs_phase CHECK (phase IN ('queued', 'reading', 'expecting', 'classifying', 'guarding', 'awaiting_approval', 'done')),
         ADD CONSTRAINT ck_reconciliation_runs_threshold CHECK (delete_threshold_percent IS NULL OR delete_threshold_percent BETWEEN 0 AND 100)`,
      // The last successful run of a connector (its watermark starts the next delta).
      `CREATE INDEX idx_reconciliation_runs_connector_completed ON reconciliation_runs(connector_id, completed_at DESC) WHERE status = 'completed'`,
      // The sweep: running runs whose worker stopped beating.
      `CREATE INDEX idx_reconciliation_runs_running_heartbeat ON reconciliation_runs(heartbeat_at) WHERE status = 'running'`,

      `CREATE TABLE reconciliation_connector_settings (
        connector_id UUID PRIMARY KEY REFERENCES connectors(id) ON DELETE CASCADE,
        tenant_id UUID NOT NULL REFERENCES tenants(id),
        correlation_rules JSONB NOT NULL DEFAULT '[]'::jsonb,
        delete_threshold_percent DOUBLE PRECISION NOT NULL DEFAULT 20,
        updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
        CONSTRAINT ck_reconciliation_connector_settings_rules CHECK (jsonb_typeof(correlation_rules) = 'array'),
        CONSTRAINT ck_reconciliation_connector_settings_threshold CHECK (delete_threshold_percent BETWEEN 0 AND 100)
      )`,
      `CREATE INDEX idx_reconciliation_connector_settings_tenant ON reconciliation_connector_settings(tenant_id)`,

      // No primary key: a delta page may carry an account again (it changed while being read); the newest
      // (highest seq) wins when classification starts.
      `CREATE UNLOGGED TABLE reconciliation_staged_accounts (
        tenant_id UUID NOT NULL,
        run_id UUID NOT NULL REFERENCES reconciliation_runs(id) ON DELETE CASCADE,
        seq BIGINT NOT NULL,
        external_uid VARCHAR(500) NOT NULL,
        attributes JSONB NOT NULL,
        enabled BOOLEAN,
        modified_at TIMESTAMP WITH TIME ZONE
      )`,
      `CREATE INDEX idx_reconciliation_staged_accounts_run ON reconciliation_staged_accounts(run_id, external_uid)`,
      `CREATE UNLOGGED TABLE reconciliation_expected_accounts (
        tenant_id UUID NOT NULL,
        run_id UUID NOT NULL REFERENCES reconciliation_runs(id) ON DELETE CASCADE,
        identity_id UUID NOT NULL,
        attributes JSONB NOT NULL,
        PRIMARY KEY (run_id, identity_id)
      )`,
      `CREATE UNLOGGED TABLE reconciliation_correlations (
        tenant_id UUID NOT NULL,
        run_id UUID NOT NULL REFERENCES reconciliation_runs(id) ON DELETE CASCADE,
        external_uid VARCHAR(500) NOT NULL,
        rule_index SMALLINT NOT NULL,
        identity_id UUID NOT NULL
      )`,
      `CREATE INDEX idx_reconciliation_correlations_run ON reconciliation_correlations(run_id, external_uid)`,
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      'DROP TABLE reconciliation_correlations',
      'DROP TABLE reconciliation_expected_accounts',
      'DROP TABLE reconciliation_staged_accounts',
      'DROP TABLE reconciliation_connector_settings',
      'DROP INDEX idx_reconciliation_runs_running_heartbeat',
      'DROP INDEX idx_reconciliation_runs_connector_completed',
      `ALTER TABLE reconciliation_runs
         DROP CONSTRAINT ck_reconciliation_runs_threshold,
         DROP CONSTRAINT ck_reconciliation_runs_phase,
         DROP COLUMN heartbeat_at, DROP COLUMN lease_token, DROP COLUMN pause_reason, DROP COLUMN guard,
         DROP COLUMN delete_threshold_percent, DROP COLUMN watermark, DROP COLUMN phase_started_at,
         DROP COLUMN accounts_total, DROP COLUMN phase`,
    ]);
  }
}
