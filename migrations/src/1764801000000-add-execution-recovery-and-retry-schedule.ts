import { MigrationInterface, QueryRunner } from 'typeorm';
import { execute } from './support/sql';

/**
 * What the execution worker must know when Redis has lost its queues, kept with the execution:
 * `recovery_count`, how many times the recovery sweep re-queued a run that was abandoned (its worker died
 * or its job was lost), bounded so a run that kills its worker ends failed instead of crash-looping the
 * service; and `next_retry_at`, when the next attempt of a failed event-triggered run is due (on the
 * first attempt's row; NULL when none is due), from which the sweep re-enqueues retries Redis lost.
 */
export class AddExecutionRecoveryAndRetrySchedule1764801000000 implements MigrationInterface {
  name = 'AddExecutionRecoveryAndRetrySchedule1764801000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      `ALTER TABLE script_executions
         ADD COLUMN recovery_count INTEGER NOT NULL DEFAULT 0,
         ADD COLUMN next_retry_at TIMESTAMP WITH TIME ZONE,
         ADD CONSTRAINT ck_script_executions_recovery_count CHECK (recovery_count >= 0)`,
      `CREATE INDEX idx_executions_next_retry ON script_executions(next_retry_at) WHERE next_retry_at IS NOT NULL`,
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await execute(queryRunner, [
      'DROP INDEX idx_executions_next_retry',
      `ALTER TABLE script_executions
         DROP CONSTRAINT ck_script_executions_recovery_count,
         DROP COLUMN next_retry_at,
         DROP COLUMN recovery_count`,
    ]);
  }
}
