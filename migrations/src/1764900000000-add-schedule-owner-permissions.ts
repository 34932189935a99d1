import { MigrationInterface, QueryRunner } from 'typeorm';
import { execute } from './support/sql';

/**
 * `script_scheduled_jobs.owner_permissions`: the permissions of the caller who last wrote the schedule
 * (its `updated_by`), as their token granted them then. A scheduled run has no caller, so the script's
 * `required_permissions` (seed 004) are checked against these; a run that would lack one is recorded as
 * a skipped execution naming it. Existing schedules start with none (re-save to stamp them).
 */
export class AddScheduleOwnerPermissions1764900000000 implements MigrationInterface {
  name = 'AddScheduleOwnerPermissions1764900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [`ALTER TABLE script_scheduled_jobs ADD COLUMN owner_permissions TEXT[] NOT NULL DEFAULT '{}'`]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, ['ALTER TABLE script_scheduled_jobs DROP COLUMN owner_permissions']);
  }
}
