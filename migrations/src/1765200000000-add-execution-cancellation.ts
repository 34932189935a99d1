import { MigrationInterface, QueryRunner } from 'typeorm';
import { execute } from './support/sql';

/**
 * Cancelling an execution (`POST /executions/{id}/cancel`): who cancelled it (the JWT subject) and when.
 * A `cancelled` execution without `cancelled_by` was ended by the system (none are today).
 */
export class AddExecutionCancellation1765200000000 implements MigrationInterface {
  name = 'AddExecutionCancellation1765200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      `ALTER TABLE script_executions
         ADD COLUMN cancelled_by VARCHAR(255),
         ADD COLUMN cancelled_at TIMESTAMP WITH TIME ZONE`,
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      `ALTER TABLE script_executions DROP COLUMN IF EXISTS cancelled_at, DROP COLUMN IF EXISTS cancelled_by`,
    ]);
  }
}
