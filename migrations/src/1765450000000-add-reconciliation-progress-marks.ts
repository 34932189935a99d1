import { MigrationInterface, QueryRunner } from 'typeorm';
import { execute } from './support/sql';

/**
 * Moments of a reconciliation run's progress (`progress_marks`), kept by the database whichever replica
 * moves the run: when its first page was staged (`first_page_at`, with `first_page_accounts`) and when
 * each phase ended (`<phase>_ended_at`). The ETA reads its rate from the first page on (not counting the
 * connector's start), and adds what came after reading in the connector's last completed run.
 */
export class AddReconciliationProgressMarks1765450000000 implements MigrationInterface {
  name = 'AddReconciliationProgressMarks1765450000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      `ALTER TABLE reconciliation_runs ADD COLUMN progress_marks JSONB NOT NULL DEFAULT '{}'::jsonb`,
      // clock_timestamp(), not now(): a phase often ends inside the long transaction that did its work.
      `CREATE FUNCTION reconciliation_runs_progress_marks() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.phase IS DISTINCT FROM OLD.phase THEN
           NEW.progress_marks := NEW.progress_marks || jsonb_build_object(OLD.phase || '_ended_at', clock_timestamp());
         END IF;
         IF OLD.accounts_processed = 0 AND NEW.accounts_processed > 0 AND NOT NEW.progress_marks ? 'first_page_at' THEN
           NEW.progress_marks := NEW.progress_marks || jsonb_build_object('first_page_at', clock_timestamp(), 'first_page_accounts', NEW.accounts_processed);
         END IF;
         RETURN NEW;
       END $$`,
      `CREATE TRIGGER trg_reconciliation_runs_progress_marks BEFORE UPDATE OF phase, accounts_processed ON reconciliation_runs
         FOR EACH ROW WHEN (OLD.phase IS DISTINCT FROM NEW.phase OR (OLD.accounts_processed = 0 AND NEW.accounts_processed > 0))
         EXECUTE FUNCTION reconciliation_runs_progress_marks()`,
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      'DROP TRIGGER trg_reconciliation_runs_progress_marks ON reconciliation_runs',
      'DROP FUNCTION reconciliation_runs_progress_marks()',
      'ALTER TABLE reconciliation_runs DROP COLUMN progress_marks',
    ]);
  }
}
