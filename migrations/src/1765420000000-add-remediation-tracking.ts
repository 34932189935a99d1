import { MigrationInterface, QueryRunner } from 'typeorm';
import { execute } from './support/sql';

/**
 * Remediation (seed 002's RemediationResult and ReconciliationAction) as the reconciler performs it:
 *  - a result says where it stands: `pending` while the provisioning queue works the operation it asked
 *    for (toward a target), then `succeeded` or `failed`; `success` is NULL until then. It names its
 *    connector and run (bulk filters), the audit action that asked for it, and the operation;
 *  - a run has a `remediating` phase, between the guard rail and its end.
 */
export class AddRemediationTracking1765420000000 implements MigrationInterface {
  name = 'AddRemediationTracking1765420000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      `ALTER TABLE remediation_results
         ALTER COLUMN success DROP NOT NULL,
         ADD COLUMN connector_id UUID REFERENCES connectors(id) ON DELETE CASCADE,
         ADD COLUMN run_id UUID REFERENCES reconciliation_runs(id) ON DELETE SET NULL,
         ADD COLUMN action_id UUID REFERENCES reconciliation_actions(id) ON DELETE SET NULL,
         ADD COLUMN status VARCHAR(20) NOT NULL DEFAULT 'succeeded',
         ADD COLUMN operation_id UUID,
         ADD COLUMN completed_at TIMESTAMP WITH TIME ZONE,
         ADD COLUMN updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
         ADD CONSTRAINT ck_remediation_results_status CHECK (status IN ('pending', 'succeeded', 'failed')),
         ADD CONSTRAINT ck_remediation_results_success CHECK ((status = 'pending') = (success IS NULL))`,
      `CREATE UNIQUE INDEX uq_remediation_results_operation ON remediation_results(operation_id) WHERE operation_id IS NOT NULL`,
      `CREATE INDEX idx_remediation_results_run ON remediation_results(run_id) WHERE run_id IS NOT NULL`,
      `ALTER TABLE reconciliation_runs DROP CONSTRAINT ck_reconciliation_runs_phase`,
      `ALTER TABLE reconciliation_runs ADD CONSTRAINT ck_reconciliation_runs_phase
         CHECK (phase IN ('queued', 'reading', 'expecting', 'classifying', 'guarding', 'awaiting_approval', 'remediating', 'done'))`,
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      `UPDATE reconciliation_runs SET phase = 'guarding' WHERE phase = 'remediating'`,
      `ALTER TABLE reconciliation_runs DROP CONSTRAINT ck_reconciliation_runs_phase`,
      `ALTER TABLE reconciliation_runs ADD CONSTRAINT ck_reconciliation_runs_phase
         CHECK (phase IN ('queued', 'reading', 'expecting', 'classifying', 'guarding', 'awaiting_approval', 'done'))`,
      'DROP INDEX idx_remediation_results_run',
      'DROP INDEX uq_remediation_results_operation',
      `DELETE FROM remediation_results WHERE success IS NULL`,
      `ALTER TABLE remediation_results
         DROP CONSTRAINT ck_remediation_results_success,
         DROP CONSTRAINT ck_remediation_results_status,
         DROP COLUMN updated_at, DROP COLUMN completed_at, DROP COLUMN operation_id, DROP COLUMN status,
         DROP COLUMN action_id, DROP COLUMN run_id, DROP COLUMN connector_id,
         ALTER COLUMN success SET NOT NULL`,
    ]);
  }
}
