import { MigrationInterface, QueryRunner } from 'typeorm';
import { execute } from './support/sql';

/**
 * What firing reconciliation schedules needs beyond seed 002's ReconciliationSchedule:
 *  - on a run: the occurrence of its schedule it was started for (`scheduled_for`), unique per schedule,
 *    so one occurrence never starts two runs, whatever is redelivered;
 *  - on a schedule: `dry_run` (scheduled runs that only report), and what became of its last occurrence
 *    (`last_outcome`: `requested` by the scheduler, then `started` with `last_run_id`, or `skipped` because
 *    the connector had a run in progress or the schedule was disabled meanwhile).
 */
export class AddReconciliationScheduleFiring1765430000000 implements MigrationInterface {
  name = 'AddReconciliationScheduleFiring1765430000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      `ALTER TABLE reconciliation_runs ADD COLUMN scheduled_for TIMESTAMP WITH TIME ZONE`,
      `CREATE UNIQUE INDEX uq_reconciliation_runs_schedule_occurrence ON reconciliation_runs(schedule_id, scheduled_for) WHERE schedule_id IS NOT NULL AND scheduled_for IS NOT NULL`,
      `ALTER TABLE reconciliation_schedules
         ADD COLUMN dry_run BOOLEAN NOT NULL DEFAULT false,
         ADD COLUMN last_outcome VARCHAR(20),
         ADD COLUMN last_run_id UUID REFERENCES reconciliation_runs(id) ON DELETE SET NULL,
         ADD CONSTRAINT ck_reconciliation_schedules_last_outcome CHECK (last_outcome IN ('requested', 'started', 'skipped'))`,
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      'ALTER TABLE reconciliation_schedules DROP CONSTRAINT ck_reconciliation_schedules_last_outcome, DROP COLUMN last_run_id, DROP COLUMN last_outcome, DROP COLUMN dry_run',
      'DROP INDEX uq_reconciliation_runs_schedule_occurrence',
      'ALTER TABLE reconciliation_runs DROP COLUMN scheduled_for',
    ]);
  }
}
